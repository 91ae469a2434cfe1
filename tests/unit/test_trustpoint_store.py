"""Trustpoint certificates in the key store (``startup.keys``) and ``credentials_for``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.helpers import load
from tests.pki.factory import NOW, make_ca, make_crl, make_leaf
from tunnelgate.pki.credentials import Credentials
from tunnelgate.pki.keystore import KeyStore, KeyStoreError, TrustpointCertificates
from tunnelgate.pki.loading import CrlCache, credentials_for, crl_sources

ROOT = make_ca("Store Root")
GW_KEY, GW_CERT = make_leaf(ROOT, "gw.example.com")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _store(*, key: bool = True, label: str = "GW") -> KeyStore:
    store = KeyStore()
    if key:
        store.import_key(label, GW_KEY, NOW)
    store.set_certificates("TP", TrustpointCertificates((ROOT.certificate,), (GW_CERT,)))
    return store


CONFIG = """\
crypto ca trustpoint TP
 enrollment terminal
 keypair GW
"""

# --------------------------------------------------------------------------- the store


def test_certificates_round_trip_through_bytes() -> None:
    store = _store()
    data = store.to_bytes()
    doc = json.loads(data)
    assert doc["version"] == 1
    assert doc["trustpoints"]["TP"]["ca"] == [_pem(ROOT.certificate).decode()]
    assert doc["trustpoints"]["TP"]["certificate"] == [_pem(GW_CERT).decode()]
    again = KeyStore.from_bytes(data)
    assert again == store
    assert again.certificates("TP").identity == GW_CERT
    assert again.trustpoints() == ["TP"]


def test_a_store_without_certificates_is_written_as_before() -> None:
    store = KeyStore()
    store.import_key("GW", GW_KEY, NOW)
    doc = json.loads(store.to_bytes())
    assert "trustpoints" not in doc and set(doc) == {"format", "version", "keys"}


def test_a_version_1_file_without_trustpoints_reads_unchanged() -> None:
    store = KeyStore()
    store.import_key("GW", GW_KEY, NOW)
    old = json.loads(store.to_bytes())
    again = KeyStore.from_bytes(json.dumps(old).encode())
    assert again == store and again.trustpoints() == []
    assert again.certificates("TP") == TrustpointCertificates()
    assert not again.certificates("TP")


@pytest.mark.parametrize(
    "section",
    [
        [],
        {"TP": {"ca": "not a list"}},
        {"TP": {"ca": ["-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"]}},
        {"TP": {"certificate": [42]}},
    ],
)
def test_a_malformed_trustpoints_section_is_refused(section: object) -> None:
    doc = json.loads(KeyStore().to_bytes())
    doc["trustpoints"] = section
    with pytest.raises(KeyStoreError):
        KeyStore.from_bytes(json.dumps(doc).encode())


def test_repr_shows_names_never_keys() -> None:
    store = _store()
    text = repr(store)
    assert "TP" in text and "GW" in text
    assert "PRIVATE" not in text and "BEGIN" not in text
    pair = store.get("GW")[0]
    assert "PRIVATE" not in repr(pair)


def test_set_and_remove_certificates() -> None:
    store = _store()
    removed = store.remove_trustpoint("TP")
    assert removed.identity == GW_CERT and store.trustpoints() == []
    assert not store.remove_trustpoint("TP")
    store.set_certificates("A", TrustpointCertificates((ROOT.certificate,)))
    store.set_certificates("A", TrustpointCertificates())  # empty: removed
    assert store.trustpoints() == []


def test_imported_key_and_signing_key() -> None:
    store = _store()
    key = store.signing_key("GW")
    assert key is not None and key.private_numbers() == GW_KEY.private_numbers()
    assert store.signing_key("nothing") is None
    with pytest.raises(KeyStoreError):
        store.import_key("GW", GW_KEY, NOW)  # taken
    store.import_key("GW", GW_KEY, NOW, replace=True)


# --------------------------------------------------------------------------- credentials_for


def test_a_complete_trustpoint_gives_trust_and_a_local_credential() -> None:
    config = load(CONFIG + " revocation-check crl none\n")
    crl = make_crl(ROOT).public_bytes(serialization.Encoding.DER)
    credentials, warnings = credentials_for(config, _store(), {"TP": [crl]}, now=NOW)
    assert warnings == []
    local = credentials.local_for("TP")
    assert local is not None and local.certificate == GW_CERT and local.chain == (GW_CERT,)
    trust = credentials.trust["TP"]
    assert trust.ca_certificates == (ROOT.certificate,)
    assert trust.revocation_check == ("crl", "none")
    assert len(trust.crls) == 1 and trust.crls[0].issuer == ROOT.name
    assert bool(credentials)


def test_without_keypair_the_key_is_found_under_the_trustpoint_name() -> None:
    config = load("crypto ca trustpoint TP\n enrollment terminal\n")
    credentials, warnings = credentials_for(config, _store(label="TP"), now=NOW)
    assert warnings == [] and "TP" in credentials.local


def test_unconfigured_or_empty_trustpoints() -> None:
    config = load("crypto ca trustpoint OTHER\n")
    credentials, warnings = credentials_for(config, _store(), now=NOW)
    assert credentials == Credentials() and not credentials
    assert warnings == ["trustpoint TP: certificates stored but it is not configured"]


def test_a_missing_key_pair_gives_trust_only() -> None:
    credentials, warnings = credentials_for(load(CONFIG), _store(key=False), now=NOW)
    assert "TP" in credentials.trust and "TP" not in credentials.local
    assert warnings == ["trustpoint TP: key pair GW is missing"]


def test_a_key_that_does_not_match_gives_no_local_credential() -> None:
    store = _store(key=False)
    other, _ = make_leaf(ROOT, "someone else")
    store.import_key("GW", other, NOW)
    credentials, warnings = credentials_for(load(CONFIG), store, now=NOW)
    assert "TP" not in credentials.local
    assert warnings == ["trustpoint TP: the identity certificate does not match key pair GW"]


def test_no_ca_certificate() -> None:
    store = KeyStore()
    store.import_key("GW", GW_KEY, NOW)
    store.set_certificates("TP", TrustpointCertificates((), (GW_CERT,)))
    credentials, warnings = credentials_for(load(CONFIG), store, now=NOW)
    assert "TP" in credentials.local and "TP" not in credentials.trust
    assert warnings == ["trustpoint TP: no CA certificate (crypto ca authenticate TP)"]


def test_expired_certificates_are_warned_about() -> None:
    later = NOW + timedelta(days=365 * 30)
    credentials, warnings = credentials_for(load(CONFIG), _store(), now=later)
    assert "TP" in credentials.local  # still offered; the peer decides
    assert "trustpoint TP: the identity certificate has expired" in warnings
    assert any("CA certificate CN=Store Root has expired" in w for w in warnings)


def test_revocation_check_crl_without_a_crl_and_a_bad_crl() -> None:
    config = load(CONFIG + " revocation-check crl\n")
    _, warnings = credentials_for(config, _store(), now=NOW)
    assert warnings == ["trustpoint TP: revocation-check crl but no CRL is available"]
    _, warnings = credentials_for(config, _store(), {"TP": [b"garbage"]}, now=NOW)
    assert warnings[0].startswith("trustpoint TP: unreadable CRL ignored")


# --------------------------------------------------------------------------- CRL fetching

CDP_ROOT = make_ca("CDP Root")


def _cdp_ca(url: str) -> x509.Certificate:
    """The CDP root's certificate re-issued with a CRL distribution point."""
    cert = CDP_ROOT.certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(CDP_ROOT.key.public_key())
        .serial_number(cert.serial_number)
        .not_valid_before(cert.not_valid_before_utc)
        .not_valid_after(cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]
            ),
            critical=False,
        )
    )
    from cryptography.hazmat.primitives import hashes

    return builder.sign(CDP_ROOT.key, hashes.SHA256())


