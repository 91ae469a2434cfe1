"""SA data attributes (RFC 2408 §3.3) in their TV and TLV forms, and the two attribute tables.

The first bit of the attribute type word, AF, selects the form: set, the attribute is TV (a
2-octet value in place of the length); clear, it is TLV (a 2-octet length and that many octets).
RFC 2409 App. A and RFC 2407 §4.5 mark each class B(asic: TV only) or V(ariable: TLV, or TV
"if their value can fit into two octets").

``DataAttribute.value`` is an ``int`` for every registered class (mapped to the class's value
registry where it has one) and the raw ``bytes`` of a TLV of an unregistered class. The encoder
picks TV for an ``int`` that fits 16 bits and TLV (4 octets, or more when needed) for a larger
value of a V class; ``tlv_size`` remembers the TLV form and length a value arrived in, so that a
decoded attribute re-encodes byte for byte. It takes no part in equality: a life duration of
28800 is the same attribute whichever form carried it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from tunnelgate.ike.v1.encoding import Context, Layout, Reader, named, put_uint
from tunnelgate.ike.v1.sa_constants import (
    IKE_ATTRIBUTE_VALUE_ENUMS,
    IKE_VARIABLE_ATTRIBUTES,
    IPSEC_ATTRIBUTE_VALUE_ENUMS,
    IPSEC_VARIABLE_ATTRIBUTES,
    IkeAttributeType,
    IpsecAttributeType,
)

AF_TV = 0x8000
TV_MAX = 0xFFFF


@dataclass(frozen=True, slots=True)
class DataAttribute:
    """One SA attribute: ``int`` value for a registered class, ``bytes`` for an opaque TLV;
    ``tlv_size`` is the TLV value length it was decoded with (``None``: TV, or let the
    encoder choose)."""

    attribute_type: int
    value: int | bytes
    tlv_size: int | None = field(default=None, compare=False)

    @property
    def is_tv(self) -> bool:
        """Whether the encoder puts this attribute in the TV form."""
        return isinstance(self.value, int) and self.tlv_size is None and self.value <= TV_MAX


@dataclass(frozen=True, slots=True)
class AttributeTable:
    """The attribute classes of one context (IKE SA or IPsec SA): their registry, which of
    them are V, and the value registry of each class that has one."""

    name: str
    types: type[IntEnum]
    variable: frozenset[int]
    value_enums: Mapping[int, type[IntEnum]]

    def registered(self, attribute_type: int) -> bool:
        return attribute_type in self.types._value2member_map_


IKE_ATTRIBUTES = AttributeTable(
    "IKE SA attribute", IkeAttributeType, IKE_VARIABLE_ATTRIBUTES, IKE_ATTRIBUTE_VALUE_ENUMS
)
IPSEC_ATTRIBUTES = AttributeTable(
    "IPsec SA attribute", IpsecAttributeType, IPSEC_VARIABLE_ATTRIBUTES, IPSEC_ATTRIBUTE_VALUE_ENUMS
)


def tlv_size_for(value: int) -> int:
    """The TLV length the encoder picks for a V value too large for TV: 4 octets (as
    strongSwan and Cisco send a life duration), more for larger numbers."""
    return max(4, (value.bit_length() + 7) // 8)


@dataclass(frozen=True, slots=True)
class AttributeBody:
    """The rule for a whole data attribute: AF bit, 15-bit type, then TV value or TLV."""

    table: AttributeTable

    def decode(self, r: Reader, values: dict[str, Any], ctx: Context) -> None:
        word = r.uint(2, "attribute type")
        attribute_type = word & ~AF_TV
        values["attribute_type"] = named(self.table.types, attribute_type)
        enum = self.table.value_enums.get(attribute_type)
        if word & AF_TV:
            values["value"] = named(enum, r.uint(2, "attribute value"))
            return
        size = r.uint(2, "attribute length")
        raw = r.take(size, "attribute value")
        if self.table.registered(attribute_type):
            values["value"] = named(enum, int.from_bytes(raw, "big"))
            values["tlv_size"] = size
        else:
            values["value"] = raw

    def encode(self, obj: Any, out: bytearray, ctx: Context) -> None:
        attribute_type, value = int(obj.attribute_type), obj.value
        if not 0 <= attribute_type < AF_TV:
            raise ValueError(f"attribute type {attribute_type} does not fit in 15 bits")
        if isinstance(value, bytes):
            if self.table.registered(attribute_type):
                raise ValueError(f"{self.table.name} {attribute_type} takes an int value")
            put_uint(out, attribute_type, 2, "attribute type")
            put_uint(out, len(value), 2, "attribute length")
            out += value
            return
        value = int(value)
        size = obj.tlv_size
        if size is None and 0 <= value <= TV_MAX:
            put_uint(out, AF_TV | attribute_type, 2, "attribute type")
            put_uint(out, value, 2, "attribute value")
            return
        if size is None:
            if attribute_type not in self.table.variable:
                raise ValueError(f"{self.table.name} {attribute_type}: {value} needs TV")
            size = tlv_size_for(value) if value >= 0 else 0
        if not self.table.registered(attribute_type):
            raise ValueError(f"unregistered {self.table.name} {attribute_type}: TLV is bytes")
        put_uint(out, attribute_type, 2, "attribute type")
        put_uint(out, size, 2, "attribute length")
        put_uint(out, value, size, f"{self.table.name} {attribute_type} value")


IKE_ATTRIBUTE = Layout("IKE SA attribute", DataAttribute, (AttributeBody(IKE_ATTRIBUTES),))
IPSEC_ATTRIBUTE = Layout("IPsec SA attribute", DataAttribute, (AttributeBody(IPSEC_ATTRIBUTES),))
