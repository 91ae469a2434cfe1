"""IKEv2 authentication (RFC 7296 §2.15): the signed octets, pre-shared key AUTH, and the wire
side of certificate authentication — CERT and CERTREQ payloads (§3.6, §3.7), the
SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4), and the ID types a certificate identity maps
to (§3.5). Signing, verifying and chain validation live in ``tunnelgate.pki``.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tunnelgate.crypto.prf import Prf
from tunnelgate.ike.v2.constants import AuthMethod, CertEncoding, IdType, NotifyType
from tunnelgate.ike.v2.payloads import CertPayload, CertreqPayload, NotifyPayload, Payload
from tunnelgate.pki.certificates import CertificateError, ca_key_hash, load_certificates
from tunnelgate.pki.credentials import Credentials
from tunnelgate.pki.signatures import IKEV2_HASH_ALGORITHMS

KEY_PAD = b"Key Pad for IKEv2"

# AUTH methods that carry a signature made with the key of a certificate
SIGNATURE_METHODS = frozenset(
    {
        AuthMethod.RSA_DIGITAL_SIGNATURE,
        AuthMethod.ECDSA_SHA_256_P256,
        AuthMethod.ECDSA_SHA_384_P384,
        AuthMethod.ECDSA_SHA_512_P521,
        AuthMethod.DIGITAL_SIGNATURE,
    }
)

# the identity kinds of ``tunnelgate.pki.certificates`` and the ID types that carry them
ID_TYPE_OF_KIND: dict[str, IdType] = {
    "ipv4": IdType.ID_IPV4_ADDR,
    "ipv6": IdType.ID_IPV6_ADDR,
    "fqdn": IdType.ID_FQDN,
    "user-fqdn": IdType.ID_RFC822_ADDR,
    "der-asn1-dn": IdType.ID_DER_ASN1_DN,
    "key-id": IdType.ID_KEY_ID,
}
KIND_OF_ID_TYPE: dict[int, str] = {int(t): kind for kind, t in ID_TYPE_OF_KIND.items()}


# which subjectAltName entries show that a certificate carries an identity of a kind
# (``peer-id-validate cert`` checks an identity only when the certificate carries its kind)
def signed_octets(
    prf: Prf, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_type: int, id_data: bytes
) -> bytes:
    """RealMessage | NonceData of the peer | prf(SK_p, RestOfIDPayload)."""
    rest_of_id = bytes([id_type, 0, 0, 0]) + id_data
    return real_message + peer_nonce + prf(sk_p, rest_of_id)


def psk_auth(prf: Prf, psk: bytes, octets: bytes) -> bytes:
    """AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)."""
    return prf(prf(psk, KEY_PAD), octets)


# --------------------------------------------------------------------------- RFC 7427 notify


def hash_algorithms_notify() -> NotifyPayload:
    """SIGNATURE_HASH_ALGORITHMS with the hashes we sign and verify with (2-octet ids)."""
    data = b"".join(h.to_bytes(2, "big") for h in IKEV2_HASH_ALGORITHMS)
    return NotifyPayload(NotifyType.SIGNATURE_HASH_ALGORITHMS, data)


def peer_hash_algorithms(payloads: Sequence[Payload]) -> frozenset[int]:
    """The hash ids the peer announced (none: it did not send the notify)."""
    out: set[int] = set()
    for p in payloads:
        if isinstance(p, NotifyPayload) and p.notify_type == NotifyType.SIGNATURE_HASH_ALGORITHMS:
            data = p.data[: len(p.data) // 2 * 2]
            out.update(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))
    return frozenset(out)


# --------------------------------------------------------------------------- CERT, CERTREQ


def certreq_payload(credentials: Credentials) -> CertreqPayload | None:
    """CERTREQ naming every CA we trust by the SHA-1 hash of its public key (§3.7)."""
    hashes: list[bytes] = []
    for trust in credentials.trust.values():
        for ca in trust.ca_certificates:
            digest = ca_key_hash(ca)
            if digest not in hashes:
                hashes.append(digest)
    if not hashes:
        return None
    return CertreqPayload(CertEncoding.X509_CERTIFICATE_SIGNATURE, b"".join(hashes))


def certificate_payloads(chain: Sequence[x509.Certificate]) -> list[Payload]:
    """Our chain as CERT payloads, the identity certificate first (§3.6, encoding 4: DER)."""
    return [
        CertPayload(CertEncoding.X509_CERTIFICATE_SIGNATURE, c.public_bytes(Encoding.DER))
        for c in chain
    ]


def peer_chain(payloads: Sequence[Payload]) -> list[x509.Certificate] | str:
    """The certificates of the peer's CERT payloads, its identity certificate first, or why
    there are none usable."""
    certs = [p for p in payloads if isinstance(p, CertPayload)]
    if not certs:
        return "no certificate (CERT payload) with a signature AUTH"
    chain: list[x509.Certificate] = []
    for cert in certs:
        if cert.encoding != CertEncoding.X509_CERTIFICATE_SIGNATURE:
            return f"unsupported certificate encoding {int(cert.encoding)}"
        try:
            loaded = load_certificates(cert.data)
        except (CertificateError, ValueError) as exc:
            return f"the peer's certificate cannot be read: {exc}"
        if len(loaded) != 1:
            return "the peer's certificate cannot be read: not one DER certificate"
        chain.extend(loaded)
    return chain
