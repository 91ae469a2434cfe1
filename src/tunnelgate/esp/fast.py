"""The optional C fast path of the data plane (``_fast.c``): whether it is here, and the
value Python's SA state shares with it.

``_fast`` is built from ``_fast.c`` when the package is installed (a C compiler and
OpenSSL's headers are needed; without them the build skips it) and is used by the daemon
only: the sans-IO cores and every in-memory test run the pure-Python path, which stays the
reference the C code is tested against (``tests/unit/esp/test_fast_path.py``).

Set ``TUNNELGATE_FAST_PATH=0`` in the environment to run the daemon without it.
"""

from __future__ import annotations

import os
import sys
from typing import Protocol

try:
    from tunnelgate.esp import _fast
    from tunnelgate.esp._fast import FastPath, Sa
except ImportError:  # not built here: the Python data path does everything
    _fast = None  # type: ignore[assignment]

UNLIMITED = 2**64 - 1


def available() -> bool:
    """Whether the C fast path is built and not switched off."""
    return _fast is not None and os.environ.get("TUNNELGATE_FAST_PATH", "1") != "0"


class Delegate(Protocol):
    """What ``EspSaState`` shares with a C ``Sa``: the numbers the fast path moves, and the
    limits up to which it may move them (one below a soft or hard point: the packet that
    reaches one always takes Python's path, which emits the event)."""

    seq: int
    packets: int
    bytes: int
    seq_stop: int
    byte_stop: int


def packed_int(address: bytes) -> int:
    """A packed IPv4 address as the C side stores it (network order in a native uint32)."""
    return int.from_bytes(address, sys.byteorder)


__all__ = ["UNLIMITED", "Delegate", "FastPath", "Sa", "available", "packed_int"]
