"""The gateway's I/O shell: the TUN device, UDP 500/4500 and raw ESP sockets, routes.

It only moves bytes between the kernel and the sans-IO ``Gateway`` and re-arms one timer.
Sockets are non-blocking and drained in bursts from the event loop's reader callbacks
(asyncio's ``DatagramProtocol`` is kept off the packet path: it costs ~3× per packet).
Every send survives ``OSError`` (counted by reason): a full buffer or an ICMP error from
an earlier packet never stops the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tunnelgate.daemon.events_log import event_line
from tunnelgate.daemon.routes import RouteError, TunnelRoutes, ip
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import (
    Address,
    RouteAdded,
    RouteRemoved,
    SendIpv4,
    SendUdp,
    WriteTun,
)
from tunnelgate.gateway.path import INTERFACE_MTU
from tunnelgate.net.tun import TunDevice

IPPROTO_ESP = 50
BURST = 256
MAX_DATAGRAM = 65535
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
TUN_MTU = INTERFACE_MTU  # the gateway fragments or answers "too big" itself (path.py)
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DONT, IP_PMTUDISC_DO = 0, 2


class StartError(RuntimeError):
    """The gateway cannot start: a clear sentence for the operator."""


def _buffers(sock: socket.socket) -> None:
    for force, plain in (
        (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF),
        (getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF),
    ):
        try:
            sock.setsockopt(socket.SOL_SOCKET, force or plain, SOCKET_BUFFER_BYTES)
        except OSError:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, plain, SOCKET_BUFFER_BYTES)


def _bind(kind: int, proto: int, address: tuple[str, int], what: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind, proto)
    try:
        sock.setblocking(False)
        _buffers(sock)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartError(
            f"cannot open {what} on {address[0]}: {exc.strerror or exc}; the address of the "
            "configuration's interface must exist on this machine"
        ) from None
    return sock


class PacketIo:
    """Runs ``gateway`` on real sockets and a TUN named ``tun_name``."""

    def __init__(
        self,
        gateway: Gateway,
        tun_name: str,
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.tun_name = tun_name
        self.log = log or (lambda line: print(line, file=sys.stdout, flush=True))
        self.tun: TunDevice | None = None
        self.udp: dict[Address, socket.socket] = {}
        self.raw: dict[str, socket.socket] = {}
        self.icmp: dict[str, socket.socket] = {}
        self.originate: socket.socket | None = None  # IPPROTO_RAW: our own ICMP errors
        self._udp_df: dict[Address, bool] = {}
        self.errors: Counter[str] = Counter()
        self.routes = TunnelRoutes(tun_name)
        self.release_routes = False  # on stop, also remove the fail-closed blackholes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._fds: list[int] = []

    # ------------------------------------------------------------------ lifecycle

    def now(self) -> float:
        return time.monotonic()

    def open(self) -> None:
        """Open every socket and the TUN, route the static crypto ACL destinations into it."""
        self._loop = asyncio.get_running_loop()
        try:
            for nameif, address in sorted(self.gateway.local_addresses.items()):
                if nameif not in self.gateway.engines:
                    continue
                for port in (500, 4500):
                    sock = _bind(socket.SOCK_DGRAM, 0, (address, port), f"UDP {port} ({nameif})")
                    self.udp[(address, port)] = sock
                    self._reader(sock, self._udp_readable, sock, (address, port))
                raw = _bind(socket.SOCK_RAW, IPPROTO_ESP, (address, 0), f"raw ESP ({nameif})")
                raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)  # we build the header
                self.raw[address] = raw
                self._reader(raw, self._raw_readable, raw, address)
                icmp = _bind(
                    socket.SOCK_RAW, socket.IPPROTO_ICMP, (address, 0), f"raw ICMP ({nameif})"
                )
                self.icmp[address] = icmp
                self._reader(icmp, self._icmp_readable, icmp, address)
            self.originate = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.originate.setblocking(False)
            try:
                self.tun = TunDevice(self.tun_name)
            except OSError as exc:
                raise StartError(f"cannot create TUN {self.tun_name}: {exc.strerror}") from None
            with contextlib.suppress(OSError):  # no router solicitations into the tunnel
                Path(f"/proc/sys/net/ipv6/conf/{self.tun_name}/disable_ipv6").write_text("1")
            try:
                ip("link", "set", self.tun_name, "mtu", str(TUN_MTU), "up")
                for prefix in self.gateway.static_routes():
                    self.routes.add(prefix)
            except RouteError as exc:
                raise StartError(str(exc)) from None
            self._reader(self.tun, self._tun_readable)
        except BaseException:
            self.close()
            raise
        self.flush()

    def _reader(
        self, fileobj: socket.socket | TunDevice, callback: Callable[..., None], *args: object
    ) -> None:
        assert self._loop is not None
        fd = fileobj.fileno()
        self._loop.add_reader(fd, callback, *args)
        self._fds.append(fd)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._loop is not None:
            for fd in self._fds:
                self._loop.remove_reader(fd)
        self._fds.clear()
        self.routes.stop(release=self.release_routes)
        for sock in [*self.udp.values(), *self.raw.values(), *self.icmp.values()]:
            sock.close()
        if self.originate is not None:
            self.originate.close()
            self.originate = None
        self.udp.clear()
        self.raw.clear()
        self.icmp.clear()
        if self.tun is not None:
            self.tun.close()
            self.tun = None

    # ------------------------------------------------------------------ readers

    def _tun_readable(self) -> None:
        assert self.tun is not None
        fd, read, receive, now = self.tun.fileno(), os.read, self.gateway.receive_tun, self.now()
        try:
            for _ in range(BURST):
                receive(read(fd, MAX_DATAGRAM), now)
        except BlockingIOError:
            pass
        self.flush()

    def _udp_readable(self, sock: socket.socket, local: Address) -> None:
        receive, now = self.gateway.receive_udp, self.now()
        for _ in range(BURST):
            try:
                data, source = sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:  # e.g. a queued ICMP port unreachable
                self.errors["udp-receive-error"] += 1
                continue
            receive(local, (source[0], source[1]), data, now)
        self.flush()

    def _raw_readable(self, sock: socket.socket, local: str) -> None:
        receive, now = self.gateway.receive_esp, self.now()
        for _ in range(BURST):
            try:
                data, source = sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:
                self.errors["esp-receive-error"] += 1
                continue
            if len(data) < 20:
                continue
            ihl = (data[0] & 0x0F) * 4
            receive(local, source[0], data[ihl:], now)
        self.flush()

    def _icmp_readable(self, sock: socket.socket, local: str) -> None:
        receive, now = self.gateway.receive_icmp, self.now()
        for _ in range(BURST):
            try:
                data = sock.recv(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:
                continue
            receive(local, data, now)
        self.flush()

    # ------------------------------------------------------------------ outputs

    def _send_udp(self, out: SendUdp) -> None:
        sock = self.udp[out.local]
        if self._udp_df.get(out.local, False) != out.df:  # one setsockopt per DF change
            mode = IP_PMTUDISC_DO if out.df else IP_PMTUDISC_DONT
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, mode)
            self._udp_df[out.local] = out.df
        sock.sendto(out.data, out.remote)

    def flush(self) -> None:
        """Carry out the gateway's outputs, log its events, re-arm the timer."""
        gateway = self.gateway
        raw, originate, write = self.raw, self.originate, os.write
        tun_fd = self.tun.fileno() if self.tun is not None else -1
        for out in gateway.outputs():
            kind = type(out)  # the data path's outputs first, by exact type
            try:
                if kind is WriteTun:
                    if tun_fd < 0:
                        self.errors["tun-write"] += 1
                    else:
                        write(tun_fd, out.packet)  # type: ignore[union-attr]
                elif kind is SendIpv4:
                    sock = raw.get(out.local) or originate  # type: ignore[union-attr,arg-type]
                    if sock is not None:
                        sock.sendto(out.packet, (out.remote, 0))  # type: ignore[union-attr]
                elif isinstance(out, SendUdp):
                    self._send_udp(out)
                elif isinstance(out, SendIpv4):
                    sock = raw.get(out.local) or originate
                    if sock is not None:
                        sock.sendto(out.packet, (out.remote, 0))
                elif isinstance(out, WriteTun):
                    if self.tun is None or not self.tun.write(out.packet):
                        self.errors["tun-write"] += 1
                elif isinstance(out, RouteAdded | RouteRemoved):
                    if isinstance(out, RouteAdded):
                        self.routes.add(out.prefix)
                    else:
                        self.routes.remove(out.prefix)
            except BlockingIOError:
                self.errors["tun-write" if kind is WriteTun else "send-buffer-full"] += 1
            except (OSError, KeyError, RouteError, subprocess.TimeoutExpired) as exc:
                if kind is WriteTun and getattr(exc, "errno", None) == errno.EINVAL:
                    self.errors["tun-write"] += 1  # the kernel refused the packet
                else:
                    self.errors[f"send-error-{type(exc).__name__}"] += 1
        now = self.now()
        while (event := gateway.next_event()) is not None:
            self.log(event_line(event, now))
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.gateway.get_timer()
        if when is not None and self._loop is not None:
            delay = max(0.0, when - self.now())
            self._timer = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.gateway.handle_timer(self.now())
        self.flush()


__all__ = ["PacketIo", "StartError", "ip"]
