"""NAT traversal in IKEv1 main mode (RFC 3947): the vendor ID and the NAT-D hashes.

Only detection is done here: both sides announce RFC 3947 in MM1/MM2, then send NAT-D in
MM3/MM4 (the peer's address first, then our own, §3.2). Floating to UDP 4500 from MM5 on
(§4) and the NAT-OA of quick mode (§5.2) come with the NAT-T port work.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

from tunnelgate.ike.v1.keymat import digest
from tunnelgate.ike.v1.payloads import NatDPayload, Payload, VidPayload

Address = tuple[str, int]
RFC_3947_VID = bytes.fromhex("4a131c81070358455c5728f20e95452f")  # MD5("RFC 3947")


def announces_nat_t(payloads: Sequence[Payload]) -> bool:
    """Whether the peer sent the RFC 3947 vendor ID."""
    return any(isinstance(p, VidPayload) and p.data == RFC_3947_VID for p in payloads)


def nat_d_hash(hash_name: str, cookie_i: bytes, cookie_r: bytes, address: Address) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port) with the negotiated hash (RFC 3947 §3.2)."""
    ip = ipaddress.ip_address(address[0]).packed
    return digest(hash_name, cookie_i + cookie_r + ip + address[1].to_bytes(2, "big"))


def nat_d_payloads(
    hash_name: str, cookie_i: bytes, cookie_r: bytes, local: Address, peer: Address
) -> list[NatDPayload]:
    """The NAT-D payloads to send: the peer's address, then ours (RFC 3947 §3.2)."""
    return [
        NatDPayload(nat_d_hash(hash_name, cookie_i, cookie_r, peer)),
        NatDPayload(nat_d_hash(hash_name, cookie_i, cookie_r, local)),
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


__all__ = ["RFC_3947_VID", "announces_nat_t", "nat_d_hash", "nat_d_payloads", "nat_detected"]
