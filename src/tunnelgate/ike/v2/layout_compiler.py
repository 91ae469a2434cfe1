"""Layouts compiled to Python functions: the same tables, without the interpreter's overhead.

``encoding.decode_struct``/``encode_struct`` walk a ``Layout``'s rules one method call per
field, with a ``Context`` and a values dict per structure; for the dozen structures of every
IKE message that is most of the codec's time. ``decoder(layout)`` and ``encoder(layout)``
turn the rule tuple into the source of one function per layout (as ``dataclasses`` generates
``__init__``), compiled once and cached on the layout. The generated code does exactly what
the rules do, in the same order, with the same errors (``DecodeError`` on input, ``ValueError``
on output); ``tests/unit/ike/v2/test_layout_compiler.py`` holds both paths to that.

A layout with a rule this compiler does not know (or an inconsistent table, e.g. a sized
``Data`` without its ``SizeOf``) keeps the interpreted path.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from tunnelgate.ike.v2.encoding import (
    _FAMILY_SIZES,
    _NAMED,
    Address,
    AddressFamily,
    AttributeFormat,
    AttributeValue,
    CountOf,
    Data,
    DecodeError,
    Items,
    Layout,
    Length,
    More,
    Reader,
    Reserved,
    SizeOf,
    Spis,
    SpiSize,
    Uint,
    decode_struct,
    encode_struct,
    named,
    put_uint,
)

Decoder = Callable[[Reader, bool, "dict[str, Any] | None"], Any]
Encoder = Callable[[Any, bytearray, bool], None]

_DECODERS: dict[int, tuple[Layout, Decoder]] = {}  # id(layout) -> (layout kept alive, fn)
_ENCODERS: dict[int, tuple[Layout, Encoder]] = {}


class _Unsupported(Exception):
    """The layout cannot be compiled: it keeps the interpreted path."""


def decoder(layout: Layout) -> Decoder:
    """``fn(reader, whole, values)``: what ``decode_struct(layout, reader, whole=whole,
    values=values)`` does."""
    found = _DECODERS.get(id(layout))
    if found is None:
        try:
            fn = _compile_decoder(layout)
        except _Unsupported:

            def fn(r: Reader, whole: bool, values: dict[str, Any] | None) -> Any:
                return decode_struct(layout, r, whole=whole, values=values)

        found = _DECODERS[id(layout)] = (layout, fn)
    return found[1]


def encoder(layout: Layout) -> Encoder:
    """``fn(obj, out, last)``: what ``encode_struct(layout, obj, out, last=last)`` does."""
    found = _ENCODERS.get(id(layout))
    if found is None:
        try:
            fn = _compile_encoder(layout)
        except _Unsupported:

            def fn(obj: Any, out: bytearray, last: bool) -> None:
                encode_struct(layout, obj, out, last=last)

        found = _ENCODERS[id(layout)] = (layout, fn)
    return found[1]


# --------------------------------------------------------------------------- decoding


def _read_uint(target: str, width: int, what: str) -> list[str]:
    """Lines reading a ``width``-octet big-endian integer at ``pos`` into ``target``."""
    if width == 1:
        return [
            "if pos >= end:",
            f"    raise DecodeError(f'{{{what}}}: needs 1 bytes, {{end - pos}} left')",
            f"{target} = data[pos]",
            "pos += 1",
        ]
    return [
        f"stop = pos + {width}",
        "if stop > end:",
        f"    raise DecodeError(f'{{{what}}}: needs {width} bytes, {{end - pos}} left')",
        f"{target} = int.from_bytes(data[pos:stop], 'big')",
        "pos = stop",
    ]


def _compile_decoder(layout: Layout) -> Decoder:
    ns: dict[str, Any] = {
        "DecodeError": DecodeError,
        "named": named,
        "NAMED": _NAMED,
        "FAMILY_SIZES": _FAMILY_SIZES,
        "IPv4Address": IPv4Address,
        "IPv6Address": IPv6Address,
        "CLS": layout.cls,
        "CHECK": layout.check,
        "LAYOUT_NAME": layout.name,
    }
    lines: list[str] = []
    fields: list[str] = []  # value names, in rule order
    sizes: set[str] = set()
    counts: set[str] = set()
    has_length = has_more = has_family = has_af = False

    def const(key: str, value: Any) -> str:
        ns[key] = value
        return key

    for k, rule in enumerate(layout.rules):
        kind = type(rule)
        if kind is Uint:
            assert isinstance(rule, Uint)
            what = const(f"W{k}", rule.name)
            lines += _read_uint("value", rule.width, what)
            if rule.mask is not None:
                lines.append(f"value &= {rule.mask!r}")
            var = f"v_{rule.name}"
            if rule.enum_by is not None:
                source, table = rule.enum_by
                if source not in fields:
                    raise _Unsupported
                lines += [
                    f"enum = {const(f'T{k}', table)}.get(v_{source})",
                    f"{var} = value if enum is None else named(enum, value)",
                ]
            elif rule.enum is not None:
                enum = const(f"E{k}", rule.enum)
                lines += [
                    f"found = NAMED.get(({enum}, value))",
                    f"{var} = named({enum}, value) if found is None else found",
                ]
            else:
                lines.append(f"{var} = value")
            fields.append(rule.name)
        elif kind is Reserved:
            assert isinstance(rule, Reserved)
            lines += [
                f"if pos + {rule.width} > end:",
                f"    raise DecodeError(f'reserved: needs {rule.width} bytes, {{end - pos}} left')",
                f"pos += {rule.width}",
            ]
        elif kind is More:
            assert isinstance(rule, More)
            lines += _read_uint("octet", 1, const(f"W{k}", "last substructure"))
            lines += [
                f"if octet != 0 and octet != {rule.value}:",
                "    raise DecodeError(",
                f"        f'last substructure octet {{octet}}, expected 0 or {rule.value}'",
                "    )",
                "more = octet != 0",
            ]
            has_more = True
        elif kind is Length:
            assert isinstance(rule, Length)
            lines += _read_uint("length", rule.width, const(f"W{k}", "length"))
            lines += [
                "if length < pos - start or start + length > end:",
                "    raise DecodeError(f'length {length} out of bounds')",
                "end = start + length",
            ]
            has_length = True
        elif kind is SizeOf:
            assert isinstance(rule, SizeOf)
            what = const(f"W{k}", f"{rule.target} size")
            lines += _read_uint(f"size_{rule.target}", rule.width, what)
            sizes.add(rule.target)
        elif kind is CountOf:
            assert isinstance(rule, CountOf)
            what = const(f"W{k}", f"{rule.target} count")
            lines += _read_uint(f"count_{rule.target}", rule.width, what)
            counts.add(rule.target)
        elif kind is Data:
            assert isinstance(rule, Data)
            name = const(f"W{k}", rule.name)
            if rule.sized:
                if rule.name not in sizes:
                    raise _Unsupported
                lines.append(f"size = size_{rule.name}")
            else:
                lines.append("size = end - pos")
            conditions = []
            if rule.sizes is not None:
                conditions.append(f"size not in {const(f'S{k}', rule.sizes)}")
            if rule.min_size:
                conditions.append(f"size < {rule.min_size}")
            if rule.max_size is not None:
                conditions.append(f"size > {rule.max_size}")
            if conditions:
                lines += [
                    f"if {' or '.join(conditions)}:",
                    f"    raise DecodeError(f'{{{name}}}: size {{size}} not allowed')",
                ]
            lines += [
                "stop = pos + size",
                "if stop > end:",
                f"    raise DecodeError(f'{{{name}}}: needs {{size}} bytes, {{end - pos}} left')",
                f"v_{rule.name} = data[pos:stop]",
                "pos = stop",
            ]
            fields.append(rule.name)
        elif kind is Items:
            assert isinstance(rule, Items)
            name = const(f"W{k}", rule.name)
            sub = const(f"SUB{k}", decoder(rule.layout))
            lines += [
                "r.pos = pos",
                "r.end = end",
                "items = []",
                "while r.end - r.pos:",
                f"    items.append({sub}(r, False, None))",
                "pos = r.pos",
            ]
            if rule.name in counts:
                lines += [
                    f"if count_{rule.name} != len(items):",
                    "    raise DecodeError(",
                    f"        f'{{{name}}}: count says {{count_{rule.name}}}, '",
                    "        f'found {len(items)}'",
                    "    )",
                ]
            lines += [
                f"if len(items) < {rule.min_items}:",
                f"    raise DecodeError(f'{{{name}}}: at least {rule.min_items} needed')",
                f"v_{rule.name} = tuple(items)",
            ]
            fields.append(rule.name)
        elif kind is SpiSize:
            assert isinstance(rule, SpiSize)
            lines += _read_uint("spi_size", 1, const(f"W{k}", "SPI size"))
            lines += [
                f"if spi_size not in {const(f'S{k}', rule.sizes)}:",
                "    raise DecodeError(f'SPI size {spi_size} not allowed')",
                f"size_{rule.target} = spi_size",
            ]
            sizes.add(rule.target)
        elif kind is Spis:
            assert isinstance(rule, Spis)
            if rule.name not in sizes or rule.name not in counts:
                raise _Unsupported
            lines += [
                f"size, count = size_{rule.name}, count_{rule.name}",
                "if size == 0 and count:",
                "    raise DecodeError(f'{count} SPIs of size 0')",
                "spis = []",
                "for _ in range(count):",
                "    stop = pos + size",
                "    if stop > end:",
                "        raise DecodeError(f'SPI: needs {size} bytes, {end - pos} left')",
                "    spis.append(data[pos:stop])",
                "    pos = stop",
                f"v_{rule.name} = tuple(spis)",
            ]
            fields.append(rule.name)
        elif kind is AddressFamily:
            lines += _read_uint("family", 1, const(f"W{k}", "TS type"))
            lines += [
                "if family not in FAMILY_SIZES:",
                "    raise DecodeError(f'unsupported traffic selector type {family}')",
            ]
            has_family = True
        elif kind is Address:
            assert isinstance(rule, Address)
            if not has_family:
                raise _Unsupported
            name = const(f"W{k}", rule.name)
            lines += [
                "size = FAMILY_SIZES[family]",
                "stop = pos + size",
                "if stop > end:",
                f"    raise DecodeError(f'{{{name}}}: needs {{size}} bytes, {{end - pos}} left')",
                "packed = data[pos:stop]",
                f"v_{rule.name} = IPv4Address(packed) if size == 4 else IPv6Address(packed)",
                "pos = stop",
            ]
            fields.append(rule.name)
        elif kind is AttributeFormat:
            assert isinstance(rule, AttributeFormat)
            lines += _read_uint("word", 2, const(f"W{k}", "attribute type"))
            lines += [
                "af = bool(word & 0x8000)",
                f"v_{rule.name} = named({const(f'E{k}', rule.enum)}, word & 0x7FFF)",
            ]
            fields.append(rule.name)
            has_af = True
        elif kind is AttributeValue:
            assert isinstance(rule, AttributeValue)
            if not has_af:
                lines.append("af = False")
            value_what = const(f"W{k}", "attribute value")
            length_what = const(f"L{k}", "attribute length")
            lines.append("if af:")
            lines += ["    " + line for line in _read_uint(f"v_{rule.name}", 2, value_what)]
            lines.append("else:")
            lines += ["    " + line for line in _read_uint("size", 2, length_what)]
            lines += [
                "    stop = pos + size",
                "    if stop > end:",
                f"        raise DecodeError(f'{{{value_what}}}: needs {{size}} bytes, "
                "{end - pos} left')",
                f"    v_{rule.name} = data[pos:stop]",
                "    pos = stop",
            ]
            fields.append(rule.name)
        else:
            raise _Unsupported
    if len(set(fields)) != len(fields):
        raise _Unsupported
    kwargs = ", ".join(f"{f}=v_{f}" for f in fields)
    merged = ", ".join(f"{f!r}: v_{f}" for f in fields)
    trailing = "pos != end" if has_length else "whole and pos != end"
    lines += [
        f"if {trailing}:",
        "    raise DecodeError(f'{LAYOUT_NAME}: {end - pos} unexpected trailing bytes')",
        "r.pos = pos",
        "r.end = outer_end",
        f"obj = CLS({kwargs}) if values is None else CLS(**{{**values, {merged}}})",
    ]
    if layout.check is not None:
        lines.append("CHECK(obj)")
    if has_more:
        lines += [
            "if more and pos == outer_end:",
            "    raise DecodeError(f'{LAYOUT_NAME}: last substructure says more follow')",
            "if not more and pos != outer_end:",
            "    raise DecodeError(f'{LAYOUT_NAME}: substructure marked last is followed by more')",
        ]
    lines.append("return obj")
    head = [
        "def decode(r, whole, values):",
        "    data = r.data",
        "    start = pos = r.pos",
        "    end = outer_end = r.end",
    ]
    source = "\n".join(head + ["    " + line for line in lines]) + "\n"
    exec(compile(source, f"<decoder of {layout.name}>", "exec"), ns)
    fn: Decoder = ns["decode"]
    return fn


# --------------------------------------------------------------------------- encoding


def _put_uint(value: str, width: int, what: str) -> list[str]:
    limit = 1 << (8 * width)
    return [
        f"if not 0 <= {value} < {limit}:",
        f"    raise ValueError(f'{{{what}}}: {{{value}}} does not fit in {width} octets')",
        f"out += {value}.to_bytes({width}, 'big')",
    ]


def _compile_encoder(layout: Layout) -> Encoder:
    ns: dict[str, Any] = {
        "put_uint": put_uint,
        "FAMILY_SIZES": _FAMILY_SIZES,
        "FAMILY_DIFFERS": "address family differs from the selector's",
    }
    lines: list[str] = []
    length_width = 0
    has_family = has_af = False

    def const(key: str, value: Any) -> str:
        ns[key] = value
        return key

    for k, rule in enumerate(layout.rules):
        kind = type(rule)
        if kind is Uint:
            assert isinstance(rule, Uint)
            what = const(f"W{k}", rule.name)
            lines.append(f"value = int(obj.{rule.name})")
            if rule.mask is not None:
                lines += [
                    f"if value & {~rule.mask!r}:",
                    f"    raise ValueError(f'{{{what}}}: {{value}} sets reserved bits')",
                ]
            lines += _put_uint("value", rule.width, what)
        elif kind is Reserved:
            assert isinstance(rule, Reserved)
            lines.append(f"out += {bytes(rule.width)!r}")
        elif kind is More:
            assert isinstance(rule, More)
            lines.append(f"out.append(0 if last else {rule.value})")
        elif kind is Length:
            assert isinstance(rule, Length)
            if length_width:
                raise _Unsupported
            length_width = rule.width
            lines += ["length_at = len(out)", f"out += {bytes(rule.width)!r}"]
        elif kind is SizeOf or kind is CountOf:
            assert isinstance(rule, SizeOf | CountOf)
            label = "size" if kind is SizeOf else "count"
            what = const(f"W{k}", f"{rule.target} {label}")
            lines.append(f"value = len(obj.{rule.target})")
            lines += _put_uint("value", rule.width, what)
        elif kind is Data:
            assert isinstance(rule, Data)
            name = const(f"W{k}", rule.name)
            lines += [
                f"value = obj.{rule.name}",
                "if type(value) is not bytes:",
                "    value = bytes(value)",
            ]
            conditions = []
            if rule.sizes is not None:
                conditions.append(f"len(value) not in {const(f'S{k}', rule.sizes)}")
            if rule.min_size:
                conditions.append(f"len(value) < {rule.min_size}")
            if rule.max_size is not None:
                conditions.append(f"len(value) > {rule.max_size}")
            if conditions:
                lines += [
                    f"if {' or '.join(conditions)}:",
                    f"    raise ValueError(f'{{{name}}}: size {{len(value)}} not allowed')",
                ]
            lines.append("out += value")
        elif kind is Items:
            assert isinstance(rule, Items)
            name = const(f"W{k}", rule.name)
            sub = const(f"SUB{k}", encoder(rule.layout))
            lines += [
                f"items = obj.{rule.name}",
                f"if len(items) < {rule.min_items}:",
                f"    raise ValueError(f'{{{name}}}: at least {rule.min_items} needed')",
                "final = len(items) - 1",
                "for index, item in enumerate(items):",
                f"    {sub}(item, out, index == final)",
            ]
        elif kind is SpiSize:
            lines.append(f"{const(f'R{k}', rule)}.encode(obj, out, None)")
        elif kind is Spis:
            assert isinstance(rule, Spis)
            lines += [f"for spi in obj.{rule.name}:", "    out += spi"]
        elif kind is AddressFamily:
            assert isinstance(rule, AddressFamily)
            lines += [
                f"family = 7 if obj.{rule.target}.version == 4 else 8",
                "out.append(family)",
            ]
            has_family = True
        elif kind is Address:
            assert isinstance(rule, Address)
            if not has_family:
                raise _Unsupported
            name = const(f"W{k}", rule.name)
            lines += [
                f"packed = obj.{rule.name}.packed",
                "if len(packed) != FAMILY_SIZES[family]:",
                f"    raise ValueError(f'{{{name}}}: {{FAMILY_DIFFERS}}')",
                "out += packed",
            ]
        elif kind is AttributeFormat:
            assert isinstance(rule, AttributeFormat)
            lines += [
                "af = isinstance(obj.value, int)",
                f"value = int(obj.{rule.name})",
                "if value > 0x7FFF or value < 0:",
                "    raise ValueError(f'attribute type {value} does not fit in 15 bits')",
                "out += (value | 0x8000 if af else value).to_bytes(2, 'big')",
            ]
            has_af = True
        elif kind is AttributeValue:
            assert isinstance(rule, AttributeValue)
            if not has_af:
                lines.append("af = False")
            lines += [
                f"value = obj.{rule.name}",
                "if af:",
                "    if type(value) is int and 0 <= value < 65536:",
                "        out += value.to_bytes(2, 'big')",
                "    else:",
                "        put_uint(out, value, 2, 'attribute value')",
                "else:",
                "    put_uint(out, len(value), 2, 'attribute length')",
                "    out += value",
            ]
        else:
            raise _Unsupported
    if length_width:
        name = const("LAYOUT_NAME", layout.name)
        lines += [
            "total = len(out) - start",
            f"if total >= {1 << (8 * length_width)}:",
            f"    raise ValueError(f'{{{name}}}: {{total}} bytes is too long')",
            f"out[length_at : length_at + {length_width}] = total.to_bytes({length_width}, 'big')",
        ]
    head = ["def encode(obj, out, last):", "    start = len(out)"]
    source = "\n".join(head + ["    " + line for line in lines] + ["    return None"]) + "\n"
    exec(compile(source, f"<encoder of {layout.name}>", "exec"), ns)
    fn: Encoder = ns["encode"]
    return fn


__all__ = ["decoder", "encoder"]
