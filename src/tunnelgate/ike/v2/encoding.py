"""The generic layout engine: encoding rules read by one decoder and one encoder.

As strongSwan's ``encoding/payloads/*.c`` tables, every structure on the wire is a ``Layout``:
the value class it builds and an ordered tuple of rules, one per field. ``decode_struct`` and
``encode_struct`` walk the same tuple in both directions, so a field is described once.

Derived fields (lengths, counts, SPI sizes, "more substructures follow" octets, the traffic
selector type) are not stored in the values: the encoder computes them and the decoder checks them.
Malformed input raises ``DecodeError`` and nothing else; a value that cannot be put on the wire
raises ``ValueError`` from the encoder.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol

from tunnelgate.ike.v2.constants import NotifyType

if TYPE_CHECKING:
    from tunnelgate.ike.v2.message import Header


class DecodeError(Exception):
    """Malformed IKEv2 bytes.

    ``notify`` is the error notify RFC 7296 asks the receiver to send, or ``None`` for a plain
    syntax error (INVALID_SYNTAX where a reply is due at all); ``notify_data`` is that notify's
    data. ``header`` is set by ``decode_message`` once the fixed header could be read, so the
    boundary can address a reply.
    """

    def __init__(
        self, message: str, notify: NotifyType | None = None, notify_data: bytes = b""
    ) -> None:
        super().__init__(message)
        self.notify = notify
        self.notify_data = notify_data
        self.header: Header | None = None


class Reader:
    """A cursor over ``data[pos:end]``; every read is bounds-checked."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, size: int, what: str) -> bytes:
        pos = self.pos
        stop = pos + size
        if stop > self.end:
            raise DecodeError(f"{what}: needs {size} bytes, {self.end - pos} left")
        self.pos = stop
        return self.data[pos:stop]

    def uint(self, width: int, what: str) -> int:
        pos = self.pos
        stop = pos + width
        if stop > self.end:
            raise DecodeError(f"{what}: needs {width} bytes, {self.end - pos} left")
        self.pos = stop
        return int.from_bytes(self.data[pos:stop], "big")


def put_uint(out: bytearray, value: int, width: int, what: str) -> None:
    """Append ``value`` as a big-endian ``width``-octet integer."""
    value = int(value)
    if not 0 <= value < 1 << (8 * width):
        raise ValueError(f"{what}: {value} does not fit in {width} octets")
    out += value.to_bytes(width, "big")


_NAMED: dict[tuple[type[IntEnum], int], int] = {}  # (enum, value) -> what ``named`` gives


def named(enum: type[IntEnum] | None, value: int) -> int:
    """The registry member for ``value`` when there is one, else the plain number (memoised:
    calling an enum class is slow, and the registries are small)."""
    if enum is None:
        return value
    key = (enum, value)
    found = _NAMED.get(key)
    if found is None:
        try:
            found = enum(value)
        except ValueError:
            found = value
        if len(_NAMED) < 65536:  # unregistered numbers come from peers: bound the memo
            _NAMED[key] = found
    return found


class Context:
    """Hidden fields of one structure being decoded or encoded."""

    __slots__ = ("af", "counts", "family", "last", "length_at", "more", "sizes", "start")

    def __init__(self, start: int, last: bool = True) -> None:
        self.start = start
        self.last = last
        self.sizes: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.more: bool | None = None
        self.length_at: tuple[int, int] | None = None
        self.family = 0
        self.af = False


class Rule(Protocol):
    """One field of a layout."""

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None: ...

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None: ...


@dataclass(frozen=True, slots=True)
class Layout:
    """A structure: the class it builds, its rules in wire order, and a check of the result."""

    name: str
    cls: Callable[..., Any]
    rules: tuple[Rule, ...]
    check: Callable[[Any], None] | None = None


def decode_struct(
    layout: Layout, r: Reader, *, whole: bool, values: dict[str, Any] | None = None
) -> Any:
    """Decode one structure at ``r``; ``whole``: it must use every byte up to ``r.end``;
    ``values``: fields known from outside the structure."""
    ctx = Context(r.pos)
    outer_end = r.end
    values = {} if values is None else dict(values)
    for rule in layout.rules:
        rule.decode(r, values, ctx)
    if (whole or ctx.length_at is not None) and r.pos != r.end:
        raise DecodeError(f"{layout.name}: {r.end - r.pos} unexpected trailing bytes")
    r.end = outer_end
    obj = layout.cls(**values)
    if layout.check is not None:
        layout.check(obj)
    if ctx.more is not None:
        if ctx.more and r.pos == r.end:
            raise DecodeError(f"{layout.name}: last substructure says more follow")
        if not ctx.more and r.pos != r.end:
            raise DecodeError(f"{layout.name}: substructure marked last is followed by more")
    return obj


