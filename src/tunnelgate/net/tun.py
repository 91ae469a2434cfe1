"""A Linux TUN device (layer 3, no packet-information header), opened with stdlib ioctls.

The fd is non-blocking: ``read`` returns ``None`` when no packet is waiting, so the device
fits an event loop's reader callback. Creating the device needs CAP_NET_ADMIN.
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
IFNAMSIZ = 16
MAX_PACKET_BYTES = 65535


class TunDevice:
    """One TUN interface ``name``; read and write whole IP packets."""

    def __init__(self, name: str) -> None:
        encoded = name.encode()
        if not encoded or len(encoded) >= IFNAMSIZ:
            raise ValueError(f"interface name {name!r} must be 1 to {IFNAMSIZ - 1} bytes")
        fd = os.open(TUN_PATH, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            ifr = struct.pack(f"{IFNAMSIZ}sH", encoded, IFF_TUN | IFF_NO_PI)
            result = fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError:
            os.close(fd)
            raise
        self.name = result[:IFNAMSIZ].rstrip(b"\0").decode()
        self._fd: int | None = fd

    def fileno(self) -> int:
        if self._fd is None:
            raise ValueError("TUN device is closed")
        return self._fd

    def read(self) -> bytes | None:
        """One packet, or ``None`` if none is waiting."""
        try:
            return os.read(self.fileno(), MAX_PACKET_BYTES)
        except BlockingIOError:
            return None

    def write(self, packet: bytes) -> bool:
        """Hand one IP packet to the kernel; ``False`` if it refused it (queue full, invalid)."""
        try:
            os.write(self.fileno(), packet)
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
