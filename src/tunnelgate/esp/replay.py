"""The RFC 4303 §3.4.3 anti-replay window (32-bit sequence numbers; no ESN yet).

The receiver keeps ``highest`` (the largest sequence number whose ICV verified) and a bitmap
of the ``window_size`` numbers ending at it: bit ``i`` set means ``highest - i`` was accepted.

| sequence number ``seq``                      | ``check``                     |
|----------------------------------------------|-------------------------------|
| 0                                            | rejected (never sent)         |
| above ``highest``                            | new: accepted                 |
| inside the window, bit clear                 | new: accepted                 |
| inside the window, bit set                   | duplicate: rejected           |
| ``highest - seq >= window_size``             | too old: rejected             |

``check`` runs before decryption and never changes state; ``commit`` runs only after the
ICV verified, and re-checks, so a packet that became a duplicate in between (same number
verified twice) is refused rather than counted.
"""

from __future__ import annotations

SEQ_MAX = 2**32 - 1
DEFAULT_WINDOW_SIZE = 64
MIN_WINDOW_SIZE = 32  # RFC 4303 §3.4.3: a window of 32 MUST be supported
MAX_WINDOW_SIZE = 1024  # the largest ASA "replay window-size"


class ReplayWindow:
    """The receive-side window of one inbound SA (a mutable owner)."""

    __slots__ = ("_bitmap", "_highest", "_mask", "window_size")

    def __init__(self, window_size: int = DEFAULT_WINDOW_SIZE) -> None:
        if not MIN_WINDOW_SIZE <= window_size <= MAX_WINDOW_SIZE:
            raise ValueError(
                f"replay window size {window_size} outside {MIN_WINDOW_SIZE}..{MAX_WINDOW_SIZE}"
            )
        self.window_size = window_size
        self._mask = (1 << window_size) - 1
        self._highest = 0  # nothing accepted yet
        self._bitmap = 0

    @property
    def highest(self) -> int:
        """The largest accepted sequence number (0 before the first packet)."""
        return self._highest

    @property
    def bitmap(self) -> int:
        """Bit ``i`` set: ``highest - i`` was accepted (for ``show`` and tests)."""
        return self._bitmap

    def check(self, seq: int) -> bool:
        """Is ``seq`` new and not behind the window? Call before decryption; no state change."""
        _validate(seq)
        if seq == 0:
            return False
        if seq > self._highest:
            return True
        offset = self._highest - seq
        if offset >= self.window_size:
            return False
        return not (self._bitmap >> offset) & 1

    def commit(self, seq: int) -> bool:
        """Record ``seq`` after its ICV verified; False (nothing changed) if no longer valid."""
        if not self.check(seq):
            return False
        if seq > self._highest:
            shift = seq - self._highest
            # a jump past the whole window forgets it (and avoids a 2^32-bit shift)
            self._bitmap = (
                ((self._bitmap << shift) | 1) & self._mask if shift < self.window_size else 1
            )
            self._highest = seq
        else:
            self._bitmap |= 1 << (self._highest - seq)
        return True


def _validate(seq: int) -> None:
    if not 0 <= seq <= SEQ_MAX:
        raise ValueError(f"sequence number {seq} is not a 32-bit value")