def test_crl_cache_fetches_new_and_stale_crls_only() -> None:
    url = "http://crl.example/root.crl"
    store = KeyStore()
    store.set_certificates("TP", TrustpointCertificates((_cdp_ca(url),)))
    config = load(CONFIG + " revocation-check crl\n")
    assert crl_sources(config, store) == {"TP": [url]}
    assert crl_sources(load(CONFIG), store) == {}
    next_update = datetime(2027, 1, 1, tzinfo=UTC)
    crl = make_crl(CDP_ROOT, next_update=next_update).public_bytes(serialization.Encoding.DER)
    calls: list[str] = []

    def fetch(u: str) -> bytes:
        calls.append(u)
        return crl

    cache = CrlCache(fetch)
    assert cache.refresh(config, store, NOW) == ({"TP": [crl]}, [])
    assert cache.refresh(config, store, NOW) == ({"TP": [crl]}, [])
    assert calls == [url]  # cached until nextUpdate
    cache.refresh(config, store, next_update + timedelta(seconds=1))
    assert calls == [url, url]


def test_crl_fetch_failures_are_reported_not_raised() -> None:
    url = "file:///nonexistent.crl"
    store = KeyStore()
    store.set_certificates("TP", TrustpointCertificates((_cdp_ca(url),)))
    config = load(CONFIG + " revocation-check crl\n")

    def fail(u: str) -> bytes:
        raise OSError("no route to host")

    crls, errors = CrlCache(fail).refresh(config, store, NOW)
    assert crls == {} and errors == [f"trustpoint TP: CRL {url} not fetched: no route to host"]


# --------------------------------------------------------------------------- the daemon's loader


def test_the_daemon_loader_reuses_credentials_and_logs_new_warnings_once() -> None:
    from tunnelgate.daemon.run import CredentialLoader

    store = _store(key=False)
    logged: list[str] = []
    loader = CredentialLoader(
        store, fetch=lambda url: b"", log=logged.append, wallclock=lambda: NOW
    )
    config = load(CONFIG)
    first = loader(config)
    assert "TP" in first.trust and not first.local
    assert logged == ["trustpoint TP: key pair GW is missing"]
    assert loader(config) is first and len(logged) == 1  # nothing changed
    store.import_key("GW", GW_KEY, NOW)
    second = loader(config)
    assert second is not first and "TP" in second.local and len(logged) == 1


def test_compile_config_carries_the_credentials() -> None:
    from tunnelgate.config.compile import compile_config

    config = load(CONFIG)
    credentials, _ = credentials_for(config, _store(), now=NOW)
    assert compile_config(config, credentials).credentials is credentials
    assert not compile_config(config).credentials
