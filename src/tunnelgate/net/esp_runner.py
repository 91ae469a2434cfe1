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
import contextlib
import json
import os
import signal
import socket
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
TUN_BURST = 256
#: Datagrams read from the UDP socket per reader callback.
UDP_BURST = 256
#: Socket buffer size asked for (SO_RCVBUFFORCE/SO_SNDBUFFORCE when allowed): bursts of a
#: fast sender queue in the kernel instead of being dropped there uncounted.
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
MAX_DATAGRAM_BYTES = 65535

_SendTo = Callable[[bytes, tuple[str, int]], None]


class _Udp(asyncio.DatagramProtocol):
    """An asyncio datagram protocol feeding a runner (the runner itself uses a plain socket)."""

    def __init__(self, runner: EspRunner) -> None:
        self.runner = runner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.runner.attach(self)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.runner.received(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        self.runner.count_drop("udp-error")


def _set_buffer(sock: socket.socket, force: int | None, option: int, size: int) -> None:
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, size)
            return
        except OSError:
            pass  # needs CAP_NET_ADMIN: fall back to the limit-capped option
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, option, size)


def _udp_socket(local: str, port: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``local:port`` with enlarged kernel buffers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        rcv_force = getattr(socket, "SO_RCVBUFFORCE", None)
        snd_force = getattr(socket, "SO_SNDBUFFORCE", None)
        _set_buffer(sock, rcv_force, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
        _set_buffer(sock, snd_force, socket.SO_SNDBUF, SOCKET_BUFFER_BYTES)
        sock.bind((local, port))
    except BaseException:
        sock.close()
        raise
    return sock


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
        send: _SendTo | None = None,
    ) -> None:
        """``send``, if given, sends ESP instead of the runner's own UDP socket (e.g. the IKE
        runner's port 4500); then call ``attach_tun`` rather than ``start``."""
        self.tun, self.sa, self.local, self.peer, self.port = tun, sa, local, peer, port
        self._send = send
        self.clock, self.random = clock, random
        self.counters: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self._udp: _Udp | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = _udp_socket(self.local, self.port)
        self._loop.add_reader(self._sock.fileno(), self.udp_readable)
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
            if self._sock is not None:
                self._loop.remove_reader(self._sock.fileno())
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()

    def count_drop(self, reason: str) -> None:
        self.counters["dropped"] += 1
        self.drops[reason] += 1

    def _sender(self) -> _SendTo | None:
        """How ESP leaves: the ``send`` hook, the own socket, or an attached transport."""
        if self._send is not None:
            return self._send
        if self._sock is not None:
            return cast(_SendTo, self._sock.sendto)
        if self._udp is not None and self._udp.transport is not None:
            return self._udp.transport.sendto
        return None

    def tun_readable(self) -> None:
        """Protect and send up to ``TUN_BURST`` packets waiting on the TUN."""
        fd = self.tun.fileno()
        read = os.read
        now = self.clock()
        send = self._sender()
        outbound = self._outbound
        try:
            for _ in range(TUN_BURST):
                outbound(read(fd, MAX_DATAGRAM_BYTES), now, send)
        except BlockingIOError:
            pass

    def udp_readable(self) -> None:
        """Unprotect up to ``UDP_BURST`` datagrams waiting on the runner's socket."""
        sock = self._sock
        if sock is None:
            return
        recvfrom = sock.recvfrom
        now = self.clock()
        received = self._received
        for _ in range(UDP_BURST):
            try:
                datagram, source = recvfrom(MAX_DATAGRAM_BYTES)
            except BlockingIOError:
                return
            except OSError:  # e.g. a queued ICMP port unreachable
                self.count_drop("udp-error")
                continue
            received(datagram, now, source)

    def outbound(self, packet: bytes) -> None:
        self._outbound(packet, self.clock(), self._sender())

    def _outbound(self, packet: bytes, now: float, send: _SendTo | None) -> None:
        if not packet or packet[0] >> 4 != 4:
            self.count_drop("outbound-not-ipv4")  # e.g. the kernel's IPv6 router solicitations
            return
        result = self.sa.protect(packet, NEXT_HEADER_IPV4, now, self.random)
        if isinstance(result, Dropped):
            self.count_drop(result.reason)
            return
        assert isinstance(result, Protected)
        if send is None:
            self.count_drop("not-started")
            return
        try:
            send(result.esp, (self.peer, self.port))
        except BlockingIOError:
            self.count_drop("udp-send-full")
            return
        except ConnectionRefusedError:
            self.count_drop("udp-refused")
            return
        except OSError:
            self.count_drop("udp-send-error")
            return
        self.counters["protected"] += 1

    def received(self, datagram: bytes, source: tuple[str, int] | None = None) -> None:
        """One UDP payload from port 4500: only ESP for our SA reaches the TUN.

        ``source`` is the sender's (address, port); ESP from any address but the peer's is
        dropped as ``spi-peer-mismatch`` (the ASA "uses the source address and ESP SPI", D69).
        The port is not compared: a NAT in front of the peer may change it.
        """
        self._received(datagram, self.clock(), source)

    def _received(self, datagram: bytes, now: float, source: tuple[str, int] | None) -> None:
        if source is not None and source[0] != self.peer:
            self.count_drop("spi-peer-mismatch")
            return
        kind = classify(datagram)
        if isinstance(kind, Keepalive):
            self.counters["keepalive"] += 1
            return
        if not isinstance(kind, Esp):
            self.count_drop("not-esp")
            return
        result = self.sa.unprotect(kind.packet, now)
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
