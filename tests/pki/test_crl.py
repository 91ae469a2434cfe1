"""CRL parsing, distribution points and fetching."""

from __future__ import annotations

import base64
import contextlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from tests.pki import factory
from tunnelgate.pki.certificates import CertificateError
from tunnelgate.pki.crl import CrlError, crl_urls, load_crl, read_crl


@pytest.fixture(scope="module")
def ca() -> factory.Authority:
    return factory.make_ca("CRL CA", "p256")


def test_load_crl_forms(ca: factory.Authority) -> None:
    crl = factory.make_crl(ca, [1, 2])
    der = crl.public_bytes(serialization.Encoding.DER)
    for data in (crl.public_bytes(serialization.Encoding.PEM), der, base64.encodebytes(der)):
        loaded = load_crl(data)
        assert loaded == crl
        assert loaded.get_revoked_certificate_by_serial_number(2) is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage!", b"\x30\x00", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----"],
)
def test_load_crl_garbage(data: bytes) -> None:
    with pytest.raises(CrlError, match="not a CRL"):
        load_crl(data)


@given(st.binary(max_size=200))
def test_load_crl_only_raises_crl_error(data: bytes) -> None:
    with contextlib.suppress(CertificateError):
        load_crl(data)


def test_crl_urls(ca: factory.Authority) -> None:
    _, cert = factory.make_leaf(
        ca, "x", crl_urls=("http://crl.example.com/ca.crl", "file:///tmp/ca.crl")
    )
    assert crl_urls(cert) == ["http://crl.example.com/ca.crl", "file:///tmp/ca.crl"]
    _, plain = factory.make_leaf(ca, "y")
    assert crl_urls(plain) == []


def test_read_crl_file(tmp_path: Path, ca: factory.Authority) -> None:
    der = factory.make_crl(ca).public_bytes(serialization.Encoding.DER)
    path = tmp_path / "ca crl.der"
    path.write_bytes(der)
    assert read_crl(str(path), 1.0) == der
    assert read_crl(path.as_uri(), 1.0) == der
    with pytest.raises(CrlError, match="cannot read CRL"):
        read_crl(str(tmp_path / "missing.crl"), 1.0)
    with pytest.raises(CrlError, match="ldap URLs are not supported"):
        read_crl("ldap://ldap.example.com/cn=CA", 1.0)


@pytest.fixture
def server(ca: factory.Authority) -> Iterator[str]:
    der = factory.make_crl(ca).public_bytes(serialization.Encoding.DER)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/ca.crl":
                self.send_response(200)
                self.send_header("Content-Length", str(len(der)))
                self.end_headers()
                self.wfile.write(der)
            else:
                self.send_error(404)

        def log_message(self, *_: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_read_crl_http(server: str, ca: factory.Authority) -> None:
    data = read_crl(f"{server}/ca.crl", 5.0)
    assert load_crl(data).issuer == ca.name
    with pytest.raises(CrlError, match="HTTP 404"):
        read_crl(f"{server}/missing.crl", 5.0)


def test_read_crl_http_unreachable() -> None:
    with pytest.raises(CrlError, match=r"cannot fetch CRL http://127\.0\.0\.1:9/"):
        read_crl("http://127.0.0.1:9/ca.crl", 1.0)
