"""IKEv2 (RFC 7296): the wire codec.

``constants`` holds the IANA registries, ``payloads`` the frozen payload values with their layout
tables, ``encoding`` the generic rule engine, and ``message`` the header, the message and the
entry points re-exported here (see ``message`` for how SK/SKF contents are handled).
"""

from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.message import (
    Header,
    Message,
    decode_header,
    decode_inner_payloads,
    decode_message,
    encode_message,
    encode_plaintext_payloads,
)

__all__ = [
    "DecodeError",
    "Header",
    "Message",
    "decode_header",
    "decode_inner_payloads",
    "decode_message",
    "encode_message",
    "encode_plaintext_payloads",
]