def encode_struct(layout: Layout, obj: Any, out: bytearray, *, last: bool = True) -> None:
    """Append the encoding of ``obj`` to ``out``."""
    ctx = Context(len(out), last)
    for rule in layout.rules:
        rule.encode(obj, out, ctx)
    if ctx.length_at is not None:
        at, width = ctx.length_at
        total = len(out) - ctx.start
        if total >= 1 << (8 * width):
            raise ValueError(f"{layout.name}: {total} bytes is too long")
        out[at : at + width] = total.to_bytes(width, "big")


# --- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Uint:
    """An unsigned integer field, mapped to ``enum`` (or to the enum that ``enum_by`` picks
    from an earlier field) when registered; ``mask`` keeps only the defined bits on input."""

    name: str
    width: int
    enum: type[IntEnum] | None = None
    enum_by: tuple[str, Mapping[int, type[IntEnum]]] | None = None
    mask: int | None = None

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        # Reader.uint and ``named`` inlined: this runs for most fields of every message
        pos = r.pos
        stop = pos + self.width
        if stop > r.end:
            raise DecodeError(f"{self.name}: needs {self.width} bytes, {r.end - pos} left")
        r.pos = stop
        value = int.from_bytes(r.data[pos:stop], "big")
        if self.mask is not None:
            value &= self.mask
        enum = self.enum
        if self.enum_by is not None:
            enum = self.enum_by[1].get(values[self.enum_by[0]])
        if enum is None:
            values[self.name] = value
        else:
            found = _NAMED.get((enum, value))
            values[self.name] = named(enum, value) if found is None else found

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = int(getattr(obj, self.name))
        if self.mask is not None and value & ~self.mask:
            raise ValueError(f"{self.name}: {value} sets reserved bits")
        if not 0 <= value < 1 << (8 * self.width):
            raise ValueError(f"{self.name}: {value} does not fit in {self.width} octets")
        out += value.to_bytes(self.width, "big")


@dataclass(frozen=True, slots=True)
class Reserved:
    """Reserved octets: sent as zero, ignored on input (RFC 7296 §2.5)."""

    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        stop = r.pos + self.width
        if stop > r.end:
            raise DecodeError(f"reserved: needs {self.width} bytes, {r.end - r.pos} left")
        r.pos = stop

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        out += bytes(self.width)


@dataclass(frozen=True, slots=True)
class More:
    """The "0 (last) or N (more)" octet leading proposals (N=2) and transforms (N=3)."""

    value: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        if r.pos >= r.end:
            raise DecodeError(f"last substructure: needs 1 bytes, {r.end - r.pos} left")
        octet = r.data[r.pos]
        r.pos += 1
        if octet not in (0, self.value):
            raise DecodeError(f"last substructure octet {octet}, expected 0 or {self.value}")
        ctx.more = octet != 0

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        out.append(0 if ctx.last else self.value)


@dataclass(frozen=True, slots=True)
class Length:
    """The length of the whole structure in octets; it bounds the fields that follow."""

    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        pos = r.pos
        stop = pos + self.width
        if stop > r.end:
            raise DecodeError(f"length: needs {self.width} bytes, {r.end - pos} left")
        r.pos = stop
        length = int.from_bytes(r.data[pos:stop], "big")
        if length < r.pos - ctx.start or ctx.start + length > r.end:
            raise DecodeError(f"length {length} out of bounds")
        r.end = ctx.start + length
        ctx.length_at = (0, self.width)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        ctx.length_at = (len(out), self.width)
        out += bytes(self.width)


@dataclass(frozen=True, slots=True)
class SizeOf:
    """The octet length of the bytes field ``target``, which a later ``Data`` rule reads."""

    target: str
    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        ctx.sizes[self.target] = r.uint(self.width, f"{self.target} size")

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        put_uint(out, len(getattr(obj, self.target)), self.width, f"{self.target} size")


@dataclass(frozen=True, slots=True)
class CountOf:
    """The number of items of the tuple field ``target``."""

    target: str
    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        ctx.counts[self.target] = r.uint(self.width, f"{self.target} count")

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        put_uint(out, len(getattr(obj, self.target)), self.width, f"{self.target} count")


@dataclass(frozen=True, slots=True)
class Data:
    """A bytes field: sized by an earlier ``SizeOf`` or, when ``sized`` is false, the rest of
    the structure; ``sizes`` lists the only sizes allowed, ``min_size``/``max_size`` bound it."""

    name: str
    sized: bool = False
    sizes: frozenset[int] | None = None
    min_size: int = 0
    max_size: int | None = None

    def _check(self, size: int, error: type[Exception]) -> None:
        if (
            (self.sizes is not None and size not in self.sizes)
            or size < self.min_size
            or (self.max_size is not None and size > self.max_size)
        ):
            raise error(f"{self.name}: size {size} not allowed")

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        pos = r.pos
        size = ctx.sizes[self.name] if self.sized else r.end - pos
        if self.sizes is not None or self.min_size or self.max_size is not None:
            self._check(size, DecodeError)
        stop = pos + size
        if stop > r.end:
            raise DecodeError(f"{self.name}: needs {size} bytes, {r.end - pos} left")
        r.pos = stop
        values[self.name] = r.data[pos:stop]

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = getattr(obj, self.name)
        if type(value) is not bytes:
            value = bytes(value)
        if self.sizes is not None or self.min_size or self.max_size is not None:
            self._check(len(value), ValueError)
        out += value


