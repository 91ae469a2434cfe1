"""Peer certificate path validation: every acceptance and rejection path."""

from __future__ import annotations

from datetime import datetime

import pytest
from cryptography import x509

from tests.pki import factory
from tests.pki.factory import FAR_AHEAD, LONG_AGO, NOW
from tunnelgate.pki.credentials import Credentials, TrustpointTrust
from tunnelgate.pki.validation import Rejected, Verified, verify_peer

EARLY = datetime(2026, 1, 1, tzinfo=NOW.tzinfo)
LATE = datetime(2027, 1, 1, tzinfo=NOW.tzinfo)


@pytest.fixture(scope="module")
def root() -> factory.Authority:
    return factory.make_ca("Root CA")


@pytest.fixture(scope="module")
def sub(root: factory.Authority) -> factory.Authority:
    return factory.make_ca("Sub CA", "p256", issuer=root)


def creds(*trusts: TrustpointTrust) -> Credentials:
    return Credentials(trust={t.trustpoint: t for t in trusts})


def trust(
    ca: factory.Authority,
    name: str = "TP",
    revocation: tuple[str, ...] = (),
    crls: tuple[x509.CertificateRevocationList, ...] = (),
) -> TrustpointTrust:
    return TrustpointTrust(name, (ca.certificate,), revocation, crls)


def reason(result: Verified | Rejected) -> str:
    assert isinstance(result, Rejected), result
    return result.reason


def test_direct_leaf_is_verified(root: factory.Authority) -> None:
    _, leaf = factory.make_leaf(root, "peer")
    result = verify_peer([leaf], creds(trust(root)), NOW)
    assert isinstance(result, Verified)
    assert result.trustpoint == "TP" and result.certificate == leaf
    assert result.info.subject == (("cn", "peer"),)
    assert result.info.issuer == (("cn", "Root CA"),)


def test_intermediate_in_any_order_with_junk(
    root: factory.Authority, sub: factory.Authority
) -> None:
    _, leaf = factory.make_leaf(sub, "peer", "p384")
    junk = factory.make_ca("Junk").certificate
    result = verify_peer([leaf, junk, root.certificate, sub.certificate], creds(trust(root)), NOW)
    assert isinstance(result, Verified)
    assert reason(verify_peer([leaf], creds(trust(root)), NOW)) == (
        "issuer CN=Sub CA is not a trusted CA of any trustpoint"
    )


def test_anchor_can_be_the_intermediate(root: factory.Authority, sub: factory.Authority) -> None:
    _, leaf = factory.make_leaf(sub, "peer")
    assert isinstance(verify_peer([leaf], creds(trust(sub)), NOW), Verified)


def test_trustpoint_order_and_restriction(root: factory.Authority) -> None:
    other = factory.make_ca("Other CA", "p256")
    _, leaf = factory.make_leaf(root, "peer")
    both = creds(trust(other, "A"), trust(root, "B"), trust(root, "C"))
    result = verify_peer([leaf], both, NOW)
    assert isinstance(result, Verified) and result.trustpoint == "B"
    result = verify_peer([leaf], both, NOW, trustpoints=["C", "B"])
    assert isinstance(result, Verified) and result.trustpoint == "C"
    assert reason(verify_peer([leaf], both, NOW, trustpoints=["A"])) == (
        "issuer CN=Root CA is not a trusted CA of any trustpoint"
    )
    assert reason(verify_peer([leaf], both, NOW, trustpoints=["missing"])) == (
        "no trustpoint has a CA certificate to validate the peer with"
    )


def test_empty_chain_and_no_trust(root: factory.Authority) -> None:
    assert reason(verify_peer([], creds(trust(root)), NOW)) == "the peer sent no certificate"
    _, leaf = factory.make_leaf(root, "peer")
    assert "no trustpoint" in reason(verify_peer([leaf], Credentials(), NOW))


def test_leaf_dates(root: factory.Authority) -> None:
    _, expired = factory.make_leaf(root, "x", not_after=EARLY)
    assert reason(verify_peer([expired], creds(trust(root)), NOW)) == (
        "certificate CN=x expired on 2026-01-01 00:00 UTC"
    )
    _, future = factory.make_leaf(root, "y", not_before=LATE)
    assert reason(verify_peer([future], creds(trust(root)), NOW)) == (
        "certificate CN=y is not yet valid until 2027-01-01 00:00 UTC"
    )


