"""IKE signature schemes: the AUTH payload of IKEv2 and the SIG payload of IKEv1.

IKEv2 (RFC 7296 §3.8, RFC 4754, RFC 7427):

- When the peer announced SIGNATURE_HASH_ALGORITHMS and shares one of ours (SHA2-256/384/
  512), we sign with method 14 (Digital Signature): 1-octet length, the DER
  AlgorithmIdentifier, the signature. The strongest common hash is used whatever the key
  size. RSA keys sign PKCS#1 v1.5 (``sha*WithRSAEncryption``), EC keys ``ecdsa-with-SHA*``
  with a DER signature (RFC 7427 §3).
- Otherwise the classic methods: 1 (RSA PKCS#1 v1.5 with a SHA-1 DigestInfo) and 9/10/11
  (ECDSA P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, signature r||s with fixed-width
  halves, RFC 4754 §7).
- Verification accepts methods 1, 9, 10, 11 and 14 with ``sha{256,384,512}WithRSA``,
  ``ecdsa-with-SHA{256,384,512}`` and RSASSA-PSS (parameters read from the
  AlgorithmIdentifier; RFC 7427 appendix A.4, RFC 8247). SHA-1 in method 14 is refused
  (RFC 8247: MUST NOT).

IKEv1 (RFC 2409 §5.1, RFC 4754 §7):

- RSA (auth method 3, "RSA signatures"): PKCS#1 v1.5 block type 1 over HASH_I/HASH_R as
  is, without a DigestInfo — what Cisco and strongSwan (``SIGN_RSA_EMSA_PKCS1_NULL``) do.
  pyca cannot sign without a digest, so signing goes through the small ctypes helper in
  ``_openssl_raw`` (the one operation pyca does not expose); verification uses pyca's
  ``recover_data_from_signature`` and a constant-time comparison.
- ECDSA (auth methods 9/10/11 per the key's curve): following strongSwan, our interop
  peer — ``pubkey_v1_authenticator.c`` signs with ``SIGN_ECDSA_WITH_NULL`` and
  ``keymat_v1.c`` ``get_hash`` leaves the scheme alone — HASH_I/HASH_R is used directly as
  the ECDSA digest (it is *not* hashed again with SHA-256/384/512; the usual ECDSA
  truncation to the order's bit length applies), and the signature is r||s, each half the
  curve's coordinate size (RFC 4754 encoding).

Verification functions return ``None`` when valid, otherwise a specific reason for logs;
they never raise on peer input.
"""

from __future__ import annotations

import hmac

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from tunnelgate.pki._der import oid_text as _oid_text
from tunnelgate.pki._der import tlv as _tlv
from tunnelgate.pki._openssl_raw import RawRsaUnavailable, rsa_sign_pkcs1_no_digest
from tunnelgate.pki.credentials import SigningKey


class SignatureError(Exception):
    """We cannot sign with this key (unsupported key type or curve, no raw RSA)."""


# --------------------------------------------------------------------------- constants

# IKEv2 AUTH methods (RFC 7296 §3.8, RFC 4754, RFC 7427)
AUTH_RSA_SIGNATURE = 1
AUTH_ECDSA_256 = 9
AUTH_ECDSA_384 = 10
AUTH_ECDSA_521 = 11
AUTH_DIGITAL_SIGNATURE = 14

# IKEv1 authentication methods (RFC 2409 appendix A, RFC 4754 §7)
IKEV1_RSA_SIGNATURES = 3

# RFC 7427 hash algorithm numbers
HASH_SHA1, HASH_SHA256, HASH_SHA384, HASH_SHA512 = 1, 2, 3, 4
IKEV2_HASH_ALGORITHMS: tuple[int, ...] = (HASH_SHA256, HASH_SHA384, HASH_SHA512)

_HASHES: dict[int, type[hashes.HashAlgorithm]] = {
    HASH_SHA1: hashes.SHA1,
    HASH_SHA256: hashes.SHA256,
    HASH_SHA384: hashes.SHA384,
    HASH_SHA512: hashes.SHA512,
}

