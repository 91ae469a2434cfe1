"""NAT traversal in IKEv1 main mode (RFC 3947): the vendor IDs, the NAT-D hashes, the float.

Both sides announce NAT-T in MM1/MM2 (the RFC 3947 vendor ID; a peer that only knows
draft-ietf-ipsec-nat-t-ike-02/03 sends one of ``DRAFT_VIDS`` and is answered in the draft's
dialect: NAT-D as payload type 130, UDP-encapsulated modes 61443/61444), then NAT-D in MM3/MM4
(the peer's address first, then our own, §3.2). When the hashes show a NAT the initiator
floats: MM5 and everything after it go from/to UDP 4500 with the non-ESP marker (§4; the
gateway adds and strips the marker), and the responder follows the port the authenticated
MM5 came from (``may_float``). Quick mode then proposes the UDP-encapsulated modes (§5.2).
NAT-OA (transport mode only) is not sent.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from tunnelgate.ike.v1.constants import PayloadType
from tunnelgate.ike.v1.keymat import digest
from tunnelgate.ike.v1.payloads import NatDPayload, Payload, VidPayload

Address = tuple[str, int]
NAT_T_PORT = 4500  # IKE after the float, and UDP-encapsulated ESP (RFC 3948)
RFC_3947_VID = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # MD5("RFC 3947")
DRAFT_VIDS: tuple[bytes, ...] = (  # MD5 of the draft names; each floats to 4500 with a marker
    bytes.fromhex("cd60464335df21f87cfdb2fc68b6a448"),  # draft-ietf-ipsec-nat-t-ike-02
    bytes.fromhex("90cb80913ebb696e086381b5ec427b1f"),  # draft-ietf-ipsec-nat-t-ike-02\n
    bytes.fromhex("7d9419a65310ca6f2c179d9215529d56"),  # draft-ietf-ipsec-nat-t-ike-03
)


def announces_nat_t(payloads: Sequence[Payload]) -> bool:
    """Whether the peer sent the RFC 3947 vendor ID or a draft one."""
    return nat_t_vid(payloads) is not None


def nat_t_vid(payloads: Sequence[Payload]) -> bytes | None:
    """The NAT-T vendor ID to speak with the peer: RFC 3947 when it sent that one, else the
    newest draft it sent (``DRAFT_VIDS``), else None."""
    sent = {p.data for p in payloads if isinstance(p, VidPayload)}
    if RFC_3947_VID in sent:
        return RFC_3947_VID
    return next((vid for vid in reversed(DRAFT_VIDS) if vid in sent), None)


def floated(peer: Address) -> Address:
    """Where IKE goes after the float: the peer's address, UDP 4500 (RFC 3947 §4)."""
    return (peer[0], NAT_T_PORT)


def may_float(peer: Address, addr: Address, nat_detected: bool) -> bool:
    """Whether a message from ``addr`` may move an ISAKMP SA with ``peer`` there: the same
    address, another port, and NAT-D showed a NAT (the float to 4500, or a NAT's new mapping)."""
    return nat_detected and addr[0] == peer[0] and addr[1] != peer[1]


def nat_d_hash(hash_name: str, cookie_i: bytes, cookie_r: bytes, address: Address) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash (RFC 3947 §3.2)."""
    ip = ipaddress.ip_address(address[0]).packed
    return digest(hash_name, cookie_i + cookie_r + ip + address[1].to_bytes(2, "big"))


def nat_d_payloads(
    hash_name: str,
    cookie_i: bytes,
    cookie_r: bytes,
    local: Address,
    peer: Address,
    *,
    draft: bool = False,
) -> list[NatDPayload]:
    """The NAT-D payloads to send: the peer's address, then ours (RFC 3947 §3.2); payload
    type 130 when ``draft``."""
    kind = PayloadType.NAT_D_DRAFT if draft else PayloadType.NAT_D
    return [
        NatDPayload(nat_d_hash(hash_name, cookie_i, cookie_r, peer), kind),
        NatDPayload(nat_d_hash(hash_name, cookie_i, cookie_r, local), kind),
    ]


def nat_detected(
    payloads: Sequence[Payload],
    hash_name: str,
    cookie_i: bytes,
    cookie_r: bytes,
    local: Address,
    peer: Address,
) -> bool:
    """True when the received NAT-D hashes (if any) do not match the addresses we see."""
    received = [p.data for p in payloads if isinstance(p, NatDPayload)]
    if not received:
        return False
    ours = nat_d_hash(hash_name, cookie_i, cookie_r, local)
    theirs = nat_d_hash(hash_name, cookie_i, cookie_r, peer)
    we_ok = hmac.compare_digest(received[0], ours)
    peer_ok = any(hmac.compare_digest(d, theirs) for d in received[1:])
    return not (we_ok and peer_ok)


__all__ = [
    "DRAFT_VIDS",
    "NAT_T_PORT",
    "RFC_3947_VID",
    "announces_nat_t",
    "floated",
    "may_float",
    "nat_d_hash",
    "nat_d_payloads",
    "nat_detected",
    "nat_t_vid",
]
