"""IKEv1 / ISAKMP (RFC 2408, RFC 2409, RFC 2407 IPsec DOI, RFC 3947 NAT-T): the wire codec.

``constants`` and ``sa_constants`` hold the IANA registries, ``encoding`` the generic rule
engine, ``attributes`` the TV/TLV SA attributes, ``proposals`` the SA payload with its proposals
and transforms, ``payloads`` the other payload values with their layout tables, and ``message``
the header, the payload chain and the entry points re-exported here (see ``message`` for
encrypted bodies).
"""

from tunnelgate.ike.v1.encoding import DecodeError
from tunnelgate.ike.v1.message import (
    Envelope,
    Header,
    Message,
    decode_envelope,
    decode_header,
    decode_message,
    decode_payloads,
    encode_envelope,
    encode_message,
    encode_payloads,
)

__all__ = [
    "DecodeError",
    "Envelope",
    "Header",
    "Message",
    "decode_envelope",
    "decode_header",
    "decode_message",
    "decode_payloads",
    "encode_envelope",
    "encode_message",
    "encode_payloads",
]
