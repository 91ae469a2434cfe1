"""Loading certificates, keys and PKCS#12; names and identities."""

from __future__ import annotations

import base64
import contextlib
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from tests.pki import factory
from tunnelgate.pki.certificates import (
    CertificateError,
    ca_key_hash,
    certificate_info,
    describe,
    ike_identity,
    key_matches,
    load_certificates,
    load_pkcs12,
    load_private_key,
    matches_identity,
)

PEM = serialization.Encoding.PEM
DER = serialization.Encoding.DER


@pytest.fixture(scope="module")
def ca() -> factory.Authority:
    return factory.make_ca("Test Root")


@pytest.fixture(scope="module")
def leaf(ca: factory.Authority) -> tuple[object, x509.Certificate]:
    return factory.make_leaf(
        ca, "gw.example.com", sans=("dns:GW.example.com", "ip:192.0.2.1", "email:ops@Example.com")
    )


def test_load_pem_der_base64_hex(ca: factory.Authority) -> None:
    cert = ca.certificate
    pem = cert.public_bytes(PEM)
    der = cert.public_bytes(DER)
    assert load_certificates(pem) == [cert]
    assert load_certificates(der) == [cert]
    body = b"\n".join(pem.splitlines()[1:-1]) + b"\nquit\n"
    assert load_certificates(body) == [cert]
    assert load_certificates(base64.b64encode(der)) == [cert]
    hex_dump = b"\n".join(der.hex().encode()[i : i + 64] for i in range(0, 2 * len(der), 64))
    assert load_certificates(hex_dump + b"\n  quit") == [cert]


def test_load_several_pem_blocks_skipping_other_labels(ca: factory.Authority) -> None:
    _, leaf = factory.make_leaf(ca, "a")
    key_pem = factory.key("p256").private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    blob = leaf.public_bytes(PEM) + key_pem + b"junk\n" + ca.certificate.public_bytes(PEM)
    assert load_certificates(blob) == [leaf, ca.certificate]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no PEM block and not DER"),
        (b"hello world", "no PEM block and not DER"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "no CERTIFICATE"),
        (b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----", "not valid base64"),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "not a certificate"),
        (b"\x30\x03\x02\x01\x00", "not a certificate"),
    ],
)
def test_load_certificates_errors(data: bytes, message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        load_certificates(data)


@given(st.binary(max_size=300))
def test_load_certificates_only_raises_certificate_error(data: bytes) -> None:
    with contextlib.suppress(CertificateError):
        load_certificates(data)


@given(st.binary(max_size=200))
def test_load_certificates_garbage_after_der_prefix(data: bytes) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----" % base64.b64encode(data)
    with contextlib.suppress(CertificateError):
        load_certificates(pem)


@pytest.mark.parametrize("key_type", ["rsa", "p256", "p384"])
@pytest.mark.parametrize(
    "form",
    [
        (PEM, serialization.PrivateFormat.PKCS8),
        (PEM, serialization.PrivateFormat.TraditionalOpenSSL),
        (DER, serialization.PrivateFormat.PKCS8),
        (DER, serialization.PrivateFormat.TraditionalOpenSSL),
    ],
)
def test_load_private_key_forms(
    key_type: str, form: tuple[serialization.Encoding, serialization.PrivateFormat]
) -> None:
    key = factory.key(key_type)
    data = key.private_bytes(form[0], form[1], serialization.NoEncryption())
    loaded = load_private_key(data)
    assert loaded.private_numbers() == key.private_numbers()


def test_load_private_key_passphrases() -> None:
    key = factory.key("p256")
    data = key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
    )
    assert load_private_key(data, b"s3cret").private_numbers() == key.private_numbers()
    with pytest.raises(CertificateError, match="passphrase is needed"):
        load_private_key(data)
    with pytest.raises(CertificateError, match="wrong passphrase"):
        load_private_key(data, b"wrong")
    plain = key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CertificateError, match="not encrypted"):
        load_private_key(plain, b"s3cret")
    bare = base64.b64encode(
        key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    assert load_private_key(bare).private_numbers() == key.private_numbers()


def test_load_private_key_rejects() -> None:
    ed = factory.ed25519_key().private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(CertificateError, match="unsupported key type Ed25519"):
        load_private_key(ed)
    with pytest.raises(CertificateError, match="not a private key"):
        load_private_key(b"garbage")
    with pytest.raises(CertificateError, match="not a private key"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def test_load_pkcs12(ca: factory.Authority) -> None:
    key, cert = factory.make_leaf(ca, "p12", "p256")
    bundle = pkcs12.serialize_key_and_certificates(
        b"id", key, cert, [ca.certificate], serialization.BestAvailableEncryption(b"pw")
    )
    loaded_key, loaded_cert, cas = load_pkcs12(bundle, b"pw")
    assert loaded_cert == cert and cas == [ca.certificate]
    assert key_matches(cert, loaded_key)
    text = b"-----BEGIN PKCS12-----\n" + base64.encodebytes(bundle) + b"-----END PKCS12-----\n"
    assert load_pkcs12(text, b"pw")[1] == cert
    with pytest.raises(CertificateError, match="wrong passphrase for the PKCS#12"):
        load_pkcs12(bundle, b"nope")
    with pytest.raises(CertificateError, match="not a PKCS#12"):
        load_pkcs12(b"garbage", b"pw")
    # (a bundle whose key does not match cannot be built with pyca; key_matches is tested below)
    no_key = pkcs12.serialize_key_and_certificates(
        b"id", None, None, [ca.certificate], serialization.NoEncryption()
    )
    with pytest.raises(CertificateError, match="no private key"):
        load_pkcs12(no_key, b"")


def test_certificate_info_attribute_names(ca: factory.Authority) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "San Jose"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Sales"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "East"),
            x509.NameAttribute(NameOID.COMMON_NAME, "peer"),
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.com"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "42"),
            x509.NameAttribute(NameOID.TITLE, "VPN"),
            x509.NameAttribute(NameOID.SURNAME, "Doe"),
            x509.NameAttribute(NameOID.GIVEN_NAME, "Jo"),
            x509.NameAttribute(x509.ObjectIdentifier("1.2.3.4"), "x"),
        ]
    )
    _, cert = factory.make_leaf(ca, subject=subject)
    info = certificate_info(cert)
    assert info.subject == (
        ("c", "US"), ("st", "CA"), ("l", "San Jose"), ("o", "Example"), ("ou", "Sales"),
        ("ou", "East"), ("cn", "peer"), ("ea", "a@example.com"), ("ser", "42"), ("t", "VPN"),
        ("sn", "Doe"), ("gn", "Jo"), ("1.2.3.4", "x"),
    )  # fmt: skip
    assert info.issuer == (("cn", "Test Root"),)


