"""``tunnelgate pki import`` run as the operator runs it: a subprocess over temporary files."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.pki.factory import make_ca, make_leaf
from tunnelgate.pki.keystore import KeyStore

ROOT = make_ca("Script Root")
OTHER_ROOT = make_ca("Script Other Root")
GW_KEY, GW_CERT = make_leaf(ROOT, "gw.example.com")
CONFIG = """\
hostname gw
crypto ca trustpoint TP
 enrollment terminal
 keypair GW
crypto ca trustpoint BARE
"""


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: object, password: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def pki(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunnelgate", "pki", "import", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "config": tmp_path / "startup.cfg",
        "ca": tmp_path / "ca.pem",
        "other_ca": tmp_path / "other-ca.pem",
        "cert": tmp_path / "gw.pem",
        "key": tmp_path / "gw.key",
        "wrong_key": tmp_path / "wrong.key",
        "p12": tmp_path / "gw.p12",
        "garbage": tmp_path / "garbage.pem",
    }
    paths["config"].write_text(CONFIG)
    paths["ca"].write_bytes(pem(ROOT.certificate))
    paths["other_ca"].write_bytes(pem(OTHER_ROOT.certificate))
    paths["cert"].write_bytes(pem(GW_CERT))
    paths["key"].write_bytes(key_pem(GW_KEY))
    paths["wrong_key"].write_bytes(key_pem(make_leaf(ROOT, "x")[0]))
    paths["p12"].write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"gw", GW_KEY, GW_CERT, [ROOT.certificate], serialization.BestAvailableEncryption(b"pw")
        )
    )
    paths["garbage"].write_text("not a certificate\n")
    return paths


def keystore(files: dict[str, Path]) -> KeyStore:
    return KeyStore.from_bytes((files["config"].parent / "startup.keys").read_bytes())


def test_import_ca_certificate_and_key(files: dict[str, Path]) -> None:
    result = pki(
        "--config", files["config"], "TP", "--ca", files["ca"],
        "--cert", files["cert"], "--key", files["key"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    store_path = files["config"].parent / "startup.keys"
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600
    assert files["config"].read_text() == CONFIG  # the configuration is unchanged
    store = keystore(files)
    held = store.certificates("TP")
    assert held.ca == (ROOT.certificate,) and held.chain == (GW_CERT,)
    assert store.kind_of("GW") == "rsa"
    out = result.stdout
    assert "Trustpoint TP: stored in" in out and "(mode 0600)" in out
    assert "CA certificate: CN=Script Root" in out and "Certificate: CN=gw.example.com" in out
    assert f"serial 0x{GW_CERT.serial_number:X}" in out and "Key pair: GW (RSA)" in out
    assert "PRIVATE" not in out + result.stderr and "BEGIN" not in out
    assert "trustpoints" in json.loads(store_path.read_text())


def test_import_ca_only_then_identity_keeps_other_keys(files: dict[str, Path]) -> None:
    assert pki("--config", files["config"], "TP", "--ca", files["ca"]).returncode == 0
    store = keystore(files)
    assert store.certificates("TP").ca == (ROOT.certificate,) and store.labels() == []
    result = pki(
        "--config", files["config"], "TP", "--ca", files["ca"],
        "--cert", files["cert"], "--key", files["key"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert keystore(files).certificates("TP").identity == GW_CERT


def test_import_pkcs12_without_keypair_uses_the_trustpoint_name(files: dict[str, Path]) -> None:
    result = pki(
        "--config", files["config"], "BARE", "--pkcs12", files["p12"], "--passphrase", "pw"
    )
    assert result.returncode == 0, result.stderr
    store = keystore(files)
    assert store.kind_of("BARE") == "rsa"
    assert store.certificates("BARE").ca == (ROOT.certificate,)
    assert "pw" not in result.stdout.split()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("NOPE", "--ca", "{ca}"), "trustpoint NOPE is not configured"),
        (("TP", "--ca", "{ca}", "--cert", "{cert}", "--key", "{wrong_key}"), "does not match"),
        (("TP", "--ca", "{other_ca}", "--cert", "{cert}", "--key", "{key}"), "does not chain"),
        (("TP", "--ca", "{cert}"), "not a CA certificate"),
        (("TP", "--ca", "{garbage}"), "garbage.pem"),
        (("TP", "--pkcs12", "{p12}", "--passphrase", "bad"), "wrong passphrase"),
    ],
)
def test_refusals_store_nothing(
    files: dict[str, Path], extra: tuple[str, ...], message: str
) -> None:
    args = [a.format(**files) for a in extra]
    result = pki("--config", files["config"], *args)
    assert result.returncode == 1, result.stdout
    assert message in result.stderr and "nothing was stored" in result.stderr
    assert not (files["config"].parent / "startup.keys").exists()
    assert files["config"].read_text() == CONFIG


@pytest.mark.parametrize(
    "extra",
    [
        ("TP", "--cert", "{cert}"),  # no --key
        ("TP", "--pkcs12", "{p12}"),  # no --passphrase
        ("TP",),  # nothing to import
        ("TP", "--ca", "{ca}", "--cert", "{cert}", "--key", "{key}", "--pkcs12", "{p12}"),
        ("TP", "--ca", "/nonexistent/ca.pem"),
    ],
)
def test_usage_errors_exit_2(files: dict[str, Path], extra: tuple[str, ...]) -> None:
    args = [a.format(**files) for a in extra]
    result = pki("--config", files["config"], *args)
    assert result.returncode == 2 and "ERROR" in result.stderr
    assert not (files["config"].parent / "startup.keys").exists()


def test_missing_config_and_help(tmp_path: Path, files: dict[str, Path]) -> None:
    result = pki("--config", tmp_path / "none.cfg", "TP", "--ca", files["ca"])
    assert result.returncode == 2 and "no such file" in result.stderr
    helped = pki("--help")
    assert helped.returncode == 0
    for word in ("--config", "--ca", "--cert", "--key", "--pkcs12", "--passphrase", "0600"):
        assert word in helped.stdout