# curve name -> (RFC 4754 method, its hash, coordinate size in octets)
_ECDSA_CURVES: dict[str, tuple[int, type[hashes.HashAlgorithm], int]] = {
    "secp256r1": (AUTH_ECDSA_256, hashes.SHA256, 32),
    "secp384r1": (AUTH_ECDSA_384, hashes.SHA384, 48),
    "secp521r1": (AUTH_ECDSA_521, hashes.SHA512, 66),
}
_CURVE_OF_METHOD = {method: name for name, (method, _, _) in _ECDSA_CURVES.items()}
_CURVE_LABEL = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}

# RFC 7427 appendix A AlgorithmIdentifier encodings we emit (and recognise)
_RSA_ALGORITHM_IDENTIFIERS: dict[int, bytes] = {
    HASH_SHA256: bytes.fromhex("300d06092a864886f70d01010b0500"),
    HASH_SHA384: bytes.fromhex("300d06092a864886f70d01010c0500"),
    HASH_SHA512: bytes.fromhex("300d06092a864886f70d01010d0500"),
}
_ECDSA_ALGORITHM_IDENTIFIERS: dict[int, bytes] = {
    HASH_SHA256: bytes.fromhex("300a06082a8648ce3d040302"),
    HASH_SHA384: bytes.fromhex("300a06082a8648ce3d040303"),
    HASH_SHA512: bytes.fromhex("300a06082a8648ce3d040304"),
}

# dotted OIDs -> (kind, hash number)
_SIGNATURE_OIDS: dict[str, tuple[str, int]] = {
    "1.2.840.113549.1.1.5": ("rsa", HASH_SHA1),
    "1.2.840.113549.1.1.11": ("rsa", HASH_SHA256),
    "1.2.840.113549.1.1.12": ("rsa", HASH_SHA384),
    "1.2.840.113549.1.1.13": ("rsa", HASH_SHA512),
    "1.2.840.10045.4.1": ("ecdsa", HASH_SHA1),
    "1.2.840.10045.4.3.2": ("ecdsa", HASH_SHA256),
    "1.2.840.10045.4.3.3": ("ecdsa", HASH_SHA384),
    "1.2.840.10045.4.3.4": ("ecdsa", HASH_SHA512),
}
_RSASSA_PSS = "1.2.840.113549.1.1.10"
_MGF1 = "1.2.840.113549.1.1.8"
_HASH_OIDS: dict[str, int] = {
    "1.3.14.3.2.26": HASH_SHA1,
    "2.16.840.1.101.3.4.2.1": HASH_SHA256,
    "2.16.840.1.101.3.4.2.2": HASH_SHA384,
    "2.16.840.1.101.3.4.2.3": HASH_SHA512,
}
_HASH_NAMES = {HASH_SHA1: "SHA-1", HASH_SHA256: "SHA-256", HASH_SHA384: "SHA-384",
               HASH_SHA512: "SHA-512"}  # fmt: skip

# ECDSA over a precomputed digest (IKEv1): pyca's Prehashed checks the digest length only
_PREHASH_BY_LENGTH: dict[int, type[hashes.HashAlgorithm]] = {
    20: hashes.SHA1,
    28: hashes.SHA224,
    32: hashes.SHA256,
    48: hashes.SHA384,
    64: hashes.SHA512,
}


# --------------------------------------------------------------------------- IKEv2