def test_naive_now_is_utc(root: factory.Authority) -> None:
    _, leaf = factory.make_leaf(root, "x", not_after=EARLY)
    assert "expired" in reason(verify_peer([leaf], creds(trust(root)), NOW.replace(tzinfo=None)))


def test_intermediate_and_anchor_dates(root: factory.Authority) -> None:
    old_sub = factory.make_ca("Old Sub", issuer=root, not_after=EARLY)
    _, leaf = factory.make_leaf(old_sub, "peer")
    assert reason(verify_peer([leaf, old_sub.certificate], creds(trust(root)), NOW)) == (
        "certificate CN=Old Sub expired on 2026-01-01 00:00 UTC"
    )
    young_root = factory.make_ca("Young Root", not_before=LATE)
    _, leaf = factory.make_leaf(young_root, "peer")
    assert reason(verify_peer([leaf], creds(trust(young_root)), NOW)) == (
        "certificate CN=Young Root is not yet valid until 2027-01-01 00:00 UTC"
    )


def test_signature_does_not_verify(root: factory.Authority) -> None:
    impostor = factory.make_ca("Root CA", "p256")  # same name, other key
    _, leaf = factory.make_leaf(impostor, "x")
    assert reason(verify_peer([leaf], creds(trust(root)), NOW)) == (
        "signature of CN=x does not verify with CN=Root CA"
    )


def test_issuer_must_be_a_ca(root: factory.Authority) -> None:
    not_ca = factory.make_ca("Not CA", issuer=root, ca=False)
    _, leaf = factory.make_leaf(not_ca, "x")
    assert reason(verify_peer([leaf, not_ca.certificate], creds(trust(root)), NOW)) == (
        "issuer CN=Not CA is not a CA (basicConstraints)"
    )
    bare = factory.make_ca("Bare", issuer=root, basic_constraints=False)
    _, leaf = factory.make_leaf(bare, "x")
    assert reason(verify_peer([leaf, bare.certificate], creds(trust(root)), NOW)) == (
        "issuer CN=Bare is not a CA (basicConstraints)"
    )
    bare_root = factory.make_ca("Bare Root", basic_constraints=False)
    _, leaf = factory.make_leaf(bare_root, "x")
    assert "not a CA" in reason(verify_peer([leaf], creds(trust(bare_root)), NOW))


def test_path_length_constraint() -> None:
    strict_root = factory.make_ca("Strict Root", path_length=0)
    sub = factory.make_ca("Sub of Strict", issuer=strict_root)
    _, leaf = factory.make_leaf(sub, "x")
    assert reason(verify_peer([leaf, sub.certificate], creds(trust(strict_root)), NOW)) == (
        "path length constraint of CN=Strict Root (0) is exceeded"
    )
    _, direct = factory.make_leaf(strict_root, "y")
    assert isinstance(verify_peer([direct], creds(trust(strict_root)), NOW), Verified)
    one = factory.make_ca("One Root", path_length=1)
    sub1 = factory.make_ca("Sub1", issuer=one)
    sub2 = factory.make_ca("Sub2", issuer=sub1)
    _, deep = factory.make_leaf(sub2, "z")
    chain = [deep, sub2.certificate, sub1.certificate]
    assert "path length constraint of CN=One Root (1)" in reason(
        verify_peer(chain, creds(trust(one)), NOW)
    )
    _, ok = factory.make_leaf(sub1, "w")
    assert isinstance(verify_peer([ok, sub1.certificate], creds(trust(one)), NOW), Verified)


def test_leaf_key_usage(root: factory.Authority) -> None:
    _, enc_only = factory.make_leaf(root, "x", key_usage=("key_encipherment",))
    assert reason(verify_peer([enc_only], creds(trust(root)), NOW)) == (
        "certificate CN=x: key usage does not allow digital signatures"
    )
    _, nr = factory.make_leaf(root, "y", key_usage=("content_commitment",))
    assert isinstance(verify_peer([nr], creds(trust(root)), NOW), Verified)
    _, none = factory.make_leaf(root, "z", key_usage=None)
    assert isinstance(verify_peer([none], creds(trust(root)), NOW), Verified)


# --------------------------------------------------------------------------- revocation


