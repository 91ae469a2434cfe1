"""``pki.loading.crl_sources``: which CRL URLs a trustpoint's ``crl configure`` policy names,
and a static ``file://`` CRL read through the daemon's fetcher revoking a peer."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.helpers import load
from tests.pki.factory import NOW, make_ca, make_crl, make_leaf
from tunnelgate.pki.crl import read_crl
from tunnelgate.pki.keystore import KeyStore, TrustpointCertificates
from tunnelgate.pki.loading import CrlCache, credentials_for, crl_sources
from tunnelgate.pki.validation import Rejected, Verified, verify_peer

ROOT_CDP = "http://crl.example/root-ca.crl"  # on the root itself (rare)
LEAF_CDP = "http://crl.example/issuing.crl"  # on our identity certificate
ROOT = make_ca("Sources Root")
GW_KEY, GW_CERT = make_leaf(ROOT, "gw", crl_urls=(LEAF_CDP,))
_, CDP_ROOT_SIGNED = make_leaf(ROOT, "cdp-root", crl_urls=(ROOT_CDP, LEAF_CDP))


def _store(*, identity: bool = True) -> KeyStore:
    store = KeyStore()
    store.import_key("GW", GW_KEY, NOW)
    # a CA certificate carrying a distribution point: a leaf stands in for it here, since
    # crl_sources only reads the extension
    store.set_certificates(
        "TP",
        TrustpointCertificates((CDP_ROOT_SIGNED,), (GW_CERT,) if identity else ()),
    )
    return store


def _config(crl: str = "", revocation: str = "crl") -> str:
    return (
        "crypto ca trustpoint TP\n enrollment terminal\n keypair GW\n"
        f" revocation-check {revocation}\n" + (f" crl configure\n{crl}" if crl else "")
    )


STATIC_URLS = "  url 3 file:///tmp/three.crl\n  url 1 http://static.example/one.crl\n"


def test_cdp_is_the_default_and_reads_ca_and_identity_certificates() -> None:
    assert crl_sources(load(_config()), _store()) == {"TP": [ROOT_CDP, LEAF_CDP]}
    assert crl_sources(load(_config()), _store(identity=False)) == {"TP": [ROOT_CDP, LEAF_CDP]}


def test_cdp_ignores_static_urls() -> None:
    config = load(_config("  policy cdp\n" + STATIC_URLS))
    assert crl_sources(config, _store()) == {"TP": [ROOT_CDP, LEAF_CDP]}


def test_cdp_with_the_identity_chain_only() -> None:
    store = KeyStore()
    store.set_certificates("TP", TrustpointCertificates((ROOT.certificate,), (GW_CERT,)))
    assert crl_sources(load(_config()), store) == {"TP": [LEAF_CDP]}


def test_static_uses_the_configured_urls_in_index_order() -> None:
    config = load(_config("  policy static\n" + STATIC_URLS))
    assert crl_sources(config, _store()) == {
        "TP": ["http://static.example/one.crl", "file:///tmp/three.crl"]
    }
    # no certificates at all: the static URLs are still fetched
    assert crl_sources(config, KeyStore()) == {
        "TP": ["http://static.example/one.crl", "file:///tmp/three.crl"]
    }


def test_static_without_urls_names_nothing() -> None:
    assert crl_sources(load(_config("  policy static\n")), _store()) == {}


def test_both_is_static_first_then_cdp_without_duplicates() -> None:
    config = load(_config(f"  policy both\n{STATIC_URLS}  url 4 {LEAF_CDP}\n"))
    assert crl_sources(config, _store()) == {
        "TP": ["http://static.example/one.crl", "file:///tmp/three.crl", LEAF_CDP, ROOT_CDP]
    }


@pytest.mark.parametrize("revocation", ["none", "ocsp"])
def test_only_trustpoints_with_revocation_check_crl(revocation: str) -> None:
    config = load(_config("  policy static\n" + STATIC_URLS, revocation))
    assert crl_sources(config, _store()) == {}


def _der(revoked: list[int]) -> bytes:
    return make_crl(ROOT, revoked).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(("revoked", "verified"), [([0x5EED], False), ([], True)])
def test_a_static_file_crl_reaches_validation(
    tmp_path: Path, revoked: list[int], verified: bool
) -> None:
    _, peer = make_leaf(ROOT, "peer", serial=0x5EED)
    (tmp_path / "ca.crl").write_bytes(_der(revoked))
    config = load(_config(f"  policy static\n  url 1 file://{tmp_path}/ca.crl\n"))
    store = KeyStore()
    store.import_key("GW", GW_KEY, NOW)
    store.set_certificates("TP", TrustpointCertificates((ROOT.certificate,), (GW_CERT,)))
    crls, errors = CrlCache(lambda url: read_crl(url, 5.0)).refresh(config, store, NOW)
    assert errors == [] and len(crls["TP"]) == 1
    credentials, warnings = credentials_for(config, store, crls, now=NOW)
    assert warnings == []
    outcome = verify_peer([peer], credentials, NOW)
    if verified:
        assert isinstance(outcome, Verified)
    else:
        assert isinstance(outcome, Rejected)
        assert outcome.reason == "certificate serial 0x5EED is revoked (CRL of CN=Sources Root)"


def test_a_missing_static_file_is_a_reported_failure(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/absent.crl"
    config = load(_config(f"  policy static\n  url 1 {url}\n"))
    crls, errors = CrlCache(lambda u: read_crl(u, 5.0)).refresh(config, _store(), NOW)
    assert crls == {}
    assert len(errors) == 1 and errors[0].startswith(f"trustpoint TP: CRL {url} not fetched")
