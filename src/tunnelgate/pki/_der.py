"""A minimal DER reader (tag, length, value) for the few structures pyca does not parse for
us: the AlgorithmIdentifier of IKEv2 AUTH method 14 and the DN of an ID_DER_ASN1_DN
identity. Definite lengths up to 65535 octets; no crypto here."""

from __future__ import annotations


def tlv(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, value, next offset) of one DER element; ValueError when truncated."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 2 or offset + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    if offset + length > len(data):
        raise ValueError("truncated")
    return tag, data[offset : offset + length], offset + length


def oid_text(value: bytes) -> str:
    if not value:
        raise ValueError("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    current = 0
    for octet in value:
        current = (current << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(current)
            current = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])
