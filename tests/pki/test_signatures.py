"""IKE signature schemes: round trips, tamper reasons, RFC 7427 encodings, raw IKEv1 RSA."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from tests.pki import factory
from tunnelgate.pki import signatures as sig
from tunnelgate.pki._openssl_raw import RawRsaUnavailable
from tunnelgate.pki.signatures import (
    IKEV2_HASH_ALGORITHMS,
    SignatureError,
    ikev1_auth_method,
    ikev1_sign,
    ikev1_verify,
    ikev2_sign,
    ikev2_verify,
)

OCTETS = b"signed octets: message | nonce | prf(SK_p, ID)" * 3
KEY_TYPES = ["rsa", "p256", "p384", "p521"]
CLASSIC = {"rsa": 1, "p256": 9, "p384": 10, "p521": 11}
ALL_HASHES = frozenset({1, 2, 3, 4})

# RFC 7427 appendix A
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SHA384_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010c0500")
SHA512_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010d0500")
ECDSA_WITH_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")
ECDSA_WITH_SHA384 = bytes.fromhex("300a06082a8648ce3d040303")
ECDSA_WITH_SHA512 = bytes.fromhex("300a06082a8648ce3d040304")
RSASSA_PSS_SHA256 = bytes.fromhex(
    "3041 06092a864886f70d01010a 3034"
    " a00f 300d 0609608648016503040201 0500"
    " a11c 301a 06092a864886f70d010108 300d 0609608648016503040201 0500"
    " a203 020120"
)


def _tamper(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("peer_hashes", [frozenset(), frozenset({1}), frozenset({2}), ALL_HASHES])
def test_ikev2_round_trip(key_type: str, peer_hashes: frozenset[int]) -> None:
    key = factory.key(key_type)
    method, data = ikev2_sign(key, OCTETS, peer_hashes)
    expected = 14 if peer_hashes & set(IKEV2_HASH_ALGORITHMS) else CLASSIC[key_type]
    assert method == expected
    assert ikev2_verify(key.public_key(), method, data, OCTETS) is None
    assert ikev2_verify(key.public_key(), method, data, OCTETS + b"x") is not None
    assert ikev2_verify(key.public_key(), method, _tamper(data), OCTETS) is not None


@pytest.mark.parametrize(
    ("key_type", "peer_hashes", "identifier"),
    [
        ("rsa", frozenset({2}), SHA256_WITH_RSA),
        ("rsa", frozenset({2, 3}), SHA384_WITH_RSA),
        ("rsa", ALL_HASHES, SHA512_WITH_RSA),
        ("p256", frozenset({2}), ECDSA_WITH_SHA256),
        ("p256", frozenset({3, 7}), ECDSA_WITH_SHA384),
        ("p384", ALL_HASHES, ECDSA_WITH_SHA512),
    ],
)
def test_method14_algorithm_identifier_bytes(
    key_type: str, peer_hashes: frozenset[int], identifier: bytes
) -> None:
    method, data = ikev2_sign(factory.key(key_type), OCTETS, peer_hashes)
    assert method == 14
    assert data[0] == len(identifier)
    assert data[1 : 1 + len(identifier)] == identifier


def test_method14_rsa_is_plain_pkcs1_v15() -> None:
    key = factory.key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    _, data = ikev2_sign(key, OCTETS, frozenset({2}))
    signature = data[1 + len(SHA256_WITH_RSA) :]
    key.public_key().verify(signature, OCTETS, padding.PKCS1v15(), hashes.SHA256())


def test_classic_ecdsa_is_fixed_width_r_s() -> None:
    for key_type, size in (("p256", 32), ("p384", 48), ("p521", 66)):
        key = factory.key(key_type)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        _, data = ikev2_sign(key, OCTETS, frozenset())
        assert len(data) == 2 * size
        r, s = int.from_bytes(data[:size], "big"), int.from_bytes(data[size:], "big")
        algorithm = {32: hashes.SHA256(), 48: hashes.SHA384(), 66: hashes.SHA512()}[size]
        key.public_key().verify(encode_dss_signature(r, s), OCTETS, ec.ECDSA(algorithm))


def test_method1_is_sha1_pkcs1() -> None:
    key = factory.key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    method, data = ikev2_sign(key, OCTETS, frozenset({1}))
    assert method == 1
    key.public_key().verify(data, OCTETS, padding.PKCS1v15(), hashes.SHA1())


def test_method14_pss_verifies() -> None:
    key = factory.key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(
        OCTETS, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
    )
    data = bytes([len(RSASSA_PSS_SHA256)]) + RSASSA_PSS_SHA256 + signature
    assert ikev2_verify(key.public_key(), 14, data, OCTETS) is None
    assert ikev2_verify(key.public_key(), 14, data, OCTETS + b"!") == (
        "RSA signature does not verify"
    )


def test_method14_pss_default_parameters_are_sha1_and_refused() -> None:
    identifier = bytes.fromhex("300b06092a864886f70d01010a")  # no parameters: SHA-1
    key = factory.key("rsa")
    reason = ikev2_verify(key.public_key(), 14, bytes([len(identifier)]) + identifier, OCTETS)
    assert reason is not None and "SHA-1" in reason


def test_reasons_are_specific() -> None:
    rsa_key, p256 = factory.key("rsa"), factory.key("p256")
    _, data = ikev2_sign(p256, OCTETS, frozenset())
    assert ikev2_verify(p256.public_key(), 10, data, OCTETS) == (
        "ECDSA method 10 needs a P-384 key, the certificate has P-256"
    )
    assert ikev2_verify(p256.public_key(), 9, data, _tamper(OCTETS)) == (
        "ECDSA signature does not verify"
    )
    assert ikev2_verify(p256.public_key(), 9, data[:-1], OCTETS) == (
        "ECDSA signature is 63 octets, expected 64 (r||s)"
    )
    _, rsa_data = ikev2_sign(rsa_key, OCTETS, frozenset())
    assert ikev2_verify(rsa_key.public_key(), 1, _tamper(rsa_data), OCTETS) == (
        "RSA signature does not verify"
    )
    reason = ikev2_verify(p256.public_key(), 1, rsa_data, OCTETS)
    assert reason is not None and "AUTH method 1" in reason
    unknown = bytes.fromhex("3006060403040506")  # OID 0.3.4.5.6 (encoded 03 04 05 06)
    assert ikev2_verify(rsa_key.public_key(), 14, bytes([len(unknown)]) + unknown, OCTETS) == (
        "AUTH method 14 names an unknown signature algorithm 0.3.4.5.6"
    )
    _, ec14 = ikev2_sign(p256, OCTETS, frozenset({2}))
    assert ikev2_verify(rsa_key.public_key(), 14, ec14, OCTETS) == (
        "AUTH method 14 names ECDSA but the certificate has an RSA 2048-bit key"
    )
    assert ikev2_verify(rsa_key.public_key(), 14, b"\x40\x30", OCTETS) is not None
    assert ikev2_verify(rsa_key.public_key(), 14, b"", OCTETS) is not None
    assert ikev2_verify(rsa_key.public_key(), 14, b"\x02\x30\x05", OCTETS) is not None
    assert ikev2_verify(rsa_key.public_key(), 2, b"", OCTETS) == (
        "unsupported AUTH method 2 for a certificate"
    )
    sha1_rsa = bytes.fromhex("300d06092a864886f70d0101050500")
    reason = ikev2_verify(rsa_key.public_key(), 14, bytes([15]) + sha1_rsa + rsa_data, OCTETS)
    assert reason is not None and "SHA-1" in reason


def test_unsupported_keys() -> None:
    with pytest.raises(SignatureError, match="secp256k1"):
        ikev2_sign(ec.generate_private_key(ec.SECP256K1()), OCTETS, frozenset())
    with pytest.raises(SignatureError, match="unsupported key type"):
        ikev2_sign(factory.ed25519_key(), OCTETS, frozenset())  # type: ignore[arg-type]
    with pytest.raises(SignatureError):
        ikev1_auth_method(factory.ed25519_key().public_key())
    assert ikev1_verify(factory.ed25519_key().public_key(), b"", b"") is not None


# --------------------------------------------------------------------------- IKEv1


def test_ikev1_auth_methods() -> None:
    assert ikev1_auth_method(factory.key("rsa")) == 3
    assert ikev1_auth_method(factory.key("rsa").public_key()) == 3
    assert ikev1_auth_method(factory.key("p256")) == 9
    assert ikev1_auth_method(factory.key("p384").public_key()) == 10
    assert ikev1_auth_method(factory.key("p521")) == 11


@pytest.mark.parametrize("key_type", KEY_TYPES)
@pytest.mark.parametrize("hash_length", [16, 20, 32, 48, 64])
def test_ikev1_round_trip(key_type: str, hash_length: int) -> None:
    key = factory.key(key_type)
    hash_i = hashlib.sha512(b"HASH_I").digest()[:hash_length]
    signature = ikev1_sign(key, hash_i)
    assert ikev1_verify(key.public_key(), signature, hash_i) is None
    # the first octet: ECDSA truncates a digest longer than the curve order
    assert ikev1_verify(key.public_key(), signature, bytes([hash_i[0] ^ 1]) + hash_i[1:])
    assert ikev1_verify(key.public_key(), _tamper(signature), hash_i) is not None


def test_ikev1_rsa_is_raw_pkcs1_without_digest_info() -> None:
    key = factory.key("rsa")
    assert isinstance(key, rsa.RSAPrivateKey)
    hash_i = hashlib.sha1(b"HASH_I").digest()
    signature = ikev1_sign(key, hash_i)
    recovered = key.public_key().recover_data_from_signature(signature, padding.PKCS1v15(), None)
    assert recovered == hash_i
    # known answer: EMSA-PKCS1-v1_5 type 1 padding of the bare hash, then m^d mod n
    numbers = key.private_numbers()
    k = key.key_size // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(hash_i)) + b"\x00" + hash_i
    expected = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n)
    assert signature == expected.to_bytes(k, "big")
    assert ikev1_verify(key.public_key(), signature, hash_i + b"\x00") == (
        "RSA signature does not verify (it signs a different hash)"
    )
    assert ikev1_verify(key.public_key(), b"\x00" * k, hash_i) == "RSA signature does not verify"


def test_ikev1_ecdsa_signs_hash_i_directly_as_r_s() -> None:
    key = factory.key("p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    hash_i = hashlib.sha256(b"HASH_I").digest()
    signature = ikev1_sign(key, hash_i)
    assert len(signature) == 64
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    # HASH_I is the ECDSA digest itself (strongSwan SIGN_ECDSA_WITH_NULL), not re-hashed
    key.public_key().verify(
        encode_dss_signature(r, s), hash_i, ec.ECDSA(Prehashed(hashes.SHA256()))
    )
    assert ikev1_verify(key.public_key(), signature[:-1], hash_i) is not None


def test_ikev1_rsa_raw_helper_unavailable_is_a_signature_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: object) -> bytes:
        raise RawRsaUnavailable("no libcrypto")

    monkeypatch.setattr(sig, "rsa_sign_pkcs1_no_digest", boom)
    with pytest.raises(SignatureError, match="no libcrypto"):
        ikev1_sign(factory.key("rsa"), b"x" * 20)


def test_ikev1_rsa_too_long_hash() -> None:
    with pytest.raises(SignatureError, match="too long"):
        ikev1_sign(factory.key("rsa"), b"x" * 250)