def ikev2_sign(key: SigningKey, octets: bytes, peer_hashes: frozenset[int]) -> tuple[int, bytes]:
    """(AUTH method, AUTH data) signing ``octets`` (RFC 7296 §2.15 signed octets).

    Method 14 with the strongest hash shared with ``peer_hashes`` (from the peer's
    SIGNATURE_HASH_ALGORITHMS notify); otherwise method 1 (RSA) or 9/10/11 (ECDSA by curve).
    """
    common = [h for h in IKEV2_HASH_ALGORITHMS if h in peer_hashes]
    if isinstance(key, rsa.RSAPrivateKey):
        if common:
            number = max(common)
            signature = key.sign(octets, padding.PKCS1v15(), _HASHES[number]())
            return AUTH_DIGITAL_SIGNATURE, _method14(_RSA_ALGORITHM_IDENTIFIERS[number], signature)
        return AUTH_RSA_SIGNATURE, key.sign(octets, padding.PKCS1v15(), hashes.SHA1())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        method, hash_type, size = _curve(key.curve)
        if common:
            number = max(common)
            signature = key.sign(octets, ec.ECDSA(_HASHES[number]()))
            return AUTH_DIGITAL_SIGNATURE, _method14(
                _ECDSA_ALGORITHM_IDENTIFIERS[number], signature
            )
        return method, _raw_rs(key.sign(octets, ec.ECDSA(hash_type())), size)
    raise SignatureError(f"unsupported key type {type(key).__name__}: RSA or ECDSA keys only")


def ikev2_verify(
    public_key: PublicKeyTypes, method: int, auth_data: bytes, octets: bytes
) -> str | None:
    """None when ``auth_data`` is a valid signature of ``octets`` by ``public_key`` under
    AUTH ``method``; otherwise why not."""
    if method == AUTH_RSA_SIGNATURE:
        if not isinstance(public_key, rsa.RSAPublicKey):
            return f"AUTH method 1 (RSA) but the certificate has {_key_label(public_key)}"
        return _verify_rsa(public_key, auth_data, octets, padding.PKCS1v15(), hashes.SHA1())
    if method in _CURVE_OF_METHOD:
        wanted = _CURVE_LABEL[_CURVE_OF_METHOD[method]]
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            return (
                f"ECDSA method {method} needs a {wanted} key, "
                f"the certificate has {_key_label(public_key)}"
            )
        if public_key.curve.name != _CURVE_OF_METHOD[method]:
            return (
                f"ECDSA method {method} needs a {wanted} key, "
                f"the certificate has {_key_label(public_key)}"
            )
        _, hash_type, size = _ECDSA_CURVES[public_key.curve.name]
        return _verify_ecdsa_raw(public_key, auth_data, size, octets, ec.ECDSA(hash_type()))
    if method == AUTH_DIGITAL_SIGNATURE:
        return _verify_method14(public_key, auth_data, octets)
    return f"unsupported AUTH method {method} for a certificate"


def _method14(algorithm_identifier: bytes, signature: bytes) -> bytes:
    return bytes([len(algorithm_identifier)]) + algorithm_identifier + signature


def _verify_method14(public_key: PublicKeyTypes, auth_data: bytes, octets: bytes) -> str | None:
    if not auth_data:
        return "AUTH method 14 with empty authentication data"
    length = auth_data[0]
    if len(auth_data) < 1 + length:
        return "AUTH method 14: the AlgorithmIdentifier is longer than the AUTH data"
    identifier, signature = auth_data[1 : 1 + length], auth_data[1 + length :]
    try:
        oid, parameters = _parse_algorithm_identifier(identifier)
    except ValueError as exc:
        return f"AUTH method 14: malformed AlgorithmIdentifier ({exc})"
    if oid == _RSASSA_PSS:
        if not isinstance(public_key, rsa.RSAPublicKey):
            return (
                f"AUTH method 14 names RSASSA-PSS but the certificate has {_key_label(public_key)}"
            )
        try:
            pss_hash, mgf_hash, salt = _parse_pss_parameters(parameters)
        except ValueError as exc:
            return f"AUTH method 14: bad RSASSA-PSS parameters ({exc})"
        if HASH_SHA1 in (pss_hash, mgf_hash):
            return "AUTH method 14 uses SHA-1 with RSASSA-PSS, which is not accepted"
        scheme = padding.PSS(mgf=padding.MGF1(_HASHES[mgf_hash]()), salt_length=salt)
        return _verify_rsa(public_key, signature, octets, scheme, _HASHES[pss_hash]())
    known = _SIGNATURE_OIDS.get(oid)
    if known is None:
        return f"AUTH method 14 names an unknown signature algorithm {oid}"
    kind, number = known
    if number == HASH_SHA1:
        return f"AUTH method 14 names {kind.upper()} with SHA-1, which is not accepted"
    if kind == "rsa":
        if not isinstance(public_key, rsa.RSAPublicKey):
            return f"AUTH method 14 names RSA but the certificate has {_key_label(public_key)}"
        return _verify_rsa(public_key, signature, octets, padding.PKCS1v15(), _HASHES[number]())
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"AUTH method 14 names ECDSA but the certificate has {_key_label(public_key)}"
    try:
        public_key.verify(signature, octets, ec.ECDSA(_HASHES[number]()))
    except InvalidSignature:
        return f"ECDSA signature ({_HASH_NAMES[number]}) does not verify"
    return None


