"""Certificates and keys as operators paste them, and what IKE reads from a certificate.

Decisions:

- ``load_certificates`` takes one or more PEM blocks, one DER certificate, bare base64 (an
  ASA paste without BEGIN/END lines, optionally ending in ``quit``) or the hex dump of
  ``crypto ca certificate chain`` in a running configuration. Anything else raises
  ``CertificateError`` and nothing else.
- ``certificate_info`` names DN attributes as the ASA prints and matches them: ``cn``,
  ``ou``, ``o``, ``c``, ``l``, ``st`` (stateOrProvince; the ASA also accepts ``sp`` in a
  certificate map, which the matcher should treat as ``st``), ``ea`` (emailAddress), ``sn``
  (surname), ``gn``, ``i`` (initials), ``t`` (title), ``ser`` (serialNumber), ``dnq``,
  ``gen``, ``n`` (name), ``uid``, ``uname`` (unstructuredName), ``dc``, ``street``; others
  by dotted OID.
- ``ike_identity``: with certificates the ASA sends its subject DN (ID_DER_ASN1_DN) for
  ``auto``; ``hostname`` sends the first dNSName of the certificate (the DN when there is
  none); ``address`` the interface address; ``key-id`` (which names a key, not the
  certificate) falls back to the DN.
- ``matches_identity`` compares a DN identity as a Name (exact DER, or attribute by
  attribute with case and repeated spaces ignored, RFC 5280 §7.1 in spirit) against the
  subject and directoryName SANs; FQDN and e-mail identities case-insensitively against
  dNSName / rfc822Name SANs (and e-mail also the subject's emailAddress); addresses
  against iPAddress SANs; a key-id never matches a certificate.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID, ObjectIdentifier

from tunnelgate.pki._der import oid_text, tlv
from tunnelgate.pki.credentials import SigningKey
from tunnelgate.policy.tunnel_group_lookup import CertificateInfo


class CertificateError(ValueError):
    """A certificate, key or bundle that cannot be used, with a message for the operator."""


# --------------------------------------------------------------------------- loading

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_LINE = re.compile(rb"^-----(BEGIN|END) [A-Z0-9 ]+-----$")
_CERTIFICATE_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data`` (PEM blocks, one DER, bare base64 or a hex dump)."""
    try:
        return _load_certificates(data)
    except CertificateError:
        raise
    except Exception as exc:  # pyca raises several types on malformed input
        raise CertificateError(f"not a certificate: {exc}") from None


def _load_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        certificates: list[x509.Certificate] = []
        for label, body in _PEM_BLOCK.findall(data):
            if label not in _CERTIFICATE_LABELS:
                continue
            der = _decode_base64(body)
            if der is None:
                raise CertificateError("not a certificate: a PEM block is not valid base64")
            certificates.append(_der_certificate(der))
        if not certificates:
            raise CertificateError("not a certificate: no CERTIFICATE PEM block")
        return certificates
    if data[:1] == b"\x30":
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            pass
    failure = "not a certificate: no PEM block and not DER"
    for der in (_decode_base64(data), _decode_hex(data)):
        if der:
            try:
                return [_der_certificate(der)]
            except CertificateError as exc:
                failure = str(exc)
    raise CertificateError(failure)


def _der_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise CertificateError(f"not a certificate: {exc}") from None


def _text_lines(data: bytes) -> list[bytes]:
    lines = [line.strip() for line in data.splitlines()]
    return [
        line
        for line in lines
        if line and line.lower() != b"quit" and not _PEM_LINE.match(line)
        and not line.startswith(b"Proc-Type:") and not line.startswith(b"DEK-Info:")
    ]  # fmt: skip


def _decode_base64(data: bytes) -> bytes | None:
    text = b"".join(b"".join(line.split()) for line in _text_lines(data))
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_hex(data: bytes) -> bytes | None:
    text = b"".join(b"".join(line.split()) for line in _text_lines(data))
    try:
        return bytes.fromhex(text.decode("ascii")) if text else None
    except (UnicodeDecodeError, ValueError):
        return None


def load_private_key(data: bytes, passphrase: bytes | None = None) -> SigningKey:
    """An RSA or EC private key from PEM or DER (PKCS#8 or traditional), or bare base64."""
    candidates: list[tuple[str, bytes]] = []
    if b"-----BEGIN" in data:
        candidates.append(("pem", data))
    else:
        candidates.append(("der", data))
        decoded = _decode_base64(data)
        if decoded:
            candidates.append(("der", decoded))
    problem = "not a private key: no PEM block and not DER"
    for kind, blob in candidates:
        try:
            if kind == "pem":
                key = serialization.load_pem_private_key(blob, passphrase)
            else:
                key = serialization.load_der_private_key(blob, passphrase)
        except TypeError as exc:
            if "encrypted" in str(exc) and passphrase is None:
                raise CertificateError(
                    "the private key is encrypted: a passphrase is needed"
                ) from None
            if passphrase is not None:
                raise CertificateError(
                    "the private key is not encrypted: omit the passphrase"
                ) from None
            problem = f"not a private key: {exc}"
            continue
        except UnsupportedAlgorithm as exc:
            raise CertificateError(f"unsupported private key: {exc}") from None
        except ValueError as exc:
            if passphrase is not None and "password" in str(exc).lower():
                raise CertificateError("wrong passphrase for the private key") from None
            problem = (
                "wrong passphrase or not a private key"
                if passphrase is not None
                else f"not a private key: {exc}"
            )
            continue
        return _signing_key(key)
    raise CertificateError(problem)