@dataclass(frozen=True, slots=True)
class Items:
    """A tuple of substructures filling the rest of the structure (checked against an earlier
    ``CountOf`` when the layout has one)."""

    name: str
    layout: Layout
    min_items: int = 0

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        items = []
        layout = self.layout
        while r.end - r.pos:
            items.append(decode_struct(layout, r, whole=False))
        expected = ctx.counts.get(self.name)
        if expected is not None and expected != len(items):
            raise DecodeError(f"{self.name}: count says {expected}, found {len(items)}")
        if len(items) < self.min_items:
            raise DecodeError(f"{self.name}: at least {self.min_items} needed")
        values[self.name] = tuple(items)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        items = getattr(obj, self.name)
        if len(items) < self.min_items:
            raise ValueError(f"{self.name}: at least {self.min_items} needed")
        layout, final = self.layout, len(items) - 1
        for index, item in enumerate(items):
            encode_struct(layout, item, out, last=index == final)


@dataclass(frozen=True, slots=True)
class SpiSize:
    """The common octet size of the SPIs in the tuple field ``target`` (Delete payload)."""

    target: str
    sizes: frozenset[int] = field(default=frozenset({0, 4, 8}))

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        size = r.uint(1, "SPI size")
        if size not in self.sizes:
            raise DecodeError(f"SPI size {size} not allowed")
        ctx.sizes[self.target] = size

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        sizes = {len(spi) for spi in getattr(obj, self.target)} or {0}
        if len(sizes) != 1 or not sizes <= self.sizes:
            raise ValueError(f"{self.target}: SPI sizes {sorted(sizes)} not allowed")
        out.append(sizes.pop())


@dataclass(frozen=True, slots=True)
class Spis:
    """``CountOf`` SPIs of ``SpiSize`` octets each."""

    name: str

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        size, count = ctx.sizes[self.name], ctx.counts[self.name]
        if size == 0 and count:
            raise DecodeError(f"{count} SPIs of size 0")
        values[self.name] = tuple(r.take(size, "SPI") for _ in range(count))

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        for spi in getattr(obj, self.name):
            out += spi


_FAMILY_SIZES = {7: 4, 8: 16}  # TsType -> address octets


@dataclass(frozen=True, slots=True)
class AddressFamily:
    """The traffic selector type octet, derived from the address field ``target``."""

    target: str

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        ts_type = r.uint(1, "TS type")
        if ts_type not in _FAMILY_SIZES:
            raise DecodeError(f"unsupported traffic selector type {ts_type}")
        ctx.family = ts_type

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        out.append(7 if getattr(obj, self.target).version == 4 else 8)
        ctx.family = out[-1]


@dataclass(frozen=True, slots=True)
class Address:
    """An IPv4 or IPv6 address, as the preceding ``AddressFamily`` says."""

    name: str

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        packed = r.take(_FAMILY_SIZES[ctx.family], self.name)
        values[self.name] = ipaddress.ip_address(packed)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        address = getattr(obj, self.name)
        if len(address.packed) != _FAMILY_SIZES[ctx.family]:
            raise ValueError(f"{self.name}: address family differs from the selector's")
        out += address.packed


@dataclass(frozen=True, slots=True)
class AttributeFormat:
    """Attribute Format bit + 15-bit type of a transform attribute (TV when set, TLV when
    clear); the form follows the value: ``int`` is TV, ``bytes`` is TLV."""

    name: str
    enum: type[IntEnum] | None = None

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        word = r.uint(2, "attribute type")
        ctx.af = bool(word & 0x8000)
        values[self.name] = named(self.enum, word & 0x7FFF)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        ctx.af = isinstance(obj.value, int)
        attribute_type = int(getattr(obj, self.name))
        if attribute_type > 0x7FFF or attribute_type < 0:
            raise ValueError(f"attribute type {attribute_type} does not fit in 15 bits")
        put_uint(out, attribute_type | (0x8000 if ctx.af else 0), 2, "attribute type")


@dataclass(frozen=True, slots=True)
class AttributeValue:
    """A TV value (two octets) or a TLV length and value."""

    name: str

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        if ctx.af:
            values[self.name] = r.uint(2, "attribute value")
        else:
            values[self.name] = r.take(r.uint(2, "attribute length"), "attribute value")

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = getattr(obj, self.name)
        if ctx.af:
            put_uint(out, value, 2, "attribute value")
        else:
            put_uint(out, len(value), 2, "attribute length")
            out += value
