"""Runs one static ``ChildSa`` between a TUN device and UDP port 4500 (the data-plane shell).

Packets read from the TUN are protected and sent to the peer as UDP-encapsulated ESP
(RFC 3948 §2.1: ESP straight after the UDP header, no marker). Datagrams received on
``local:4500`` are classified; ESP is unprotected and accepted non-dummy inner packets are
written to the TUN. Everything else is dropped and counted. The keys are static and given
on the command line (a test shell: IKE-driven SAs come later); they are never logged.

On SIGTERM or SIGINT the runner stops and prints its counters as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, cast

from tunnelgate.esp.child_sa import ChildSa, Dropped, Protected
from tunnelgate.esp.packet import NEXT_HEADER_IPV4, EspKeys, EspTransform
from tunnelgate.esp.sa import Lifetime
from tunnelgate.esp.udp_encap import Esp, Keepalive, classify
from tunnelgate.net.tun import TunDevice

NAT_T_PORT = 4500
#: Packets read from the TUN per reader callback, so one direction cannot starve the other.
TUN_BURST = 64


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, runner: EspRunner) -> None:
        self.runner = runner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.runner.attach(self)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.runner.received(data)

    def error_received(self, exc: Exception) -> None:
        self.runner.count_drop("udp-error")


class EspRunner:
    """Moves packets between ``tun`` and UDP ``local:4500`` <-> ``peer:4500`` through ``sa``."""

    def __init__(
        self,
        tun: TunDevice,
        sa: ChildSa,
        local: str,
        peer: str,
        *,
        port: int = NAT_T_PORT,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[int], bytes] = os.urandom,
        send: Callable[[bytes, tuple[str, int]], None] | None = None,
    ) -> None:
        """``send``, if given, sends ESP instead of the runner's own UDP socket (e.g. the IKE
        runner's port 4500); then call ``attach_tun`` rather than ``start``."""
        self.tun, self.sa, self.local, self.peer, self.port = tun, sa, local, peer, port
        self._send = send
        self.clock, self.random = clock, random
        self.counters: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self._udp: _Udp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.local, self.port)
        )
        self.attach_tun()

    def attach_tun(self) -> None:
        """Start reading the TUN in the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.tun.fileno(), self.tun_readable)

    def attach(self, udp: _Udp) -> None:
        """Use ``udp`` (whose transport is connected) to send ESP."""
        self._udp = udp

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.tun.fileno())
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()

    def count_drop(self, reason: str) -> None:
        self.counters["dropped"] += 1
        self.drops[reason] += 1

    def tun_readable(self) -> None:
        """Protect and send up to ``TUN_BURST`` packets waiting on the TUN."""
        for _ in range(TUN_BURST):
            packet = self.tun.read()
            if packet is None:
                return
            self.outbound(packet)

    def outbound(self, packet: bytes) -> None:
        if not packet or packet[0] >> 4 != 4:
            self.count_drop("outbound-not-ipv4")  # e.g. the kernel's IPv6 router solicitations
            return
        result = self.sa.protect(packet, NEXT_HEADER_IPV4, self.clock(), self.random)
        if isinstance(result, Dropped):
            self.count_drop(result.reason)
            return
        assert isinstance(result, Protected)
        if self._send is not None:
            self._send(result.esp, (self.peer, self.port))
            self.counters["protected"] += 1
            return
        if self._udp is None or self._udp.transport is None:
            self.count_drop("not-started")
            return
        self._udp.transport.sendto(result.esp, (self.peer, self.port))
        self.counters["protected"] += 1

    def received(self, datagram: bytes) -> None:
        """One UDP payload from port 4500: only ESP for our SA reaches the TUN."""
        kind = classify(datagram)
        if isinstance(kind, Keepalive):
            self.counters["keepalive"] += 1
            return
        if not isinstance(kind, Esp):
            self.count_drop("not-esp")
            return
        result = self.sa.unprotect(kind.packet, self.clock())
        if isinstance(result, Dropped):
            self.count_drop(result.reason)
            return
        if result.dummy:
            self.counters["dummy"] += 1
            return
        if result.next_header != NEXT_HEADER_IPV4:
            self.count_drop("not-ipv4")
            return
        if not self.tun.write(result.inner):
            self.count_drop("tun-write")
            return
        self.counters["unprotected"] += 1

    def report(self) -> dict[str, object]:
        """Counters as plain data (no key material)."""
        return {
            "protected": self.counters["protected"],
            "unprotected": self.counters["unprotected"],
            "dropped": self.counters["dropped"],
            "dummy": self.counters["dummy"],
            "keepalive": self.counters["keepalive"],
            "drops": dict(self.drops),
        }


def _spi(text: str) -> int:
    return int(text, 0)


def _key(parser: argparse.ArgumentParser, option: str, text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        parser.error(f"{option} is not valid hex")  # the value itself is never echoed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tunnelgate.net.esp_runner",
        description="Userspace ESP over UDP 4500 between a TUN device and one peer (static keys).",
    )
    parser.add_argument("--tun", required=True, help="TUN interface name to create")
    parser.add_argument("--local", required=True, help="local address to bind UDP 4500 on")
    parser.add_argument("--peer", required=True, help="peer gateway address")
    parser.add_argument("--port", type=int, default=NAT_T_PORT, help=argparse.SUPPRESS)
    parser.add_argument("--out-spi", type=_spi, required=True)
    parser.add_argument("--in-spi", type=_spi, required=True)
    parser.add_argument("--out-key", required=True, help="outbound cipher key (+salt), hex")
    parser.add_argument("--in-key", required=True, help="inbound cipher key (+salt), hex")
    parser.add_argument("--out-integrity-key", default="", help="outbound HMAC key, hex")
    parser.add_argument("--in-integrity-key", default="", help="inbound HMAC key, hex")
    parser.add_argument("--encryption", default="aes-gcm-256")
    parser.add_argument("--integrity", default="null")
    return parser


def build_sa(args: argparse.Namespace, parser: argparse.ArgumentParser, now: float) -> ChildSa:
    """The static child SA described by the command line."""
    keys = {
        name: _key(parser, f"--{name.replace('_', '-')}", getattr(args, name))
        for name in ("out_key", "in_key", "out_integrity_key", "in_integrity_key")
    }
    try:
        outbound = EspTransform.from_keywords(
            args.out_spi,
            args.encryption,
            args.integrity,
            EspKeys(keys["out_key"], keys["out_integrity_key"]),
        )
        inbound = EspTransform.from_keywords(
            args.in_spi,
            args.encryption,
            args.integrity,
            EspKeys(keys["in_key"], keys["in_integrity_key"]),
        )
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    return ChildSa(outbound, inbound, Lifetime(seconds=None, kilobytes=None), now, os.urandom)


async def serve(args: argparse.Namespace, sa: ChildSa) -> EspRunner:
    """Run until SIGTERM/SIGINT; return the stopped runner."""
    tun = TunDevice(args.tun)
    runner = EspRunner(tun, sa, args.local, args.peer, port=args.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.start()
        await stop.wait()
    finally:
        runner.close()
        tun.close()
    return runner


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    sa = build_sa(args, parser, time.monotonic())
    runner = asyncio.run(serve(args, sa))
    sys.stdout.write(json.dumps(runner.report(), sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["NAT_T_PORT", "EspRunner", "build_sa", "main", "serve"]