def _signing_key(key: object) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return key
    kind = type(key).__name__.removeprefix("_").removesuffix("PrivateKey")
    raise CertificateError(f"unsupported key type {kind}: RSA or ECDSA keys only")


def load_pkcs12(
    data: bytes, passphrase: bytes
) -> tuple[SigningKey, x509.Certificate, list[x509.Certificate]]:
    """(key, identity certificate, CA certificates) of a PKCS#12 bundle in DER or base64
    (``crypto ca import TP pkcs12 PASSPHRASE``, with or without BEGIN/END lines)."""
    blobs = [data]
    decoded = _decode_base64(data)
    if decoded:
        blobs.append(decoded)
    failure = "not a PKCS#12 bundle"
    for blob in blobs:
        try:
            key, certificate, extra = pkcs12.load_key_and_certificates(blob, passphrase)
        except ValueError as exc:
            if "password" in str(exc).lower():
                failure = "wrong passphrase for the PKCS#12 bundle (or the bundle is damaged)"
            continue
        except (TypeError, UnsupportedAlgorithm) as exc:
            failure = f"cannot read the PKCS#12 bundle: {exc}"
            continue
        if key is None:
            raise CertificateError("the PKCS#12 bundle holds no private key")
        if certificate is None:
            raise CertificateError("the PKCS#12 bundle holds no certificate for its key")
        signing_key = _signing_key(key)
        if not key_matches(certificate, signing_key):
            raise CertificateError(
                f"the private key does not match the certificate for {short_name(certificate)}"
            )
        return signing_key, certificate, list(extra)
    raise CertificateError(failure)


# --------------------------------------------------------------------------- names

_ASA_ATTRIBUTES: dict[ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "cn",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "ou",
    NameOID.ORGANIZATION_NAME: "o",
    NameOID.COUNTRY_NAME: "c",
    NameOID.LOCALITY_NAME: "l",
    NameOID.STATE_OR_PROVINCE_NAME: "st",
    NameOID.EMAIL_ADDRESS: "ea",
    NameOID.SURNAME: "sn",
    NameOID.GIVEN_NAME: "gn",
    NameOID.INITIALS: "i",
    NameOID.TITLE: "t",
    NameOID.SERIAL_NUMBER: "ser",
    NameOID.DN_QUALIFIER: "dnq",
    NameOID.GENERATION_QUALIFIER: "gen",
    ObjectIdentifier("2.5.4.41"): "n",
    NameOID.USER_ID: "uid",
    NameOID.UNSTRUCTURED_NAME: "uname",
    NameOID.DOMAIN_COMPONENT: "dc",
    NameOID.STREET_ADDRESS: "street",
}


def dn_pairs(name: x509.Name) -> tuple[tuple[str, str], ...]:
    """(ASA attribute, value) pairs in certificate order (multi-valued RDNs flattened)."""
    pairs = []
    for rdn in name.rdns:
        for attribute in rdn:
            key = _ASA_ATTRIBUTES.get(attribute.oid, attribute.oid.dotted_string)
            value = attribute.value
            pairs.append((key, value if isinstance(value, str) else value.hex()))
    return tuple(pairs)


def certificate_info(cert: x509.Certificate) -> CertificateInfo:
    """Subject and issuer DNs as tunnel-group-map / certificate maps read them."""
    return CertificateInfo(dn_pairs(cert.subject), dn_pairs(cert.issuer))


def name_text(name: x509.Name) -> str:
    """``CN=value`` when the name has a common name, else the RFC 4514 string."""
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if common:
        value = common[0].value
        return f"CN={value if isinstance(value, str) else value.hex()}"
    return name.rfc4514_string() or "(empty name)"


def short_name(cert: x509.Certificate) -> str:
    """The subject as ``CN=…`` for messages."""
    return name_text(cert.subject)


# --------------------------------------------------------------------------- identities


def ike_identity(cert: x509.Certificate, identity: str, own_address: str) -> tuple[str, bytes]:
    """Our ID payload with this certificate: identity is the `crypto isakmp identity` value
    (auto|address|hostname|key-id); auto and DN use ("der-asn1-dn", subject DER) — what an
    ASA sends with certificates; hostname -> ("fqdn", first dNSName SAN); address ->
    ("ipv4"/"ipv6", packed own_address)."""
    if identity == "address":
        address = ipaddress.ip_address(own_address)
        return ("ipv4" if address.version == 4 else "ipv6"), address.packed
    if identity == "hostname":
        names = _sans(cert, x509.DNSName)
        if names:
            return "fqdn", str(names[0]).encode("ascii")
    return "der-asn1-dn", cert.subject.public_bytes()


