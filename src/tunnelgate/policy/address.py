"""IPv4 addresses as integers, and prefixes/masks as inclusive ranges."""

from __future__ import annotations

ALL_ONES = 0xFFFFFFFF


_OCTETS: dict[str, int] = {str(i): i for i in range(256)}  # no leading zeros, 0-255


def ipv4_int(text: str) -> int:
    """``A.B.C.D`` as a 32-bit integer; ``ValueError`` when it is not a dotted quad."""
    parts = text.split(".")
    if len(parts) != 4:
        raise ValueError(text)
    try:
        octets = _OCTETS
        return (
            (octets[parts[0]] << 24)
            | (octets[parts[1]] << 16)
            | (octets[parts[2]] << 8)
            | octets[parts[3]]
        )
    except KeyError:
        raise ValueError(text) from None


def ipv4_text(value: int) -> str:
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def mask_length(mask: int) -> int | None:
    """Prefix length of a contiguous mask, None when the mask is not contiguous."""
    inverted = ~mask & ALL_ONES
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


def prefix_range(address: int, mask: int) -> tuple[int, int]:
    """The inclusive range ``address/mask`` covers (host bits of ``address`` ignored)."""
    low = address & mask
    return low, low | (~mask & ALL_ONES)


def range_to_prefixes(low: int, high: int) -> list[tuple[int, int]]:
    """The fewest (network, prefix length) pairs that exactly cover ``low..high``."""
    out: list[tuple[int, int]] = []
    while low <= high:
        size = (low & -low).bit_length() - 1 if low else 32
        while size > 0 and low + (1 << size) - 1 > high:
            size -= 1
        out.append((low, 32 - size))
        low += 1 << size
    return out
