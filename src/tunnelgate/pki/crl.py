"""Certificate revocation lists: parsing, where a certificate says its CRL lives, fetching.

``load_crl`` and ``crl_urls`` are pure; ``read_crl`` does I/O and is for the daemon (the
engines only see ``TrustpointTrust.crls``). Fetching supports ``file://`` URLs, plain
paths and ``http://``/``https://`` through urllib with a timeout and a size cap; LDAP
distribution points are reported as unsupported. Every failure raises ``CrlError`` (a
``CertificateError``) with the URL and the cause.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from cryptography import x509

from tunnelgate.pki.certificates import CertificateError

MAX_CRL_OCTETS = 16 * 1024 * 1024


class CrlError(CertificateError):
    """A CRL could not be fetched or parsed."""


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """A CRL from PEM, DER or bare base64 DER; ``CrlError`` otherwise."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_crl(data)
        if data[:1] == b"\x30":
            return x509.load_der_x509_crl(data)
        text = b"".join(data.split())
        if text:
            return x509.load_der_x509_crl(base64.b64decode(text, validate=True))
    except Exception as exc:  # ValueError, binascii.Error; pyca may raise others
        raise CrlError(f"not a CRL: {exc}") from None
    raise CrlError("not a CRL: no PEM block and not DER")


def crl_urls(cert: x509.Certificate) -> list[str]:
    """The URIs of the certificate's CRL distribution points, in order."""
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    urls: list[str] = []
    for point in points:
        for general in point.full_name or ():
            if isinstance(general, x509.UniformResourceIdentifier) and general.value not in urls:
                urls.append(general.value)
    return urls


def read_crl(url: str, timeout: float) -> bytes:
    """The bytes at ``url`` (``file://``, a plain path, ``http://`` or ``https://``)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("", "file"):
        path = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path) if scheme else url)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_CRL_OCTETS + 1)
        except OSError as exc:
            raise CrlError(f"cannot read CRL {url}: {exc.strerror or exc}") from None
        return _capped(url, data)
    if scheme not in ("http", "https"):
        raise CrlError(f"cannot fetch CRL {url}: {scheme} URLs are not supported")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            data = response.read(MAX_CRL_OCTETS + 1)
    except urllib.error.HTTPError as exc:
        raise CrlError(f"cannot fetch CRL {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise CrlError(f"cannot fetch CRL {url}: {exc.reason}") from None
    except TimeoutError:
        raise CrlError(f"cannot fetch CRL {url}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise CrlError(f"cannot fetch CRL {url}: {exc}") from None
    return _capped(url, data)


def _capped(url: str, data: bytes) -> bytes:
    if len(data) > MAX_CRL_OCTETS:
        raise CrlError(f"CRL {url} is larger than {MAX_CRL_OCTETS} octets")
    return data