# --------------------------------------------------------------------------- IKEv1


def ikev1_auth_method(key: SigningKey | PublicKeyTypes) -> int:
    """The IKEv1 authentication method for this key: 3 (RSA signatures) or 9/10/11 (RFC 4754
    ECDSA with P-256/P-384/P-521)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return IKEV1_RSA_SIGNATURES
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _curve(key.curve)[0]
    raise SignatureError(f"unsupported key type {type(key).__name__}: RSA or ECDSA keys only")


def ikev1_sign(key: SigningKey, hash_value: bytes) -> bytes:
    """The SIG payload data over HASH_I/HASH_R (see the module docstring for the encodings)."""
    if isinstance(key, rsa.RSAPrivateKey):
        try:
            return rsa_sign_pkcs1_no_digest(key, hash_value)
        except RawRsaUnavailable as exc:
            raise SignatureError(str(exc)) from exc
    if isinstance(key, ec.EllipticCurvePrivateKey):
        _, _, size = _curve(key.curve)
        digest, algorithm = _prehashed(hash_value)
        return _raw_rs(key.sign(digest, ec.ECDSA(Prehashed(algorithm))), size)
    raise SignatureError(f"unsupported key type {type(key).__name__}: RSA or ECDSA keys only")


def ikev1_verify(public_key: PublicKeyTypes, signature: bytes, hash_value: bytes) -> str | None:
    """None when ``signature`` is the peer's valid SIG payload over ``hash_value``."""
    if isinstance(public_key, rsa.RSAPublicKey):
        try:
            recovered = public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
        except (InvalidSignature, ValueError):
            return "RSA signature does not verify"
        if not hmac.compare_digest(recovered, hash_value):
            return "RSA signature does not verify (it signs a different hash)"
        return None
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _ECDSA_CURVES:
            return f"unsupported ECDSA curve {public_key.curve.name}"
        _, _, size = _ECDSA_CURVES[public_key.curve.name]
        try:
            digest, algorithm = _prehashed(hash_value)
        except SignatureError as exc:
            return str(exc)
        scheme = ec.ECDSA(Prehashed(algorithm))
        return _verify_ecdsa_raw(public_key, signature, size, digest, scheme)
    return f"unsupported public key type {_key_label(public_key)}"


def _prehashed(hash_value: bytes) -> tuple[bytes, hashes.HashAlgorithm]:
    """HASH_I as an ECDSA digest. Lengths without a matching hash (MD5's 16 octets) are
    left-padded with zeros to 20, which keeps the integer ECDSA derives from them."""
    if len(hash_value) < 20:
        hash_value = bytes(20 - len(hash_value)) + hash_value
    algorithm = _PREHASH_BY_LENGTH.get(len(hash_value))
    if algorithm is None:
        raise SignatureError(f"cannot use a {len(hash_value)}-octet hash as an ECDSA digest")
    return hash_value, algorithm()


# --------------------------------------------------------------------------- shared helpers