def test_crl_revoked_and_good(root: factory.Authority) -> None:
    _, revoked = factory.make_leaf(root, "bad", serial=0x1A)
    _, good = factory.make_leaf(root, "good", serial=0x1B)
    crl = factory.make_crl(root, [0x1A])
    tp = creds(trust(root, revocation=("crl",), crls=(crl,)))
    assert reason(verify_peer([revoked], tp, NOW)) == (
        "certificate serial 0x1A is revoked (CRL of CN=Root CA)"
    )
    assert isinstance(verify_peer([good], tp, NOW), Verified)
    fallback = creds(trust(root, revocation=("crl", "none"), crls=(crl,)))
    assert "revoked" in reason(verify_peer([revoked], fallback, NOW))


def test_crl_of_intermediate(root: factory.Authority, sub: factory.Authority) -> None:
    _, leaf = factory.make_leaf(sub, "peer", serial=77)
    crl_root = factory.make_crl(root, [sub.certificate.serial_number])
    crl_sub = factory.make_crl(sub, [])
    tp = creds(trust(root, revocation=("crl",), crls=(crl_sub,)))
    assert reason(verify_peer([leaf, sub.certificate], tp, NOW)) == (
        "no current CRL for CN=Root CA"
    )
    tp = creds(trust(root, revocation=("crl",), crls=(crl_sub, crl_root)))
    assert reason(verify_peer([leaf, sub.certificate], tp, NOW)) == (
        f"certificate serial 0x{sub.certificate.serial_number:X} is revoked (CRL of CN=Root CA)"
    )


def test_no_current_crl(root: factory.Authority) -> None:
    _, leaf = factory.make_leaf(root, "peer")
    stale = factory.make_crl(root, [], next_update=EARLY)
    forged = factory.make_crl(root, [], signing_key=factory.key("rsa", 77))
    future = factory.make_crl(root, [], last_update=LATE, next_update=FAR_AHEAD)
    other_issuer = factory.make_crl(factory.make_ca("Other"), [])
    for crls in [(), (stale,), (forged,), (future,), (other_issuer,)]:
        tp = creds(trust(root, revocation=("crl",), crls=crls))
        assert reason(verify_peer([leaf], tp, NOW)) == "no current CRL for CN=Root CA", crls
    tp = creds(trust(root, revocation=("crl", "none"), crls=(stale,)))
    assert isinstance(verify_peer([leaf], tp, NOW), Verified)
    tp = creds(trust(root, revocation=("none",)))
    assert isinstance(verify_peer([leaf], tp, NOW), Verified)


def test_ocsp_is_unavailable(root: factory.Authority) -> None:
    _, leaf = factory.make_leaf(root, "peer")
    assert reason(verify_peer([leaf], creds(trust(root, revocation=("ocsp",))), NOW)) == (
        "revocation check ocsp is not supported"
    )
    tp = creds(trust(root, revocation=("ocsp", "none")))
    assert isinstance(verify_peer([leaf], tp, NOW), Verified)
    crl = factory.make_crl(root, [])
    tp = creds(trust(root, revocation=("ocsp", "crl"), crls=(crl,)))
    assert isinstance(verify_peer([leaf], tp, NOW), Verified)


def test_specific_reason_wins_over_untrusted(root: factory.Authority) -> None:
    other = factory.make_ca("Other CA", "p256")
    _, leaf = factory.make_leaf(root, "peer", serial=5)
    crl = factory.make_crl(root, [5])
    both = creds(trust(other, "A"), trust(root, "B", ("crl",), (crl,)))
    assert "revoked" in reason(verify_peer([leaf], both, NOW))


def test_ca_key_usage_must_allow_cert_sign(root: factory.Authority) -> None:
    # a CA certificate whose keyUsage lacks keyCertSign: build it by hand
    from cryptography.hazmat.primitives import hashes

    key = factory.key("p256", 30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(factory.name("No Sign"))
        .issuer_name(root.name)
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(LONG_AGO)
        .not_valid_after(FAR_AHEAD)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, True, False, False),
            critical=True,
        )
        .sign(root.key, hashes.SHA256())
    )
    no_sign = factory.Authority(key, cert)
    _, leaf = factory.make_leaf(no_sign, "x")
    assert reason(verify_peer([leaf, cert], creds(trust(root)), NOW)) == (
        "key usage of CN=No Sign does not allow certificate signing"
    )