# the subjectAltName type that holds each identity kind
SAN_OF_KIND: dict[str, type[x509.GeneralName]] = {
    "ipv4": x509.IPAddress,
    "ipv6": x509.IPAddress,
    "fqdn": x509.DNSName,
    "user-fqdn": x509.RFC822Name,
}


def carries_identity_kind(cert: x509.Certificate, kind: str) -> bool:
    """Whether the certificate holds an identity of this kind (``peer-id-validate cert``
    checks only those): the subject DN always, the others as subjectAltNames."""
    if kind == "der-asn1-dn":
        return True
    san_type = SAN_OF_KIND.get(kind)
    if san_type is None:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return False
    names = [n for n in san.value if isinstance(n, san_type)]
    if kind in ("ipv4", "ipv6"):
        version = 4 if kind == "ipv4" else 6
        return any(isinstance(n, x509.IPAddress) and n.value.version == version for n in names)
    return bool(names)


def matches_identity(cert: x509.Certificate, kind: str, data: bytes) -> bool:
    """Whether the certificate holds this IKE identity (kinds: ipv4, ipv6, fqdn, user-fqdn,
    der-asn1-dn, key-id)."""
    try:
        if kind in ("ipv4", "ipv6"):
            if len(data) != (4 if kind == "ipv4" else 16):
                return False
            address = ipaddress.ip_address(data)
            return any(a == address for a in _sans(cert, x509.IPAddress))
        if kind == "fqdn":
            wanted = _fold_host(data.decode("ascii"))
            return any(_fold_host(str(n)) == wanted for n in _sans(cert, x509.DNSName))
        if kind == "user-fqdn":
            wanted = data.decode("ascii").casefold()
            emails = [str(e) for e in _sans(cert, x509.RFC822Name)]
            subject = cert.subject.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)
            emails += [str(a.value) for a in subject]
            return any(e.casefold() == wanted for e in emails)
        if kind == "der-asn1-dn":
            names = [cert.subject, *_sans(cert, x509.DirectoryName)]
            return any(_dn_equal(n, data) for n in names)
    except (UnicodeDecodeError, ValueError):
        return False
    return False


def _fold_host(host: str) -> str:
    return host.rstrip(".").casefold()


def _sans(cert: x509.Certificate, kind: type[x509.GeneralName]) -> list[object]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [n.value for n in extension.value if isinstance(n, kind)]


def _dn_equal(name: object, der: bytes) -> bool:
    if not isinstance(name, x509.Name):
        return False
    own = name.public_bytes()
    if own == der:
        return True
    try:
        return _normalised_dn(own) == _normalised_dn(der)
    except ValueError:
        return False


_STRING_CODECS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1",
                  0x1E: "utf-16-be", 0x1C: "utf-32-be", 0x12: "ascii", 0x1A: "ascii"}  # fmt: skip


def _normalised_dn(der: bytes) -> tuple[tuple[tuple[str, str], ...], ...]:
    """RDNs as sorted (OID, case-folded value with runs of spaces collapsed) tuples."""
    tag, body, end = tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a Name")
    rdns = []
    offset = 0
    while offset < len(body):
        tag, rdn, offset = tlv(body, offset)
        if tag != 0x31:
            raise ValueError("not a RelativeDistinguishedName")
        values = []
        inner = 0
        while inner < len(rdn):
            tag, pair, inner = tlv(rdn, inner)
            oid_tag, oid, rest = tlv(pair, 0)
            value_tag, value, _ = tlv(pair, rest)
            if tag != 0x30 or oid_tag != 0x06:
                raise ValueError("not an AttributeTypeAndValue")
            codec = _STRING_CODECS.get(value_tag)
            text = value.decode(codec) if codec else value.hex()
            values.append((oid_text(oid), " ".join(text.split()).casefold()))
        rdns.append(tuple(sorted(values)))
    return tuple(rdns)


# --------------------------------------------------------------------------- keys


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ca_key_hash(cert: x509.Certificate) -> bytes:
    """SHA-1 of the DER SubjectPublicKeyInfo (IKEv2 CERTREQ / CERT hash, RFC 7296 §3.7)."""
    digest = hashes.Hash(hashes.SHA1())
    digest.update(_spki(cert.public_key()))
    return digest.finalize()


def key_matches(cert: x509.Certificate, key: SigningKey) -> bool:
    """Whether ``key`` is the private key of the certificate's public key."""
    try:
        return _spki(cert.public_key()) == _spki(key.public_key())
    except (ValueError, UnsupportedAlgorithm):
        return False


def describe(cert: x509.Certificate) -> str:
    """One line for logs: subject, serial, validity (never key material)."""
    start = cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
    end = cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"{short_name(cert)}, serial 0x{cert.serial_number:X}, valid {start} to {end}"