def _curve(curve: ec.EllipticCurve) -> tuple[int, type[hashes.HashAlgorithm], int]:
    try:
        return _ECDSA_CURVES[curve.name]
    except KeyError:
        raise SignatureError(
            f"unsupported ECDSA curve {curve.name}: P-256, P-384 or P-521 only"
        ) from None


def _raw_rs(der_signature: bytes, size: int) -> bytes:
    r, s = decode_dss_signature(der_signature)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _verify_rsa(
    public_key: rsa.RSAPublicKey,
    signature: bytes,
    octets: bytes,
    scheme: padding.AsymmetricPadding,
    algorithm: hashes.HashAlgorithm,
) -> str | None:
    try:
        public_key.verify(signature, octets, scheme, algorithm)
    except InvalidSignature:
        return "RSA signature does not verify"
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"RSA signature cannot be checked: {exc}"
    return None


def _verify_ecdsa_raw(
    public_key: ec.EllipticCurvePublicKey,
    signature: bytes,
    size: int,
    data: bytes,
    algorithm: ec.ECDSA,
) -> str | None:
    if len(signature) != 2 * size:
        return f"ECDSA signature is {len(signature)} octets, expected {2 * size} (r||s)"
    r = int.from_bytes(signature[:size], "big")
    s = int.from_bytes(signature[size:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), data, algorithm)
    except InvalidSignature:
        return "ECDSA signature does not verify"
    return None


def _key_label(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return f"{_CURVE_LABEL.get(key.curve.name, key.curve.name)}"
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        return f"an RSA {key.key_size}-bit key"
    return f"a {type(key).__name__.lstrip('_')}"


# --------------------------------------------------------------------------- AlgorithmIdentifier


def _parse_algorithm_identifier(data: bytes) -> tuple[str, bytes]:
    """(dotted OID, raw parameter element or b'') of a DER AlgorithmIdentifier."""
    tag, body, end = _tlv(data, 0)
    if tag != 0x30 or end != len(data):
        raise ValueError("not a SEQUENCE")
    tag, oid, offset = _tlv(body, 0)
    if tag != 0x06:
        raise ValueError("no OBJECT IDENTIFIER")
    return _oid_text(oid), body[offset:]


def _hash_of(data: bytes) -> int:
    oid, _ = _parse_algorithm_identifier(data)
    if oid not in _HASH_OIDS:
        raise ValueError(f"unknown hash {oid}")
    return _HASH_OIDS[oid]


def _parse_pss_parameters(parameters: bytes) -> tuple[int, int, int]:
    """(hash, MGF1 hash, salt length) from RSASSA-PSS-params (RFC 4055), with defaults."""
    pss_hash, mgf_hash, salt = HASH_SHA1, HASH_SHA1, 20
    if not parameters:
        return pss_hash, mgf_hash, salt
    tag, body, end = _tlv(parameters, 0)
    if tag != 0x30 or end != len(parameters):
        raise ValueError("parameters are not a SEQUENCE")
    offset = 0
    while offset < len(body):
        tag, value, offset = _tlv(body, offset)
        if tag == 0xA0:
            pss_hash = _hash_of(value)
        elif tag == 0xA1:
            oid, mgf_parameters = _parse_algorithm_identifier(value)
            if oid != _MGF1:
                raise ValueError(f"unknown mask generation function {oid}")
            mgf_hash = _hash_of(mgf_parameters)
        elif tag == 0xA2:
            int_tag, number, _ = _tlv(value, 0)
            if int_tag != 0x02:
                raise ValueError("salt length is not an INTEGER")
            salt = int.from_bytes(number, "big")
        elif tag == 0xA3:
            int_tag, number, _ = _tlv(value, 0)
            if int_tag != 0x02 or int.from_bytes(number, "big") != 1:
                raise ValueError("unsupported trailer field")
        else:
            raise ValueError(f"unexpected element tag 0x{tag:02x}")
    return pss_hash, mgf_hash, salt
