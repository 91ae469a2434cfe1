"""Benchmark: ESP encapsulate + decapsulate of one packet, per algorithm, on one core.

Run by hand: ``.venv/bin/python benchmarks/esp_transform.py [--packets N] [--size BYTES]``.
Each round is what the two gateways of a tunnel do to one inner packet: the sender
encapsulates it (tunnel mode), the receiver verifies and decrypts it. The figure is the
ceiling of a single-core data plane before any I/O (TUN, sockets) is added; the anchor is
charon's kernel-libipsec iperf3 figure in ``shared/notes/strongswan-peer.md``, measured
through the whole stack, so the ratio only says how much headroom the transform leaves.
"""

from __future__ import annotations

import argparse
import os
import time
from ipaddress import IPv4Address

from tunnelgate.crypto import registry
from tunnelgate.esp.ipv4 import Ipv4Header
from tunnelgate.esp.packet import EspKeys, EspTransform, decapsulate, tunnel_encapsulate

CASES = (
    ("aes-gcm-256", "null"),
    ("aes-256", "sha-256"),
    ("aes", "sha-1"),
    ("3des", "sha-1"),
)


def inner_packet(size: int) -> bytes:
    """An IPv4/UDP-sized packet of ``size`` bytes from 10.1.0.1 to 10.2.0.1."""
    header = Ipv4Header(
        src=IPv4Address("10.1.0.1"),
        dst=IPv4Address("10.2.0.1"),
        protocol=17,
        total_length=size,
        ident=1,
        df=True,
    )
    return header.build() + bytes(size - 20)


def measure(encryption: str, integrity: str, packets: int, size: int) -> float:
    """Packets per second for encapsulate + decapsulate."""
    transform = _transform(encryption, integrity)
    packet = inner_packet(size)
    start = time.perf_counter()
    for seq in range(1, packets + 1):
        wire = tunnel_encapsulate(transform, seq, packet, os.urandom)
        decapsulate(transform, wire)
    return packets / (time.perf_counter() - start)


def _transform(encryption: str, integrity: str) -> EspTransform:
    enc = registry.encryption(registry.Kind.ESP_V2_ENCRYPTION, encryption)
    integ = registry.integrity_algorithm(registry.Kind.ESP_V2_INTEGRITY, integrity)
    keys = EspKeys(os.urandom(enc.keymat_bytes), os.urandom(integ.key_bytes))
    return EspTransform(0x1000, enc, integ, keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=1400, help="inner packet bytes")
    args = parser.parse_args()
    for encryption, integrity in CASES:
        rate = measure(encryption, integrity, args.packets, args.size)
        mbit = rate * args.size * 8 / 1e6
        print(f"{encryption:12} {integrity:8} {rate:10,.0f} packets/s  {mbit:8,.0f} Mbit/s")


if __name__ == "__main__":
    main()
