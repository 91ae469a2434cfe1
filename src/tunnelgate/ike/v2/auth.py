"""Pre-shared key authentication (RFC 7296 §2.15). Certificates plug in beside it later."""

from __future__ import annotations

from tunnelgate.crypto.prf import Prf

KEY_PAD = b"Key Pad for IKEv2"


def signed_octets(
    prf: Prf, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_type: int, id_data: bytes
) -> bytes:
    """RealMessage | NonceData of the peer | prf(SK_p, RestOfIDPayload)."""
    rest_of_id = bytes([id_type, 0, 0, 0]) + id_data
    return real_message + peer_nonce + prf(sk_p, rest_of_id)


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)."""
    return prf(prf(psk, KEY_PAD), octets)
