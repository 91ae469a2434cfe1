"""A Linux TUN device (layer 3, no packet-information header), opened with stdlib ioctls.

The fd is non-blocking: ``read`` returns ``None`` when no packet is waiting, so the device
fits an event loop's reader callback. Creating the device needs CAP_NET_ADMIN.

``vnet_hdr=True`` (the daemon's C fast path, ``esp/_fast.c``, which does the framing) opens it
with ``IFF_VNET_HDR`` and ``TUNSETOFFLOAD`` ``TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6``: every read
and write starts with a 10-byte ``virtio_net_hdr``; reads may be TCP/IPv4 or TCP/IPv6
super-segments of up to 64 KB or packets with a partial checksum, and writes may be GSO
packets. ``write`` adds a zeroed
header (a plain packet, checksums complete).
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUNSETOFFLOAD = 0x400454D0
TUNSETVNETHDRSZ = 0x400454D8
TUN_F_CSUM = 0x01
TUN_F_TSO4 = 0x02
TUN_F_TSO6 = 0x04
VNET_HDR_BYTES = 10
VNET_ZERO = bytes(VNET_HDR_BYTES)  # no GSO, checksum complete
IFNAMSIZ = 16
MAX_PACKET_BYTES = 65535


class TunDevice:
    """One TUN interface ``name``; read and write whole IP packets."""

    def __init__(self, name: str, *, vnet_hdr: bool = False) -> None:
        encoded = name.encode()
        if not encoded or len(encoded) >= IFNAMSIZ:
            raise ValueError(f"interface name {name!r} must be 1 to {IFNAMSIZ - 1} bytes")
        fd = os.open(TUN_PATH, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            flags = IFF_TUN | IFF_NO_PI | (IFF_VNET_HDR if vnet_hdr else 0)
            ifr = struct.pack(f"{IFNAMSIZ}sH", encoded, flags)
            result = fcntl.ioctl(fd, TUNSETIFF, ifr)
            if vnet_hdr:
                fcntl.ioctl(fd, TUNSETVNETHDRSZ, struct.pack("i", VNET_HDR_BYTES))
                fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
        except OSError:
            os.close(fd)
            raise
        self.name = result[:IFNAMSIZ].rstrip(b"\0").decode()
        self._fd: int | None = fd
        self.vnet_hdr = vnet_hdr

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("TUN device is closed")
        return self._fd

    def read(self) -> bytes | None:
        """One packet (with ``vnet_hdr``: one frame, header first), or ``None`` if none is
        waiting."""
        try:
            return os.read(self.fileno(), MAX_PACKET_BYTES + VNET_HDR_BYTES * self.vnet_hdr)
        except BlockingIOError:
            return None

    def write(self, packet: bytes) -> bool:
        """Hand one IP packet to the kernel; ``False`` if it refused it (queue full, invalid)."""
        try:
            os.write(self.fileno(), VNET_ZERO + packet if self.vnet_hdr else packet)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EINVAL):
                return False
            raise
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = ["TunDevice"]
