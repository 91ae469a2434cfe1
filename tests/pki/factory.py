"""Test certificate authorities, leaves and CRLs built with pyca/cryptography.

Reusable by any test: ``make_ca("Root")``, ``make_ca("Sub", issuer=root)``,
``make_leaf(ca, "peer")``, ``make_crl(ca, [serial])``. Keys are cached per type so the
suite stays fast (RSA generation is the slow part); pass ``fresh_key=True`` for a new one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from tunnelgate.pki.credentials import SigningKey

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
FAR_AHEAD = datetime(2040, 1, 1, tzinfo=UTC)

_KEYS: dict[tuple[str, int], SigningKey] = {}


def new_key(key_type: str = "rsa") -> SigningKey:
    """A fresh key: ``rsa`` (2048), ``rsa1024``, ``p256``, ``p384``, ``p521``."""
    if key_type == "rsa":
        return rsa.generate_private_key(65537, 2048)
    if key_type == "rsa1024":
        return rsa.generate_private_key(65537, 1024)
    curves: dict[str, ec.EllipticCurve] = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
    }
    return ec.generate_private_key(curves[key_type])


def key(key_type: str = "rsa", index: int = 0) -> SigningKey:
    """The ``index``-th cached key of this type (distinct indexes, distinct keys)."""
    if (key_type, index) not in _KEYS:
        _KEYS[key_type, index] = new_key(key_type)
    return _KEYS[key_type, index]


_counter = [0]


def _next_index() -> int:
    _counter[0] += 1
    return _counter[0]


def name(cn: str, **extra: str) -> x509.Name:
    """``CN=cn`` plus optional ``ou=``, ``o=``, ``c=`` attributes (in that order, before CN)."""
    oids = {"c": NameOID.COUNTRY_NAME, "o": NameOID.ORGANIZATION_NAME,
            "ou": NameOID.ORGANIZATIONAL_UNIT_NAME}  # fmt: skip
    attributes = [x509.NameAttribute(oids[k], v) for k, v in extra.items()]
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass(frozen=True)
class Authority:
    """A test CA: its key and certificate."""

    key: SigningKey
    certificate: x509.Certificate

    @property
    def name(self) -> x509.Name:
        return self.certificate.subject


def _hash_for(signer: SigningKey) -> hashes.SHA256:
    return hashes.SHA256()


def make_ca(
    cn: str = "Root CA",
    key_type: str = "rsa",
    not_before: datetime = LONG_AGO,
    not_after: datetime = FAR_AHEAD,
    *,
    issuer: Authority | None = None,
    path_length: int | None = None,
    ca: bool = True,
    basic_constraints: bool = True,
    signing_key: SigningKey | None = None,
    serial: int | None = None,
) -> Authority:
    """A self-signed root, or an intermediate signed by ``issuer``. ``ca=False`` or
    ``basic_constraints=False`` makes a bad issuer."""
    subject_key = signing_key or key(key_type, _next_index())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(issuer.name if issuer else name(cn))
        .public_key(subject_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if basic_constraints:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
            critical=True,
        )
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(subject_key.public_key()), critical=False
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    signer = issuer.key if issuer else subject_key
    return Authority(subject_key, builder.sign(signer, _hash_for(signer)))


def make_leaf(
    ca: Authority,
    cn: str = "peer",
    key_type: str = "rsa",
    *,
    sans: Sequence[str] = (),
    key_usage: Sequence[str] | None = ("digital_signature",),
    serial: int | None = None,
    not_before: datetime = LONG_AGO,
    not_after: datetime = FAR_AHEAD,
    subject: x509.Name | None = None,
    private_key: SigningKey | None = None,
    crl_urls: Sequence[str] = (),
) -> tuple[SigningKey, x509.Certificate]:
    """(key, certificate) of an end entity. ``sans`` entries: ``dns:host``, ``ip:1.2.3.4``,
    ``email:a@b``; ``key_usage`` names pyca KeyUsage fields (None: no extension)."""
    leaf_key = private_key or key(key_type, _next_index())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject or name(cn))
        .issuer_name(ca.name)
        .public_key(leaf_key.public_key())
        .serial_number(serial if serial is not None else x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if sans:
        general: list[x509.GeneralName] = []
        for entry in sans:
            kind, _, value = entry.partition(":")
            if kind == "dns":
                general.append(x509.DNSName(value))
            elif kind == "ip":
                general.append(x509.IPAddress(ipaddress.ip_address(value)))
            elif kind == "email":
                general.append(x509.RFC822Name(value))
            else:
                raise ValueError(entry)
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    if key_usage is not None:
        flags = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment",
             "data_encipherment", "key_agreement", "key_cert_sign", "crl_sign"),
            False,
        )  # fmt: skip
        for usage in key_usage:
            flags[usage] = True
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    if crl_urls:
        builder = builder.add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
                    for u in crl_urls
                ]
            ),
            critical=False,
        )
    return leaf_key, builder.sign(ca.key, _hash_for(ca.key))


def make_crl(
    ca: Authority,
    revoked_serials: Sequence[int] = (),
    next_update: datetime = FAR_AHEAD,
    last_update: datetime = LONG_AGO,
    *,
    signing_key: SigningKey | None = None,
) -> x509.CertificateRevocationList:
    """A CRL of ``ca`` listing ``revoked_serials``; ``signing_key`` forges a bad signature."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.name)
        .last_update(last_update)
        .next_update(next_update)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(last_update)
            .build()
        )
    signer = signing_key or ca.key
    return builder.sign(signer, _hash_for(signer))


def ed25519_key() -> ed25519.Ed25519PrivateKey:
    """A key type we do not support."""
    return ed25519.Ed25519PrivateKey.generate()
