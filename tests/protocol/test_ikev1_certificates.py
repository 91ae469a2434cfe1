"""IKEv1 main mode with certificates between two engines on a fake network (RFC 2409 §5.1,
RFC 4754): ``authentication rsa-sig`` policies, ``ikev1 trust-point`` tunnel groups.

Timeline (HQ initiates towards the branch):

    HQ  --- MM1 SA (auth 3, or 9/10 for an EC identity key) ---------> branch
    HQ  <-- MM2 SA ---------------------------------------------------- branch
    HQ  --- MM3 KE Ni CERTREQ(root DN) [NAT-D] ----------------------> branch
    HQ  <-- MM4 KE Nr CERTREQ(root DN) [NAT-D] ----------------------- branch
    HQ  --- MM5 *{IDii(DN) CERT(hq[, sub CA]) SIG(HASH_I)} ----------> branch
    HQ  <-- MM6 *{IDir(DN) CERT(branch) SIG(HASH_R)} ----------------- branch
    then quick mode, as with pre-shared keys.

Validity dates are checked at ``factory.NOW``: the engines' ``utc_offset_s`` maps the fake
clock onto it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.helpers import load
from tests.pki.factory import NOW, Authority, make_ca, make_leaf, name, new_key
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import Kind, prf_algorithm
from tunnelgate.ike.v1 import decode_envelope
from tunnelgate.ike.v1.constants import CertEncoding, ExchangeType, IdType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import (
    ChildSaEstablished,
    Ikev1Event,
    Ikev1SaEstablished,
    Ikev1SaFailed,
)
from tunnelgate.ike.v1.keymat import hash_i, skeyid_signature
from tunnelgate.ike.v1.main_mode import ECDSA_HASH_PRFS, auth_prf_of, phase1_hash, prf_of
from tunnelgate.ike.v1.message import decode_payloads
from tunnelgate.ike.v1.payloads import CertPayload, CrPayload, Payload
from tunnelgate.ike.v1.phase1_proposal import method_of
from tunnelgate.ike.v1.proposals import SaPayload
from tunnelgate.ike.v1.state import MainModeState, Phase1Sa
from tunnelgate.pki.credentials import Credentials, LocalCredential, SigningKey, TrustpointTrust

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
RSA_SIG = (
    "crypto ikev1 policy 10\n authentication rsa-sig\n encryption aes-256\n hash sha\n group 5\n"
)
PRE_SHARE = "crypto ikev1 policy 10\n encryption aes-256\n hash sha\n group 5\n"


def group(side: dict[str, str], name_: str | None = None, *lines: str) -> str:
    """A tunnel group (named after the side's peer by default) with the given attributes."""
    title = name_ or side["peer"]
    body = "".join(f" {line}\n" for line in lines)
    return f"tunnel-group {title} type ipsec-l2l\ntunnel-group {title} ipsec-attributes\n{body}"


TP_GROUP = ("ikev1 trust-point TP",)


@dataclass
class Side:
    """What one gateway holds: config overrides and its PKI."""

    key: SigningKey
    chain: tuple[object, ...]
    trusted: tuple[Authority, ...]
    overrides: dict[str, str]


ROOT = make_ca("Root CA")


def side(
    who: dict[str, str],
    *,
    cn: str | None = None,
    key_type: str = "rsa",
    ca: Authority = ROOT,
    chain_extra: tuple[Authority, ...] = (),
    trusted: tuple[Authority, ...] = (ROOT,),
    sign_with: SigningKey | None = None,
    subject_ou: str | None = None,
    **overrides: str,
) -> Side:
    subject = name(cn or who["hostname"], ou=subject_ou) if subject_ou else None
    key, cert = make_leaf(
        ca, cn or who["hostname"], key_type, sans=[f"dns:{who['hostname']}.example"],
        subject=subject,
    )  # fmt: skip
    chain = (cert, *(a.certificate for a in chain_extra))
    v = {"ikev1_policy": RSA_SIG, "group": group(who, None, *TP_GROUP)}
    v.update(overrides)
    return Side(sign_with or key, chain, trusted, v)


def engine_for(who: dict[str, str], s: Side, seed: int, clock: FakeClock) -> Ikev1Engine:
    policy = compile_config(load(gateway_text(who, **s.overrides)))
    credentials = Credentials(
        local={"TP": LocalCredential("TP", s.key, s.chain)},  # type: ignore[arg-type]
        trust={"TP": TrustpointTrust("TP", tuple(a.certificate for a in s.trusted))},
    )
    engine = Ikev1Engine(replace(policy, credentials=credentials), "outside", SeededRandom(seed))
    engine.utc_offset_s = NOW.timestamp() - clock.now
    return engine


def setup(hq: Side, branch: Side) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    network = FakeNetwork(FakeClock())
    h = engine_for(HQ, hq, 1, network.clock)
    b = engine_for(BRANCH, branch, 2, network.clock)
    network.attach(HQ_ADDR, h)
    network.attach(BRANCH_ADDR, b)
    return network, h, b


def run(hq: Side, branch: Side) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    network, h, b = setup(hq, branch)
    entry = h.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    h.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run(max_seconds=10)
    return network, h, b


def events(engine: Ikev1Engine) -> list[Ikev1Event]:
    out: list[Ikev1Event] = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return out


def phase1(engine: Ikev1Engine) -> list[Ikev1Event]:
    return [e for e in events(engine) if isinstance(e, Ikev1SaEstablished | Ikev1SaFailed)]


def only_sa(engine: Ikev1Engine) -> Phase1Sa:
    (sa,) = engine.sas.values()
    return sa


def clear_payloads(network: FakeNetwork) -> list[tuple[Payload, ...]]:
    """The payloads of the unencrypted main-mode messages (MM1-MM4)."""
    out = []
    for sent in network.log:
        envelope = decode_envelope(sent.data)
        header = envelope.header
        if header.exchange_type == ExchangeType.MAIN_MODE and not header.is_encrypted:
            out.append(decode_payloads(envelope.first_payload, envelope.body))
    return out


def failed(engine: Ikev1Engine) -> Ikev1SaFailed:
    failures = [e for e in events(engine) if isinstance(e, Ikev1SaFailed)]
    assert failures, "no Ikev1SaFailed"
    return failures[0]


# --------------------------------------------------------------------------- success


def test_rsa_signatures_establish_main_mode_and_quick_mode() -> None:
    network, hq, branch = run(side(HQ), side(BRANCH))
    h_events, b_events = events(hq), events(branch)
    (h,) = [e for e in h_events if isinstance(e, Ikev1SaEstablished)]
    (b,) = [e for e in b_events if isinstance(e, Ikev1SaEstablished)]
    assert h.algorithms == b.algorithms == "aes-256/sha/group 5/rsa-sig"
    assert (h.cookie_i, h.cookie_r) == (b.cookie_i, b.cookie_r)
    # quick mode keys come from SKEYID_d as with pre-shared keys
    assert any(isinstance(e, ChildSaEstablished) for e in h_events)
    assert any(isinstance(e, ChildSaEstablished) for e in b_events)
    sa_h, sa_b = only_sa(hq), only_sa(branch)
    assert sa_h.state is MainModeState.MAIN_I4 and sa_b.state is MainModeState.MAIN_R3
    assert sa_h.keys == sa_b.keys and sa_h.auth_method == sa_b.auth_method == 3
    assert sa_b.peer_identity == "CN=hq" and sa_h.peer_identity == "CN=branch"
    assert sa_b.tunnel_group == BRANCH["peer"]  # tunnel-group-map peer-ip (no map configured)
    assert sa_h.keepalive == sa_b.keepalive == (10, 2)  # DPD with the group's keepalive
    mm1, mm2, mm3, mm4 = clear_payloads(network)[:4]
    offer = next(p for p in mm1 if isinstance(p, SaPayload))
    assert [method_of(t) for t in offer.proposals[0].transforms] == [3]
    # CERTREQ in MM3/MM4: X.509 signature, the trusted root's DN
    for message in (mm3, mm4):
        (cr,) = [p for p in message if isinstance(p, CrPayload)]
        assert cr.encoding == CertEncoding.X509_CERTIFICATE_SIGNATURE
        assert cr.data == ROOT.certificate.subject.public_bytes()
    assert not [p for p in mm1 + mm2 if isinstance(p, CrPayload)]
    # MM5/MM6 with certificates go in fragments (IKEv1 fragmentation), held until whole
    assert set(hq.drops) <= {"fragment-held"} and set(branch.drops) <= {"fragment-held"}


@pytest.mark.parametrize(("key_type", "method"), [("p256", 9), ("p384", 10)])
def test_ecdsa_identity_keys_negotiate_the_rfc_4754_method(key_type: str, method: int) -> None:
    network, hq, branch = run(side(HQ, key_type=key_type), side(BRANCH, key_type=key_type))
    (h,), (b,) = phase1(hq), phase1(branch)
    assert isinstance(h, Ikev1SaEstablished) and isinstance(b, Ikev1SaEstablished)
    offer = next(p for p in clear_payloads(network)[0] if isinstance(p, SaPayload))
    assert [method_of(t) for t in offer.proposals[0].transforms] == [method]
    assert only_sa(hq).auth_method == only_sa(branch).auth_method == method
    assert isinstance(only_sa(branch).peer_certificate.public_key(), ec.EllipticCurvePublicKey)  # type: ignore[union-attr]
    # RFC 4754 §7 (and strongSwan): HASH_I/HASH_R use the curve's HMAC, not the policy's sha
    sa = only_sa(hq)
    assert auth_prf_of(sa) is prf_algorithm(Kind.IKEV2_PRF, ECDSA_HASH_PRFS[method])
    assert len(phase1_hash(hash_i, sa, b"id")) == {9: 32, 10: 48}[method]
    assert auth_prf_of(sa) is not prf_of(sa)


def test_ecdsa_offer_to_a_responder_without_an_ec_certificate_is_refused() -> None:
    _network, hq, branch = run(side(HQ, key_type="p256"), side(BRANCH))
    (b,) = phase1(branch)
    assert isinstance(b, Ikev1SaFailed) and b.notify == "NO_PROPOSAL_CHOSEN"
    assert "ECDSA P-256" in b.reason
    assert failed(hq).notify == "NO_PROPOSAL_CHOSEN"


def test_an_intermediate_ca_is_sent_after_the_identity_certificate() -> None:
    sub = make_ca("Sub CA", issuer=ROOT)
    _network, hq, branch = run(side(HQ, ca=sub, chain_extra=(sub,)), side(BRANCH))
    (h,), (b,) = phase1(hq), phase1(branch)
    assert isinstance(h, Ikev1SaEstablished) and isinstance(b, Ikev1SaEstablished)
    chain = only_sa(branch).peer_certificate
    assert chain is not None and chain.subject.rfc4514_string() == "CN=hq"


def test_tunnel_group_map_rules_pick_the_group() -> None:
    extra = (
        "tunnel-group-map enable rules\n"
        "crypto ca certificate map SALES 10\n subject-name attr ou eq Sales\n"
        "tunnel-group-map SALES 10 SALES-L2L\n"
    )
    groups = group(BRANCH, "SALES-L2L", *TP_GROUP) + group(BRANCH, None, "ikev1 trust-point TP")
    branch = side(BRANCH, group=groups, extra=extra)
    _network, _hq, b_engine = run(side(HQ, subject_ou="Sales"), branch)
    (b,) = phase1(b_engine)
    assert isinstance(b, Ikev1SaEstablished)
    assert only_sa(b_engine).tunnel_group == "SALES-L2L"


def test_no_tunnel_group_matches_when_the_found_group_has_no_trust_point() -> None:
    # the certificate map sends the peer to a group without ikev1 trust-point: refused
    extra = (
        "tunnel-group-map enable rules\n"
        "crypto ca certificate map SALES 10\n subject-name attr ou eq Sales\n"
        "tunnel-group-map SALES 10 SALES-L2L\n"
    )
    groups = group(BRANCH, "SALES-L2L", "peer-id-validate req") + group(BRANCH, None, *TP_GROUP)
    _network, _hq, branch = run(
        side(HQ, subject_ou="Sales"), side(BRANCH, group=groups, extra=extra)
    )
    b = failed(branch)
    assert b.notify == "AUTHENTICATION_FAILED"
    assert "tunnel-group SALES-L2L has no ikev1 trust-point" in b.reason


# --------------------------------------------------------------------------- failures


def test_expired_certificate_is_refused() -> None:
    key, cert = make_leaf(ROOT, "hq", not_after=NOW.replace(year=NOW.year - 1))
    hq = side(HQ)
    hq.key, hq.chain = key, (cert,)
    _network, h, branch = run(hq, side(BRANCH))
    b = failed(branch)
    assert b.notify == "INVALID_CERTIFICATE"
    assert "expired" in b.reason.lower() or "valid" in b.reason.lower()
    assert failed(h).notify == "INVALID_CERTIFICATE"
    assert not h.sas and not branch.sas


def test_certificate_of_an_untrusted_ca_is_refused() -> None:
    other = make_ca("Other CA")
    _network, _hq, branch = run(side(HQ, ca=other), side(BRANCH))
    b = failed(branch)
    assert b.notify == "INVALID_CERTIFICATE"
    assert not branch.sas


def test_the_initiator_refuses_an_untrusted_responder() -> None:
    other = make_ca("Other CA")
    _network, hq, _branch = run(side(HQ), side(BRANCH, ca=other))
    h = failed(hq)
    assert h.notify == "INVALID_CERTIFICATE"
    assert not hq.sas


class OddCertEngine(Ikev1Engine):
    """A peer whose MM5 carries ``cert`` instead of its CERT payloads (None: no CERT)."""

    cert: CertPayload | None = None

    def _signed(self, sa: Phase1Sa, which: Callable[..., bytes]) -> tuple[Payload, ...]:
        payloads = super()._signed(sa, which)
        out: list[Payload] = [p for p in payloads if not isinstance(p, CertPayload)]
        extra: list[Payload] = [self.cert] if self.cert else []
        return tuple(out[:1] + extra + out[1:])


@pytest.mark.parametrize(
    ("cert", "notify"),
    [
        (CertPayload(CertEncoding.X509_CERTIFICATE_SIGNATURE, b"\x30\x03\x02\x01junk"),
         "INVALID_CERT_ENCODING"),
        (CertPayload(CertEncoding.PGP_CERTIFICATE, b"pgp"), "CERT_TYPE_UNSUPPORTED"),
        (None, "CERTIFICATE_UNAVAILABLE"),
    ],
    ids=["garbage", "pgp", "none"],
)  # fmt: skip
def test_unusable_cert_payloads_are_refused(cert: CertPayload | None, notify: str) -> None:
    network, hq, branch = setup(side(HQ), side(BRANCH))
    bad = OddCertEngine(hq.gateway, "outside", SeededRandom(1))
    bad.cert, bad.utc_offset_s = cert, hq.utc_offset_s
    network.attach(HQ_ADDR, bad)
    entry = bad.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    bad.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run(max_seconds=10)
    b = failed(branch)
    assert b.notify == notify
    assert not branch.sas and not bad.sas


@pytest.mark.parametrize(
    ("validate", "outcome"),
    [("req", "INVALID_ID_INFORMATION"), ("cert", "established"), ("nocheck", "established")],
)
def test_address_identity_not_in_the_certificate(validate: str, outcome: str) -> None:
    # HQ identifies itself by address (crypto isakmp identity address); its certificate
    # holds no IP address SAN
    hq = side(HQ, extra="crypto isakmp identity address\n")
    branch = side(BRANCH, group=group(BRANCH, None, *TP_GROUP, f"peer-id-validate {validate}"))
    _network, _h, b_engine = run(hq, branch)
    (b,) = phase1(b_engine)
    if outcome == "established":
        assert isinstance(b, Ikev1SaEstablished)
        assert only_sa(b_engine).peer_identity == HQ_ADDR[0]
    else:
        assert isinstance(b, Ikev1SaFailed) and b.notify == outcome
        assert "not in the certificate" in b.reason


def test_signature_by_another_key_fails_authentication() -> None:
    _network, hq, branch = run(side(HQ, sign_with=new_key("rsa")), side(BRANCH))
    b = failed(branch)
    assert b.notify == "AUTHENTICATION_FAILED"
    assert "SIG" in b.reason
    assert failed(hq).notify == "AUTHENTICATION_FAILED"


def test_initiator_without_a_trust_point_refuses_to_start() -> None:
    network, hq, _branch = setup(
        side(HQ, group=group(HQ, None, "peer-id-validate req")), side(BRANCH)
    )
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    with pytest.raises(ValueError, match=f"tunnel-group {HQ['peer']} has no ikev1 trust-point"):
        hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    assert not hq.sas and not network.log


def test_responder_without_an_identity_certificate_fails_authentication() -> None:
    groups = group(BRANCH, None, "ikev1 trust-point NOPE")
    _network, _hq, branch = run(side(HQ), side(BRANCH, group=groups))
    b = failed(branch)
    assert b.notify == "AUTHENTICATION_FAILED"
    assert "trustpoint NOPE has no identity certificate" in b.reason


def test_unknown_wall_clock_refuses_certificates() -> None:
    network, hq, branch = setup(side(HQ), side(BRANCH))
    branch.utc_offset_s = None
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run(max_seconds=10)
    b = failed(branch)
    assert b.notify == "AUTHENTICATION_FAILED" and "wall-clock" in b.reason


def test_pre_share_against_rsa_sig_is_no_proposal_chosen() -> None:
    psk_group = group(HQ, None, "ikev1 pre-shared-key secret")
    _network, hq, branch = run(side(HQ, ikev1_policy=PRE_SHARE, group=psk_group), side(BRANCH))
    b = failed(branch)
    assert b.notify == "NO_PROPOSAL_CHOSEN" and "authentication" in b.reason
    assert failed(hq).notify == "NO_PROPOSAL_CHOSEN"


def test_the_identity_sent_is_the_subject_dn() -> None:
    _network, _hq, branch = run(side(HQ), side(BRANCH))
    sa = only_sa(branch)
    assert sa.peer_certificate is not None
    assert sa.peer_identity == sa.peer_certificate.subject.rfc4514_string()
    assert int(IdType.ID_DER_ASN1_DN) == 9


# --------------------------------------------------------------------------- aggressive mode

AGGRESSIVE = "crypto map M 10 set ikev1 phase1-mode aggressive\n"


@pytest.mark.parametrize("key_type", ["rsa", "p256"])
def test_aggressive_mode_with_signatures_establishes(key_type: str) -> None:
    """AM1 SA KE Ni IDii(DN) CERTREQ; AM2 SA KE Nr IDir CERT SIG_R CERTREQ; AM3 CERT SIG_I."""
    hq = side(HQ, key_type=key_type, map_extra=AGGRESSIVE)
    network, h_engine, b_engine = run(hq, side(BRANCH, key_type=key_type))
    (h,), (b,) = phase1(h_engine), phase1(b_engine)
    assert isinstance(h, Ikev1SaEstablished) and isinstance(b, Ikev1SaEstablished)
    sa_h, sa_b = only_sa(h_engine), only_sa(b_engine)
    assert sa_h.state is MainModeState.AGGR_I2 and sa_b.state is MainModeState.AGGR_R2
    assert sa_h.keys == sa_b.keys
    assert sa_b.peer_identity == "CN=hq" and sa_h.peer_identity == "CN=branch"
    kinds = [decode_envelope(s.data).header.exchange_type for s in network.log]
    assert ExchangeType.MAIN_MODE not in kinds


def test_aggressive_mode_signature_by_another_key_fails() -> None:
    hq = side(HQ, map_extra=AGGRESSIVE, sign_with=new_key("rsa"))
    _, _h_engine, b_engine = run(hq, side(BRANCH))
    b = failed(b_engine)
    assert b.notify == "AUTHENTICATION_FAILED" and "SIG" in b.reason
    assert not b_engine.sas


def test_aggressive_mode_initiator_refuses_a_bad_responder_signature() -> None:
    _, h_engine, _b_engine = run(
        side(HQ, map_extra=AGGRESSIVE), side(BRANCH, sign_with=new_key("rsa"))
    )
    h = failed(h_engine)
    assert h.notify == "AUTHENTICATION_FAILED" and "SIG" in h.reason
    assert not h_engine.sas


# --------------------------------------------------------------------------- known answer


@pytest.mark.parametrize(("hash_keyword", "digest"), [("sha", "sha1"), ("md5", "md5")])
def test_skeyid_for_signatures_is_prf_of_the_nonces_over_g_xy(
    hash_keyword: str, digest: str
) -> None:
    """RFC 2409 §5: for signatures SKEYID = prf(Ni_b | Nr_b, g^xy), prf = HMAC."""
    nonce_i, nonce_r = bytes(range(16)), bytes(range(100, 132))
    shared = bytes.fromhex("5a" * 128)
    prf: Prf = prf_algorithm(Kind.IKEV1_HASH, hash_keyword)
    expected = hmac.new(nonce_i + nonce_r, shared, digest).digest()
    assert skeyid_signature(prf, nonce_i, nonce_r, shared) == expected
