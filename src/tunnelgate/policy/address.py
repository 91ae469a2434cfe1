"""Addresses as integers, and prefixes/masks as inclusive ranges.

IPv4 addresses are their 32-bit value; IPv6 addresses are ``IPV6_BASE | value`` (D113), so
one integer line holds both families without overlap: ranges, covering, intersection and
sorting work unchanged, and a range never spans the two families.
"""

from __future__ import annotations

from ipaddress import AddressValueError, IPv6Address

ALL_ONES = 0xFFFFFFFF
IPV6_BASE = 1 << 128  # an IPv6 address's integer: IPV6_BASE | its 128-bit value
IPV6_ONES = (1 << 128) - 1


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


def is_ipv6(value: int) -> bool:
    """Whether an address integer is an IPv6 address (``IPV6_BASE | value``)."""
    return value >= IPV6_BASE


def ipv6_int(text: str) -> int:
    """IPv6 text (RFC 4291 §2.2) as its address integer; ``ValueError`` when it is not."""
    if ":" not in text or "/" in text or "%" in text:
        raise ValueError(text)
    try:
        return IPV6_BASE | int(IPv6Address(text))
    except AddressValueError:
        raise ValueError(text) from None


def address_int(text: str) -> int:
    """IPv4 or IPv6 text as an address integer; ``ValueError`` when it is neither."""
    return ipv6_int(text) if ":" in text else ipv4_int(text)


def address_text(value: int) -> str:
    """An address integer as text: a dotted quad, or RFC 5952 IPv6 text."""
    if value >= IPV6_BASE:
        return str(IPv6Address(value & IPV6_ONES))
    return ipv4_text(value)


def address_bytes(value: int) -> bytes:
    """An address integer as it is on the wire: 4 or 16 bytes."""
    if value >= IPV6_BASE:
        return (value & IPV6_ONES).to_bytes(16, "big")
    return value.to_bytes(4, "big")


def address_from_bytes(data: bytes) -> int:
    """4 or 16 bytes of an address on the wire as its address integer."""
    if len(data) == 16:
        return IPV6_BASE | int.from_bytes(data, "big")
    if len(data) == 4:
        return int.from_bytes(data, "big")
    raise ValueError(f"an address has 4 or 16 bytes, not {len(data)}")


def family_bits(value: int) -> int:
    """The address width of ``value``'s family: 32 or 128."""
    return 128 if value >= IPV6_BASE else 32


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


def network_range(address: int, length: int) -> tuple[int, int]:
    """The inclusive range ``address/length`` covers in ``address``'s family (host bits of
    ``address`` ignored); ``ValueError`` for a length outside 0-32 / 0-128."""
    base = IPV6_BASE if address >= IPV6_BASE else 0
    width = 128 if base else 32
    if not 0 <= length <= width:
        raise ValueError(f"prefix length {length} of a {width}-bit address")
    host = (1 << (width - length)) - 1
    low = (address - base) & ~host
    return base | low, base | low | host


def prefix_length(low: int, high: int) -> int | None:
    """The length of the one prefix that is exactly ``low..high`` (one family), else None."""
    size = high - low + 1
    if size <= 0 or size & (size - 1) or low & (size - 1):
        return None
    return family_bits(low) - (size.bit_length() - 1)


def same_family(a: int, b: int) -> bool:
    """Whether two address integers are of one family."""
    return (a >= IPV6_BASE) == (b >= IPV6_BASE)


def range_to_prefixes(low: int, high: int) -> list[tuple[int, int]]:
    """The fewest (network, prefix length) pairs that exactly cover ``low..high`` (both of
    one family; IPv6 networks come back as address integers too)."""
    base = IPV6_BASE if low >= IPV6_BASE else 0
    width = 128 if base else 32
    low, high = low - base, high - base
    out: list[tuple[int, int]] = []
    while low <= high:
        size = (low & -low).bit_length() - 1 if low else width
        while size > 0 and low + (1 << size) - 1 > high:
            size -= 1
        out.append((base | low, width - size))
        low += 1 << size
    return out
