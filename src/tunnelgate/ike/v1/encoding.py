"""The generic layout engine of the ISAKMP codec: field rules read by one decoder and one encoder.

The same model as ``ike.v2.encoding`` (a ``Layout`` is the value class and its ordered field
rules; ``decode_struct`` and ``encode_struct`` walk the same tuple), restated for IKEv1 because
its errors carry ISAKMP notify types (RFC 2408 §3.14.1) and its substructures differ: no
critical bit, SPIs of any size, a transform's layout chosen by its proposal's protocol.

Derived fields (lengths, counts, SPI sizes, "more substructures follow" octets) are never
stored: the encoder computes them and the decoder checks them. Malformed input raises
``DecodeError`` and nothing else; a value that cannot be put on the wire raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any, Protocol

from tunnelgate.ike.v1.constants import NotifyMessageType

if TYPE_CHECKING:
    from tunnelgate.ike.v1.message import Header


class DecodeError(Exception):
    """Malformed ISAKMP bytes.

    ``notify`` is the error notify RFC 2408 §3.14.1 / §5 names for the fault (PAYLOAD-MALFORMED
    for a plain syntax error); ``notify_data`` is that notify's data (e.g. the offending payload
    type). ``header`` is set once the fixed header could be read, so a reply can be addressed.
    """

    def __init__(
        self,
        message: str,
        notify: NotifyMessageType = NotifyMessageType.PAYLOAD_MALFORMED,
        notify_data: bytes = b"",
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
        if size > self.remaining:
            raise DecodeError(f"{what}: needs {size} bytes, {self.remaining} left")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def uint(self, width: int, what: str) -> int:
        return int.from_bytes(self.take(width, what), "big")


def put_uint(out: bytearray, value: int, width: int, what: str) -> None:
    """Append ``value`` as a big-endian ``width``-octet integer."""
    value = int(value)
    if not 0 <= value < 1 << (8 * width):
        raise ValueError(f"{what}: {value} does not fit in {width} octets")
    out += value.to_bytes(width, "big")


def named(enum: type[IntEnum] | type[IntFlag] | None, value: int) -> int:
    """The registry member for ``value`` when there is one, else the plain number."""
    if enum is not None:
        try:
            return enum(value)
        except ValueError:
            pass
    return value


class Context:
    """Hidden fields of one structure being decoded or encoded."""

    __slots__ = ("counts", "last", "length_at", "more", "sizes", "start")

    def __init__(self, start: int, last: bool = True) -> None:
        self.start = start
        self.last = last
        self.sizes: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.more: bool | None = None
        self.length_at: tuple[int, int] | None = None


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
    layout: Layout, r: Reader, *, whole: bool, values: Mapping[str, Any] | None = None
) -> Any:
    """Decode one structure at ``r``; ``whole``: it must use every byte up to ``r.end``;
    ``values``: fields known from outside the structure (e.g. a variant's payload type)."""
    ctx = Context(r.pos)
    outer_end = r.end
    fields: dict[str, Any] = {} if values is None else dict(values)
    for rule in layout.rules:
        rule.decode(r, fields, ctx)
    if (whole or ctx.length_at is not None) and r.pos != r.end:
        raise DecodeError(f"{layout.name}: {r.end - r.pos} unexpected trailing bytes")
    r.end = outer_end
    obj = layout.cls(**fields)
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
    """An unsigned integer field, mapped to ``enum`` when registered; ``only`` is the set of
    values this codec can interpret and the notify to answer with otherwise."""

    name: str
    width: int
    enum: type[IntEnum] | type[IntFlag] | None = None
    only: tuple[frozenset[int], NotifyMessageType] | None = None

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        value = r.uint(self.width, self.name)
        if self.only is not None and value not in self.only[0]:
            raise DecodeError(f"{self.name} {value} not supported", self.only[1])
        values[self.name] = named(self.enum, value)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = int(getattr(obj, self.name))
        if self.only is not None and value not in self.only[0]:
            raise ValueError(f"{self.name} {value} not supported")
        put_uint(out, value, self.width, self.name)


@dataclass(frozen=True, slots=True)
class Reserved:
    """Reserved octets: sent as zero, ignored on input (RFC 2408 §3)."""

    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        r.take(self.width, "reserved")

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        out += bytes(self.width)


@dataclass(frozen=True, slots=True)
class More:
    """The Next Payload octet chaining proposals (2, RFC 2408 §3.5) and transforms (3, §3.6):
    the substructure's own type when another follows, 0 after the last."""

    value: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        octet = r.uint(1, "next payload")
        if octet not in (0, self.value):
            raise DecodeError(
                f"next payload {octet}, expected 0 or {self.value}",
                NotifyMessageType.INVALID_PAYLOAD_TYPE,
                bytes([octet]),
            )
        ctx.more = octet != 0

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        out.append(0 if ctx.last else self.value)


@dataclass(frozen=True, slots=True)
class Length:
    """The length of the whole structure in octets; it bounds the fields that follow."""

    width: int

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        length = r.uint(self.width, "length")
        if length < r.pos - ctx.start or ctx.start + length > r.end:
            raise DecodeError(f"length {length} out of bounds")
        r.end = ctx.start + length
        ctx.length_at = (0, self.width)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        ctx.length_at = (len(out), self.width)
        out += bytes(self.width)


@dataclass(frozen=True, slots=True)
class SizeOf:
    """The octet length of the bytes field ``target`` (or of each item of a tuple of bytes, the
    SPI Size of a Delete payload), which a later ``Data`` or ``Spis`` rule reads."""

    target: str
    width: int
    each: bool = False

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        ctx.sizes[self.target] = r.uint(self.width, f"{self.target} size")

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = getattr(obj, self.target)
        if self.each:
            sizes = {len(item) for item in value} or {0}
            if len(sizes) != 1:
                raise ValueError(f"{self.target}: sizes {sorted(sizes)} differ")
            size = sizes.pop()
        else:
            size = len(value)
        put_uint(out, size, self.width, f"{self.target} size")


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
    the structure; ``min_size``/``max_size`` bound it."""

    name: str
    sized: bool = False
    min_size: int = 0
    max_size: int | None = None

    def _check(self, size: int, error: type[Exception]) -> None:
        if size < self.min_size or (self.max_size is not None and size > self.max_size):
            raise error(f"{self.name}: size {size} not allowed")

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        size = ctx.sizes[self.name] if self.sized else r.remaining
        self._check(size, DecodeError)
        values[self.name] = r.take(size, self.name)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        value = bytes(getattr(obj, self.name))
        self._check(len(value), ValueError)
        out += value


@dataclass(frozen=True, slots=True)
class Spis:
    """``CountOf`` SPIs of ``SizeOf(each=True)`` octets each (Delete payload, RFC 2408 §3.15)."""

    name: str

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        size, count = ctx.sizes[self.name], ctx.counts[self.name]
        if size == 0 and count:
            raise DecodeError(f"{count} SPIs of size 0", NotifyMessageType.INVALID_SPI)
        values[self.name] = tuple(r.take(size, "SPI") for _ in range(count))

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        for spi in getattr(obj, self.name):
            out += spi


@dataclass(frozen=True, slots=True)
class Items:
    """A tuple of substructures filling the rest of the structure, checked against an earlier
    ``CountOf`` when there is one. The item layout is ``layout``, or the one ``layout_by`` maps
    an earlier field's value to (``layout`` being the fallback)."""

    name: str
    layout: Layout
    min_items: int = 0
    layout_by: tuple[str, Mapping[int, Layout]] | None = None

    def _layout(self, key: Any) -> Layout:
        if self.layout_by is None:
            return self.layout
        return self.layout_by[1].get(int(key), self.layout)

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        layout = self._layout(values[self.layout_by[0]]) if self.layout_by else self.layout
        items = []
        while r.remaining:
            items.append(decode_struct(layout, r, whole=False))
        expected = ctx.counts.get(self.name)
        if expected is not None and expected != len(items):
            raise DecodeError(f"{self.name}: count says {expected}, found {len(items)}")
        if len(items) < self.min_items:
            raise DecodeError(f"{self.name}: at least {self.min_items} needed")
        values[self.name] = tuple(items)

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        layout = self._layout(getattr(obj, self.layout_by[0])) if self.layout_by else self.layout
        items = getattr(obj, self.name)
        if len(items) < self.min_items:
            raise ValueError(f"{self.name}: at least {self.min_items} needed")
        for index, item in enumerate(items):
            encode_struct(layout, item, out, last=index == len(items) - 1)