def test_ike_identity(leaf: tuple[object, x509.Certificate]) -> None:
    cert = leaf[1]
    assert ike_identity(cert, "auto", "192.0.2.1") == ("der-asn1-dn", cert.subject.public_bytes())
    assert ike_identity(cert, "key-id", "192.0.2.1")[0] == "der-asn1-dn"
    assert ike_identity(cert, "hostname", "192.0.2.1") == ("fqdn", b"GW.example.com")
    assert ike_identity(cert, "address", "192.0.2.1") == ("ipv4", bytes([192, 0, 2, 1]))
    assert ike_identity(cert, "address", "2001:db8::1")[0] == "ipv6"


def test_ike_identity_hostname_without_san_is_dn(ca: factory.Authority) -> None:
    _, cert = factory.make_leaf(ca, "plain")
    assert ike_identity(cert, "hostname", "192.0.2.1")[0] == "der-asn1-dn"


def test_matches_identity(leaf: tuple[object, x509.Certificate]) -> None:
    cert = leaf[1]
    assert matches_identity(cert, "ipv4", ipaddress.IPv4Address("192.0.2.1").packed)
    assert not matches_identity(cert, "ipv4", ipaddress.IPv4Address("192.0.2.2").packed)
    assert not matches_identity(cert, "ipv4", b"\x01\x02")
    assert not matches_identity(cert, "ipv6", ipaddress.IPv6Address("::1").packed)
    assert matches_identity(cert, "fqdn", b"gw.EXAMPLE.com")
    assert matches_identity(cert, "fqdn", b"gw.example.com.")
    assert not matches_identity(cert, "fqdn", b"other.example.com")
    assert not matches_identity(cert, "fqdn", b"\xff\xfe")
    assert matches_identity(cert, "user-fqdn", b"OPS@example.com")
    assert not matches_identity(cert, "user-fqdn", b"dev@example.com")
    assert matches_identity(cert, "der-asn1-dn", cert.subject.public_bytes())
    assert not matches_identity(cert, "der-asn1-dn", factory.name("other").public_bytes())
    assert not matches_identity(cert, "der-asn1-dn", b"\x30\x05junk")
    assert not matches_identity(cert, "key-id", b"gw.example.com")
    assert not matches_identity(cert, "unknown", b"")


def test_dn_match_ignores_string_type_and_case(ca: factory.Authority) -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example  Corp"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Peer"),
        ]
    )
    _, cert = factory.make_leaf(ca, subject=subject)
    from cryptography.x509.name import _ASN1Type

    other = x509.Name(
        [
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "example corp", _ASN1Type.PrintableString
            ),
            x509.NameAttribute(NameOID.COMMON_NAME, "PEER", _ASN1Type.PrintableString),
        ]
    )
    assert other.public_bytes() != cert.subject.public_bytes()
    assert matches_identity(cert, "der-asn1-dn", other.public_bytes())
    reordered = x509.Name(list(reversed(list(other))))
    assert not matches_identity(cert, "der-asn1-dn", reordered.public_bytes())


def test_email_in_subject_matches_user_fqdn(ca: factory.Authority) -> None:
    subject = x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "vpn@example.com")])
    _, cert = factory.make_leaf(ca, subject=subject)
    assert matches_identity(cert, "user-fqdn", b"VPN@example.com")


def test_ca_key_hash_and_key_matches(ca: factory.Authority) -> None:
    spki = ca.certificate.public_key().public_bytes(
        DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA1())
    digest.update(spki)
    assert ca_key_hash(ca.certificate) == digest.finalize()
    assert len(ca_key_hash(ca.certificate)) == 20
    assert key_matches(ca.certificate, ca.key)
    assert not key_matches(ca.certificate, factory.key("rsa", 50))
    assert not key_matches(ca.certificate, factory.key("p256", 50))


def test_describe(ca: factory.Authority) -> None:
    _, cert = factory.make_leaf(ca, "peer", serial=0x1A)
    text = describe(cert)
    assert text == "CN=peer, serial 0x1A, valid 2020-01-01 00:00 UTC to 2040-01-01 00:00 UTC"
    no_cn = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Org")])
    _, cert = factory.make_leaf(ca, subject=no_cn)
    assert describe(cert).startswith("O=Org, serial")
