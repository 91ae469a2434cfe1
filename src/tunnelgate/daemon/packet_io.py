"""The gateway's I/O shell: the TUN device, UDP 500/4500 and raw ESP sockets, routes.

It only moves bytes between the kernel and the sans-IO ``Gateway`` and re-arms one timer.
Sockets are non-blocking and drained in bursts from the event loop's reader callbacks
(asyncio's ``DatagramProtocol`` is kept off the packet path: it costs ~3× per packet).
Every send survives ``OSError`` (counted by reason): a full buffer or an ICMP error from
an earlier packet never stops the gateway.

ESP in UDP 4500 uses the kernel's UDP segmentation offload both ways (Linux ≥ 4.18/5.0):
the 4500 sockets set ``UDP_GRO`` and split what arrives coalesced by the segment size in
the ``UDP_GRO`` control message; consecutive same-size datagrams of one flush to the same
peer leave in one ``sendmsg`` with a ``UDP_SEGMENT`` control message. Either falls back to
one datagram per call where the kernel refuses it.

When the C fast path is built (``esp/fast.py``), the readers hand their bursts to it: it
reads, seals or opens and sends or writes the packets of flows the gateway has cached and
returns everything else, in order, to the gateway's Python path.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tunnelgate.daemon.events_log import event_line
from tunnelgate.daemon.routes import RouteError, TransportRules, TunnelRoutes, ip
from tunnelgate.esp import fast
from tunnelgate.esp.ipv4 import packed_address
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import (
    Address,
    RouteAdded,
    RouteRemoved,
    SendIpv4,
    SendIpv6,
    SendUdp,
    WriteTun,
)
from tunnelgate.gateway.path import INTERFACE_MTU
from tunnelgate.net.tun import VNET_ZERO, TunDevice

IPPROTO_ESP = 50
BURST = 256
MAX_DATAGRAM = 65535
SOCKET_BUFFER_BYTES = 4 * 1024 * 1024
TUN_MTU = INTERFACE_MTU  # the gateway fragments or answers "too big" itself (path.py)
# IPv6 is not fragmented on the way: the kernel answers "packet too big" for anything over
# this, which fits in one ESP packet of every transform, in UDP 4500, on a 1500-byte path
TUN_IPV6_MTU = 1400
IP_MTU_DISCOVER = getattr(socket, "IP_MTU_DISCOVER", 10)
IP_PMTUDISC_DONT, IP_PMTUDISC_DO = 0, 2
SOL_UDP = 17
UDP_SEGMENT = 103  # linux/udp.h: send one buffer as datagrams of this size (a u16 cmsg)
UDP_GRO = 104  # receive coalesced datagrams, their size in a cmsg (an int)
GSO_MAX_SEGMENTS = 64  # UDP_MAX_SEGMENTS of older kernels (newer ones allow 128)
GSO_MAX_BYTES = 65535 - 20 - 8  # one IPv4 UDP datagram's payload before segmentation
GRO_CMSG_SPACE = socket.CMSG_SPACE(4)
GSO_UNSUPPORTED = (errno.EIO, errno.ENOPROTOOPT, errno.EOPNOTSUPP)  # no offload here


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
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        _buffers(sock)
        if family == socket.AF_INET6 and kind == socket.SOCK_DGRAM:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
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
        on_event: Callable[[object, float], None] | None = None,
        fast_path: bool | None = None,
    ) -> None:
        self.gateway = gateway
        self.tun_name = tun_name
        self.log = log or (lambda line: print(line, file=sys.stdout, flush=True))
        self.on_event = on_event  # e.g. the ASA syslog sink
        self.tun: TunDevice | None = None
        self.udp: dict[Address, socket.socket] = {}
        self.raw: dict[str, socket.socket] = {}
        self.raw6: dict[str, socket.socket] = {}  # native ESP over IPv6 (D114), by address
        self.icmp: dict[str, socket.socket] = {}
        self.originate: socket.socket | None = None  # IPPROTO_RAW: our own ICMP errors
        self._udp_df: dict[Address, bool] = {}
        self.gso = True  # batch ESP-in-UDP sends with UDP_SEGMENT (off once refused)
        self.errors: Counter[str] = Counter()
        self.routes = TunnelRoutes(tun_name)
        self.rules = TransportRules(tun_name)  # transport mode's policy rules (D91)
        self.release_routes = False  # on stop, also remove the fail-closed blackholes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when: float | None = None  # the gateway deadline ``_timer`` is armed for
        self._fds: list[int] = []
        self.use_fast = fast.available() if fast_path is None else fast_path
        self.fast: fast.FastPath | None = None  # the C fast path, once open

    # ------------------------------------------------------------------ lifecycle

    def now(self) -> float:
        return time.monotonic()

    def open(self) -> None:
        """Open every socket and the TUN, route the static crypto ACL destinations into it."""
        self._loop = asyncio.get_running_loop()
        try:
            for nameif, address in sorted(self.gateway.local_addresses.items()):
                if nameif not in self.gateway.ike_interfaces():
                    continue
                for port in (500, 4500):
                    sock = _bind(socket.SOCK_DGRAM, 0, (address, port), f"UDP {port} ({nameif})")
                    self.udp[(address, port)] = sock
                    readable = self._udp_readable
                    if port == 4500:
                        try:
                            sock.setsockopt(SOL_UDP, UDP_GRO, 1)
                            readable = self._udp_gro_readable
                        except OSError:
                            pass  # an old kernel: one datagram per read
                    self._reader(sock, readable, sock, (address, port))
                raw = _bind(socket.SOCK_RAW, IPPROTO_ESP, (address, 0), f"raw ESP ({nameif})")
                raw.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)  # we build the header
                self.raw[address] = raw
                self._reader(raw, self._raw_readable, raw, address)
                icmp = _bind(
                    socket.SOCK_RAW, socket.IPPROTO_ICMP, (address, 0), f"raw ICMP ({nameif})"
                )
                self.icmp[address] = icmp
                self._reader(icmp, self._icmp_readable, icmp, address)
            for nameif, address in sorted(self.gateway.local_addresses6.items()):
                if nameif in self.gateway.ike_interfaces():
                    self._open_ipv6(nameif, address)
            self.originate = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            self.originate.setblocking(False)
            try:
                self.tun = TunDevice(self.tun_name, vnet_hdr=self.use_fast)
            except OSError as exc:
                raise StartError(f"cannot create TUN {self.tun_name}: {exc.strerror}") from None
            self._quiet_ipv6()
            try:
                ip("link", "set", self.tun_name, "mtu", str(TUN_MTU), "up")
                with contextlib.suppress(OSError):  # IPv6 packets the tunnel always fits (D113)
                    Path(f"/proc/sys/net/ipv6/conf/{self.tun_name}/mtu").write_text(
                        str(TUN_IPV6_MTU)
                    )
                for prefix in self.gateway.static_routes():
                    self.routes.add(prefix)
                transport = self.gateway.transport_rules()
                if transport:
                    # decrypted transport packets come out of the TUN from the peer's address,
                    # whose reverse route is not the TUN: no reverse-path filter on it (the
                    # host-wide "all" value still applies, D93)
                    with contextlib.suppress(OSError):
                        Path(f"/proc/sys/net/ipv4/conf/{self.tun_name}/rp_filter").write_text("0")
                    self.rules.add(transport)
            except RouteError as exc:
                raise StartError(str(exc)) from None
            if self.use_fast:
                self._open_fast(self.tun.fileno())
            self._reader(self.tun, self._tun_readable)
        except BaseException:
            self.close()
            raise
        self.flush()

    def _open_ipv6(self, nameif: str, address: str) -> None:
        """UDP 500/4500 and raw ESP on the interface's IPv6 address (D114): the Python path
        reads them (the C fast path speaks IPv4 only)."""
        for port in (500, 4500):
            sock = _bind(socket.SOCK_DGRAM, 0, (address, port), f"UDP {port} ({nameif}, IPv6)")
            self.udp[(address, port)] = sock
            readable = self._udp_readable
            if port == 4500:
                with contextlib.suppress(OSError):
                    sock.setsockopt(SOL_UDP, UDP_GRO, 1)
                    readable = self._udp_gro_python
            self._reader(sock, readable, sock, (address, port))
        raw = _bind(socket.SOCK_RAW, IPPROTO_ESP, (address, 0), f"raw ESP ({nameif}, IPv6)")
        self.raw6[address] = raw
        self._reader(raw, self._raw6_readable, raw, address)

    def _quiet_ipv6(self) -> None:
        """IPv6 on the TUN carries protected IPv6 traffic (D113), and nothing of its own: no
        link-local address (so no router or neighbour solicitations, no MLD reports), no
        router advertisements, no autoconfiguration. Set before the link comes up."""
        conf = Path(f"/proc/sys/net/ipv6/conf/{self.tun_name}")
        for name, value in (
            ("addr_gen_mode", "1"),  # none
            ("accept_ra", "0"),
            ("autoconf", "0"),
            ("dad_transmits", "0"),
            ("router_solicitations", "0"),
            ("disable_ipv6", "0"),
        ):
            with contextlib.suppress(OSError):
                (conf / name).write_text(value)

    def _open_fast(self, tun_fd: int) -> None:
        """Hand the sockets of each local address to the C fast path (``esp/fast.py``)."""
        path = fast.FastPath(tun_fd, vnet_hdr=True)
        for address, raw in self.raw.items():
            udp = self.udp.get((address, 4500))
            if udp is not None:
                path.add_local(fast.packed_int(packed_address(address)), raw.fileno(), udp.fileno())
        self.fast = path
        self.gateway.fast_path = True

    def counters(self) -> dict[str, int]:
        """The shell's own counters: send and receive errors, and what the C fast path
        carried (``fast-sent``, ``fast-received``) and its errors, for
        ``show tunnelgate counters``."""
        counts = Counter(self.errors)
        if self.fast is not None:
            counts.update(self.fast.counts())
        return dict(sorted(counts.items()))

    def _reader(
        self, fileobj: socket.socket | TunDevice, callback: Callable[..., None], *args: object
    ) -> None:
        assert self._loop is not None
        fd = fileobj.fileno()
        self._loop.add_reader(fd, self._guarded, callback, *args)
        self._fds.append(fd)

    def _guarded(self, callback: Callable[..., None], *args: object) -> None:
        """Run one reader or timer callback; a bug on it is counted and logged, never fatal:
        the gateway keeps forwarding (bad input must never crash it)."""
        try:
            callback(*args)
        except Exception as exc:
            self.errors[f"internal-{type(exc).__name__}"] += 1
            self.log(
                json.dumps(
                    {
                        "event": "InternalError",
                        "where": getattr(callback, "__name__", "?"),
                        "error": f"{type(exc).__name__}: {exc}",
                        "count": self.errors[f"internal-{type(exc).__name__}"],
                    }
                )
            )
            with contextlib.suppress(Exception):
                self.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._loop is not None:
            for fd in self._fds:
                self._loop.remove_reader(fd)
        self._fds.clear()
        self.routes.stop(release=self.release_routes)
        self.rules.stop(release=self.release_routes)
        for sock in [*self.udp.values(), *self.raw.values(), *self.raw6.values()]:
            sock.close()
        for sock in self.icmp.values():
            sock.close()
        if self.originate is not None:
            self.originate.close()
            self.originate = None
        self.udp.clear()
        self.raw.clear()
        self.raw6.clear()
        self.icmp.clear()
        self.fast = None
        self.gateway.fast_path = False
        if self.tun is not None:
            self.tun.close()
            self.tun = None

    # ------------------------------------------------------------------ readers

    def _tun_readable(self) -> None:
        assert self.tun is not None
        fd, read, receive, now = self.tun.fileno(), os.read, self.gateway.receive_tun, self.now()
        if self.fast is not None:  # nothing handed back: the gateway has nothing to flush
            if slow := self.fast.tun_burst(self.gateway.fast_flows(), BURST):
                for packet in slow:
                    receive(packet, now)
                self.flush()
            return
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

    def _udp_gro_readable(self, sock: socket.socket, local: Address) -> None:
        """Like ``_udp_readable``; one read may hold several datagrams of one sender, each
        ``size`` bytes (the last one may be shorter), ``size`` from the UDP_GRO cmsg."""
        receive, now = self.gateway.receive_udp, self.now()
        if self.fast is not None:
            spis, passed = self.gateway.fast_inbound()
            if slow := self.fast.udp_burst(sock.fileno(), spis, passed, BURST):
                for item in slow:
                    if len(item) == 2:
                        receive(local, item[0], item[1], now)
                    else:
                        self.gateway.receive_inner(item[2], item[1])  # type: ignore[arg-type]
                self.flush()
            return
        self._udp_gro_python(sock, local)

    def _udp_gro_python(self, sock: socket.socket, local: Address) -> None:
        """``_udp_gro_readable`` without the C fast path (and for IPv6 sockets)."""
        receive, now, space = self.gateway.receive_udp, self.now(), GRO_CMSG_SPACE
        received = 0
        while received < BURST:
            try:
                data, ancdata, _, source = sock.recvmsg(MAX_DATAGRAM, space)
            except BlockingIOError:
                break
            except OSError:
                self.errors["udp-receive-error"] += 1
                received += 1
                continue
            remote = (source[0], source[1])
            size = 0
            for level, kind, value in ancdata:
                if level == SOL_UDP and kind == UDP_GRO and len(value) >= 4:
                    size = int.from_bytes(value[:4], sys.byteorder)
            if 0 < size < len(data):
                for offset in range(0, len(data), size):
                    receive(local, remote, data[offset : offset + size], now)
                received += -(-len(data) // size)
            else:
                receive(local, remote, data, now)
                received += 1
        self.flush()

    def _raw_readable(self, sock: socket.socket, local: str) -> None:
        receive, now = self.gateway.receive_esp, self.now()
        if self.fast is not None:
            spis, passed = self.gateway.fast_inbound()
            if slow := self.fast.esp_burst(sock.fileno(), spis, passed, BURST):
                for item in slow:
                    if len(item) == 2:
                        receive(local, item[0][0], item[1], now)
                    else:
                        self.gateway.receive_inner(item[2], item[1])  # type: ignore[arg-type]
                self.flush()
            return
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

    def _raw6_readable(self, sock: socket.socket, local: str) -> None:
        """Native ESP over IPv6: an IPv6 raw socket reads the payload (SPI onwards)."""
        receive, now = self.gateway.receive_esp, self.now()
        for _ in range(BURST):
            try:
                data, source = sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError:
                self.errors["esp-receive-error"] += 1
                continue
            receive(local, source[0], data, now)
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

    def _udp_socket(self, local: Address, df: bool) -> socket.socket:
        sock = self.udp[local]
        if ":" in local[0]:  # IPv6: routers never fragment; the host does when it must
            return sock
        if self.fast is not None and local[1] == 4500:  # the C side tracks its DF mode
            self.fast.udp_df(fast.packed_int(packed_address(local[0])), df)
            return sock
        if self._udp_df.get(local, False) != df:  # one setsockopt per DF change
            mode = IP_PMTUDISC_DO if df else IP_PMTUDISC_DONT
            sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, mode)
            self._udp_df[local] = df
        return sock

    def _send_udp(self, out: SendUdp) -> None:
        self._udp_socket(out.local, out.df).sendto(out.data, out.remote)

    def _send_segments(self, first: SendUdp, datagrams: list[bytes]) -> None:
        """``datagrams`` from ``first.local`` to ``first.remote`` (all ``len(first.data)``
        bytes but the last, which may be shorter) in one UDP_SEGMENT send, else one by one."""
        if len(datagrams) > 1 and self.gso:
            size = len(first.data)
            try:
                sock = self._udp_socket(first.local, first.df)
                segment = [(SOL_UDP, UDP_SEGMENT, size.to_bytes(2, sys.byteorder))]
                sock.sendmsg([b"".join(datagrams)], segment, 0, first.remote)
                return
            except BlockingIOError:
                self.errors["send-buffer-full"] += len(datagrams)
                return
            except KeyError:
                self.errors["send-error-KeyError"] += len(datagrams)
                return
            except OSError as exc:  # e.g. larger than the path MTU with DF: one by one
                self.errors["gso-fallback"] += 1
                if exc.errno in GSO_UNSUPPORTED:
                    self.gso = False
        for data in datagrams:
            try:
                self._udp_socket(first.local, first.df).sendto(data, first.remote)
            except BlockingIOError:
                self.errors["send-buffer-full"] += 1
            except (OSError, KeyError) as exc:
                self.errors[f"send-error-{type(exc).__name__}"] += 1

    def flush(self) -> None:
        """Carry out the gateway's outputs, log its events, re-arm the timer.

        Consecutive ``SendUdp`` of one flow (local, remote, DF) whose sizes allow it are
        gathered and sent by ``_send_segments`` (UDP GSO) before any other output."""
        gateway = self.gateway
        raw, originate, write = self.raw, self.originate, os.write
        tun_fd = self.tun.fileno() if self.tun is not None else -1
        vnet = self.tun is not None and self.tun.vnet_hdr  # the C fast path's TUN framing
        gso = self.gso
        batch: list[bytes] = []
        first: SendUdp | None = None
        size = total = 0
        for out in gateway.outputs():
            kind = type(out)  # the data path's outputs first, by exact type
            if kind is SendUdp and gso:
                data = out.data  # type: ignore[union-attr]
                if first is not None:
                    if (
                        out.remote == first.remote  # type: ignore[union-attr]
                        and out.local == first.local  # type: ignore[union-attr]
                        and out.df == first.df  # type: ignore[union-attr]
                        and len(data) <= size
                        and len(batch[-1]) == size
                        and len(batch) < GSO_MAX_SEGMENTS
                        and total + len(data) <= GSO_MAX_BYTES
                    ):
                        batch.append(data)
                        total += len(data)
                        continue
                    self._send_segments(first, batch)
                first, batch = out, [data]  # type: ignore[assignment]
                size = total = len(data)
                continue
            if first is not None:
                self._send_segments(first, batch)
                first, batch = None, []
            try:
                if kind is WriteTun:
                    if tun_fd < 0:
                        self.errors["tun-write"] += 1
                    elif vnet:
                        write(tun_fd, VNET_ZERO + out.packet)  # type: ignore[union-attr]
                    else:
                        write(tun_fd, out.packet)  # type: ignore[union-attr]
                elif kind is SendIpv4:
                    sock = raw.get(out.local) or originate  # type: ignore[union-attr,arg-type]
                    if sock is not None:
                        sock.sendto(out.packet, (out.remote, 0))  # type: ignore[union-attr]
                elif kind is SendIpv6:
                    raw6 = self.raw6.get(out.local)  # type: ignore[union-attr,arg-type]
                    if raw6 is None:
                        self.errors["send-error-no-ipv6-socket"] += 1
                    else:
                        raw6.sendto(out.payload, (out.remote, 0))  # type: ignore[union-attr]
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
        if first is not None:
            self._send_segments(first, batch)
        now = self.now()
        while (event := gateway.next_event()) is not None:
            self.log(event_line(event, now))
            if self.on_event is not None:
                self.on_event(event, now)
        self._arm()

    def _arm(self) -> None:
        when = self.gateway.get_timer()
        if self._timer is not None:
            if when == self._timer_when:
                return  # armed for that deadline already (the usual case): keep it
            self._timer.cancel()
            self._timer = None
        if when is not None and self._loop is not None:
            delay = max(0.0, when - self.now())
            self._timer = self._loop.call_later(delay, self._guarded, self._fire)
            self._timer_when = when

    def _fire(self) -> None:
        self._timer = None
        self.gateway.handle_timer(self.now())
        self.flush()


__all__ = ["PacketIo", "StartError", "ip"]
