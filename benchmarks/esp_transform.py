"""Benchmark: ESP encapsulate + decapsulate of one packet, per algorithm, on one core.

Run by hand: ``.venv/bin/python benchmarks/esp_transform.py [--packets N] [--size BYTES]``.
Each round is what the two gateways of a tunnel do to one inner packet: the sender
encapsulates it (tunnel mode), the receiver verifies and decrypts it. The figure is the
ceiling of a single-core data plane before any I/O (TUN, sockets) is added; the anchor is
charon's kernel-libipsec iperf3 figure in ``shared/notes/strongswan-peer.md``, measured
through the whole stack, so the ratio only says how much headroom the transform leaves.

When the C fast path is built, a second column measures its ``Sa.seal`` + ``Sa.open`` (the
same transform in ``esp/_fast.c``, called once per packet from Python here).
"""

from __future__ import annotations

import argparse
import os
import time
from ipaddress import IPv4Address

from tunnelgate.crypto import registry
from tunnelgate.esp import fast
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


def measure_c(encryption: str, integrity: str, packets: int, size: int) -> float | None:
    """Packets per second for the C fast path's seal + open (None: not built, or 3DES/AES
    without the C side implementing it)."""
    if not fast.available():
        return None
    transform = _transform(encryption, integrity)
    enc = transform.encryption
    gcm = enc.icv_bytes > 0
    keys = transform.keys
    options = (
        {}
        if gcm
        else {
            "cipher": "aes-cbc" if enc.block_bytes == 16 else "3des-cbc",
            "auth_key": keys.integrity_key,
            "digest": transform.integrity.hash_name or "",
            "icv": transform.integrity.icv_bytes,
        }
    )
    sealer = fast.Sa(keys.encryption_key, transform.spi, True, **options)  # type: ignore[arg-type]
    opener = fast.Sa(keys.encryption_key, transform.spi, False, **options)  # type: ignore[arg-type]
    packet = inner_packet(size)
    start = time.perf_counter()
    for seq in range(1, packets + 1):
        opener.open(sealer.seal(seq, packet, 4))
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
        line = f"{encryption:12} {integrity:8} {rate:10,.0f} packets/s  {mbit:8,.0f} Mbit/s"
        c_rate = measure_c(encryption, integrity, args.packets, args.size)
        if c_rate is not None:
            c_mbit = c_rate * args.size * 8 / 1e6
            line += f"   C: {c_rate:10,.0f} packets/s  {c_mbit:8,.0f} Mbit/s"
        print(line)


if __name__ == "__main__":
    main()
