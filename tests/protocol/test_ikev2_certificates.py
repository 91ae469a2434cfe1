"""IKEv2 certificate authentication between two engines on a fake network (RFC 7296 §2.15,
§3.6-3.8; RFC 7427 digital signatures; RFC 4754 ECDSA; RFC 7383 fragments).

Timelines (HQ initiates towards the branch; both have credentials):

    HQ  --- IKE_SA_INIT: SA KE Ni N(NAT_D)* N(FRAG_SUP) N(SIGNATURE_HASH_ALGORITHMS) ---> branch
    HQ  <-- IKE_SA_INIT: SA KE Nr CERTREQ N(NAT_D)* N(FRAG_SUP) N(SIGNATURE_HASH_ALGS) -- branch
    HQ  --- IKE_AUTH: SK{IDi CERT+ CERTREQ AUTH SAi2 TSi TSr} ---------------------------> branch
    HQ  <-- IKE_AUTH: SK{IDr CERT+ AUTH SAr2 TSi TSr} ------------------------------------ branch

The wall-clock time of certificate validity comes in as ``engine.utc_offset_s`` (UTC epoch
seconds = the fake clock's ``now`` + offset), set here so that ``now`` is ``factory.NOW``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.helpers import load
from tests.pki.factory import NOW, Authority, key, make_ca, make_leaf, name
from tests.protocol.network import FakeClock, FakeNetwork, SeededRandom
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v2 import ike_auth
from tunnelgate.ike.v2.constants import AuthMethod, ExchangeType, NotifyType
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import (
    AnyEvent,
    ChildSaEstablished,
    IkeSaEstablished,
    IkeSaFailed,
)
from tunnelgate.ike.v2.message import decode_header, decode_message
from tunnelgate.ike.v2.payloads import CertPayload, CertreqPayload, NotifyPayload, Payload
from tunnelgate.pki import signatures
from tunnelgate.pki.credentials import Credentials, LocalCredential, TrustpointTrust
from tunnelgate.policy.ike import CertificateRule, PreSharedKey, TunnelGroup, TunnelGroupMap

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
UP = [IkeSaEstablished, ChildSaEstablished]
TP = "TP"


# --------------------------------------------------------------------------- test PKI


@cache
def root() -> Authority:
    return make_ca("Root CA")


@cache
def other_root() -> Authority:
    return make_ca("Other Root CA")


@cache
def leaf(side: str, key_type: str = "rsa") -> LocalCredential:
    """The identity certificate of ``hq`` or ``branch``, issued by ``root()``."""
    address = HQ_ADDR[0] if side == "hq" else BRANCH_ADDR[0]
    private, cert = make_leaf(
        root(), side, key_type, sans=(f"ip:{address}", f"dns:{side}.example.com")
    )
    return LocalCredential(TP, private, (cert,))


CA = Authority | x509.Certificate


def trust(*cas: CA) -> dict[str, TrustpointTrust]:
    certs = tuple(ca.certificate if isinstance(ca, Authority) else ca for ca in cas)
    return {TP: TrustpointTrust(TP, certs)}


def credentials(local: LocalCredential | None, *cas: CA) -> Credentials:
    return Credentials(local={TP: local} if local else {}, trust=trust(*(cas or (root(),))))


def cert_group(peer: str, **over: Any) -> TunnelGroup:
    """A group that signs with trustpoint TP and accepts the peer's certificate."""
    fields: dict[str, Any] = {
        "ikev2_local_certificate": TP,
        "ikev2_remote_certificate": True,
        "keepalive": None,
    }
    fields.update(over)
    return TunnelGroup(peer, "ipsec-l2l", **fields)


PSK = PreSharedKey(b"v2secret")


def psk_over() -> dict[str, Any]:
    return {"ikev2_local_psk": PSK, "ikev2_remote_psk": PSK}


# --------------------------------------------------------------------------- engines


def engine(
    side: dict[str, str],
    seed: int,
    creds: Credentials,
    group: TunnelGroup,
    extra: str = "",
    **policy_over: Any,
) -> Ikev2Engine:
    policy = compile_config(load(gateway_text(side, extra=extra)))
    groups = {**policy.tunnel_groups, group.name: group}
    policy = dataclasses.replace(policy, credentials=creds, tunnel_groups=groups, **policy_over)
    return Ikev2Engine(policy, "outside", SeededRandom(seed))


def connect(hq: Ikev2Engine, branch: Ikev2Engine) -> FakeNetwork:
    network = FakeNetwork(FakeClock())
    for e in (hq, branch):
        e.utc_offset_s = NOW.timestamp() - network.clock.now
    network.attach(HQ_ADDR, hq)
    network.attach(BRANCH_ADDR, branch)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run()
    return network


def events(e: Ikev2Engine) -> list[AnyEvent]:
    out = []
    while (event := e.next_event()) is not None:
        out.append(event)
    return out


def kinds(e: Ikev2Engine) -> list[type]:
    return [type(x) for x in events(e)]


def failure(e: Ikev2Engine) -> IkeSaFailed:
    found = [x for x in events(e) if isinstance(x, IkeSaFailed)]
    assert len(found) == 1, found
    return found[0]


def pair(
    hq_local: LocalCredential | None = None,
    branch_local: LocalCredential | None = None,
    *,
    hq_group: dict[str, Any] | None = None,
    branch_group: dict[str, Any] | None = None,
    hq_trust: tuple[CA, ...] = (),
    branch_trust: tuple[CA, ...] = (),
    hq_extra: str = "",
    branch_extra: str = "",
    hq_policy: dict[str, Any] | None = None,
    branch_policy: dict[str, Any] | None = None,
) -> tuple[FakeNetwork, Ikev2Engine, Ikev2Engine]:
    hq = engine(
        HQ,
        1,
        credentials(hq_local or leaf("hq"), *hq_trust),
        cert_group(HQ["peer"], **(hq_group or {})),
        hq_extra,
        **(hq_policy or {}),
    )
    branch = engine(
        BRANCH,
        2,
        credentials(branch_local or leaf("branch"), *branch_trust),
        cert_group(BRANCH["peer"], **(branch_group or {})),
        branch_extra,
        **(branch_policy or {}),
    )
    return connect(hq, branch), hq, branch


@pytest.fixture
def methods(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The AUTH methods of the signatures the engines verify, in order."""
    seen: list[int] = []
    real = signatures.ikev2_verify

    def spy(public_key: Any, method: int, auth_data: bytes, octets: bytes) -> str | None:
        seen.append(method)
        return real(public_key, method, auth_data, octets)

    monkeypatch.setattr(ike_auth, "ikev2_verify", spy)
    yield seen


def no_hash_notify(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither side announces SIGNATURE_HASH_ALGORITHMS: the classic methods are used."""
    monkeypatch.setattr(Ikev2Engine, "_signature_hashes", lambda self: [])


def init_payloads(network: FakeNetwork, index: int) -> tuple[Payload, ...]:
    data = network.log[index].data
    assert decode_header(data).exchange_type == ExchangeType.IKE_SA_INIT
    return decode_message(data).payloads


# --------------------------------------------------------------------------- success


def test_rsa_certificates_both_ways_with_rfc7427_signatures(methods: list[int]) -> None:
    network, hq, branch = pair()
    assert kinds(hq) == UP and kinds(branch) == UP
    assert methods == [AuthMethod.DIGITAL_SIGNATURE] * 2  # branch checks HQ, then HQ branch
    request, response = init_payloads(network, 0), init_payloads(network, 1)
    hashes = NotifyPayload(NotifyType.SIGNATURE_HASH_ALGORITHMS, bytes.fromhex("000200030004"))
    assert hashes in request and hashes in response
    # the responder asks for certificates of the CA it trusts (SHA-1 of the CA's key)
    certreq = [p for p in response if isinstance(p, CertreqPayload)]
    assert len(certreq) == 1 and certreq[0].encoding == 4 and len(certreq[0].data) == 20
    assert not any(isinstance(p, CertreqPayload) for p in request)
    (sa_h,) = hq.sas.values()
    (sa_b,) = branch.sas.values()
    assert sa_h.peer_hashes == sa_b.peer_hashes == frozenset({2, 3, 4})


def test_rsa_method_1_when_no_hash_algorithms_are_announced(
    methods: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    no_hash_notify(monkeypatch)
    _, hq, branch = pair()
    assert kinds(hq) == UP and kinds(branch) == UP
    assert methods == [AuthMethod.RSA_DIGITAL_SIGNATURE] * 2


@pytest.mark.parametrize(
    ("key_type", "announced", "method"),
    [
        ("p256", True, AuthMethod.DIGITAL_SIGNATURE),
        ("p256", False, AuthMethod.ECDSA_SHA_256_P256),
        ("p384", True, AuthMethod.DIGITAL_SIGNATURE),
        ("p384", False, AuthMethod.ECDSA_SHA_384_P384),
    ],
)
def test_ecdsa_certificates(
    key_type: str,
    announced: bool,
    method: int,
    methods: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not announced:
        no_hash_notify(monkeypatch)
    _, hq, branch = pair(leaf("hq", key_type), leaf("branch", key_type))
    assert kinds(hq) == UP and kinds(branch) == UP
    assert methods == [method] * 2


def test_rsa_one_way_and_ecdsa_the_other(methods: list[int]) -> None:
    _, hq, branch = pair(leaf("hq", "p256"), leaf("branch", "rsa"))
    assert kinds(hq) == UP and kinds(branch) == UP


def test_initiator_signs_and_responder_answers_with_a_pre_shared_key(methods: list[int]) -> None:
    # HQ: certificate out, PSK in; the branch: PSK out, certificate in
    _, hq, branch = pair(
        hq_group={"ikev2_remote_certificate": False, "ikev2_remote_psk": PSK},
        branch_group={"ikev2_local_certificate": None, "ikev2_local_psk": PSK},
    )
    assert kinds(hq) == UP and kinds(branch) == UP
    assert methods == [AuthMethod.DIGITAL_SIGNATURE]  # only the branch verified a signature


def test_initiator_uses_a_pre_shared_key_and_responder_a_certificate(methods: list[int]) -> None:
    _, hq, branch = pair(
        hq_group={"ikev2_local_certificate": None, "ikev2_local_psk": PSK},
        branch_group={"ikev2_remote_certificate": False, "ikev2_remote_psk": PSK},
    )
    assert kinds(hq) == UP and kinds(branch) == UP
    assert methods == [AuthMethod.DIGITAL_SIGNATURE]  # only HQ verified a signature


def test_intermediate_ca_chain_is_sent_and_validated_to_the_root() -> None:
    sub = make_ca("Sub CA", issuer=root())
    private, cert = make_leaf(sub, "hq", sans=("ip:203.0.113.1",))
    _network, hq, branch = pair(LocalCredential(TP, private, (cert, sub.certificate)))
    assert kinds(hq) == UP and kinds(branch) == UP


def test_certificate_request_in_ike_auth_when_the_initiator_trusts_a_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[list[Payload]] = []
    real = Ikev2Engine._send_encrypted

    def spy(self: Ikev2Engine, sa: Any, exchange: Any, payloads: list[Payload], **kw: Any) -> None:
        if exchange == ExchangeType.IKE_AUTH:
            sent.append(payloads)
        real(self, sa, exchange, payloads, **kw)

    monkeypatch.setattr(Ikev2Engine, "_send_encrypted", spy)
    _, hq, _branch = pair()
    assert kinds(hq) == UP
    request, response = sent
    # IDi, CERT, CERTREQ, AUTH (RFC 7296 §1.2); IDr, CERT, AUTH
    assert [type(p).__name__ for p in request][:4] == [
        "IdiPayload",
        "CertPayload",
        "CertreqPayload",
        "AuthPayload",
    ]
    assert [type(p).__name__ for p in response][:3] == ["IdrPayload", "CertPayload", "AuthPayload"]


# --------------------------------------------------------------------------- fragmentation


@cache
def big_chain() -> LocalCredential:
    """A 3-certificate chain of 4096-bit RSA keys: root, intermediate, leaf."""
    keys = [rsa.generate_private_key(65537, 4096) for _ in range(3)]
    big_root = make_ca("Big Root", signing_key=keys[0])
    sub = make_ca("Big Sub", issuer=big_root, signing_key=keys[1])
    _, cert = make_leaf(sub, "hq", private_key=keys[2], sans=("ip:203.0.113.1",))
    return LocalCredential(TP, keys[2], (cert, sub.certificate, big_root.certificate))


def test_a_4096_bit_chain_of_three_rides_on_ikev2_fragmentation() -> None:
    chain = big_chain()
    network, hq, branch = pair(chain, branch_trust=(chain.chain[2], root()))
    assert kinds(hq) == UP and kinds(branch) == UP
    auth_request = [s for s in network.log[2:] if s.source == HQ_ADDR]
    assert len(auth_request) > 4  # >5 kB of certificates in 576-octet datagrams
    assert all(len(s.data) + 28 <= 576 for s in network.log)


def test_the_4096_bit_chain_is_sent_whole_without_fragmentation() -> None:
    chain = big_chain()
    network, hq, branch = pair(
        chain, branch_trust=(chain.chain[2], root()), hq_extra="no crypto ikev2 fragmentation\n"
    )
    assert kinds(hq) == UP and kinds(branch) == UP
    assert len(network.log) == 4 and len(network.log[2].data) > 4000


# --------------------------------------------------------------------------- failures


def refused(hq: Ikev2Engine, branch: Ikev2Engine) -> str:
    """The responder refused IKE_AUTH: its reason (HQ saw AUTHENTICATION_FAILED)."""
    theirs = failure(branch)
    ours = failure(hq)
    assert theirs.notify == ours.notify == "AUTHENTICATION_FAILED"
    assert not hq.sas and not branch.sas
    return theirs.reason


def test_expired_certificate_is_refused() -> None:
    private, cert = make_leaf(root(), "hq", not_after=NOW - timedelta(days=1))
    _, hq, branch = pair(LocalCredential(TP, private, (cert,)))
    assert "expired" in refused(hq, branch).lower()


def test_not_yet_valid_certificate_is_refused() -> None:
    private, cert = make_leaf(root(), "hq", not_before=NOW + timedelta(days=1))
    _, hq, branch = pair(LocalCredential(TP, private, (cert,)))
    assert "not yet valid" in refused(hq, branch).lower()


def test_certificate_of_an_untrusted_ca_is_refused() -> None:
    private, cert = make_leaf(other_root(), "hq")
    _, hq, branch = pair(LocalCredential(TP, private, (cert,)))
    assert "not a trusted CA" in refused(hq, branch)


def test_garbage_certificate_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        ike_auth, "certificate_payloads", lambda chain: [CertPayload(4, b"\x30\x03garbage")]
    )
    _, hq, branch = pair()
    assert "cannot be read" in refused(hq, branch)


def test_signature_without_a_certificate_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ike_auth, "certificate_payloads", lambda chain: [])
    _, hq, branch = pair()
    assert "no certificate" in refused(hq, branch)


def dns_only() -> LocalCredential:
    """HQ's certificate without its address: an ID_IPV4_ADDR identity is not in it."""
    private, cert = make_leaf(root(), "hq", sans=("dns:hq.example.com",))
    return LocalCredential(TP, private, (cert,))


ADDRESS = {"identity": "address"}  # crypto isakmp identity address


def test_identity_that_does_not_match_the_certificate_under_peer_id_validate_req() -> None:
    _, hq, branch = pair(dns_only(), hq_policy=ADDRESS)
    reason = refused(hq, branch)
    assert "identity 203.0.113.1 does not match the certificate" in reason


def test_identity_mismatch_is_accepted_under_peer_id_validate_nocheck() -> None:
    _, hq, branch = pair(
        dns_only(), hq_policy=ADDRESS, branch_group={"peer_id_validate": "nocheck"}
    )
    assert kinds(hq) == UP and kinds(branch) == UP


def test_address_identity_in_the_certificate_is_accepted_under_req() -> None:
    _, hq, branch = pair(hq_policy=ADDRESS)  # leaf("hq") has ip:203.0.113.1
    assert kinds(hq) == UP and kinds(branch) == UP


def test_peer_id_validate_cert_checks_only_identities_the_certificate_carries() -> None:
    # no iPAddress in the certificate: the address identity is not checked
    _, hq, branch = pair(dns_only(), hq_policy=ADDRESS, branch_group={"peer_id_validate": "cert"})
    assert kinds(hq) == UP and kinds(branch) == UP
    # an iPAddress that is not HQ's: checked, and refused
    private, cert = make_leaf(root(), "hq", sans=("ip:192.0.2.99",))
    _, hq, branch = pair(
        LocalCredential(TP, private, (cert,)),
        hq_policy=ADDRESS,
        branch_group={"peer_id_validate": "cert"},
    )
    assert "does not match" in refused(hq, branch)


def test_signature_made_with_a_key_that_is_not_the_certificates() -> None:
    genuine = leaf("hq")
    _, hq, branch = pair(LocalCredential(TP, key("rsa", 99), genuine.chain))
    assert "signature" in refused(hq, branch).lower()


def test_responder_group_without_remote_authentication_certificate() -> None:
    _, hq, branch = pair(branch_group={"ikev2_remote_certificate": False})
    assert "remote-authentication certificate" in refused(hq, branch)


def test_initiator_group_without_remote_authentication_certificate_refuses_a_signature() -> None:
    _, hq, _branch = pair(
        hq_group={"ikev2_remote_certificate": False, "ikev2_remote_psk": PSK},
    )
    reason = failure(hq)
    assert reason.notify == "AUTHENTICATION_FAILED"
    assert "remote-authentication certificate" in reason.reason
    assert not hq.sas


def test_responders_certificate_from_an_untrusted_ca_is_refused_by_the_initiator() -> None:
    private, cert = make_leaf(other_root(), "branch")
    _, hq, branch = pair(branch_local=LocalCredential(TP, private, (cert,)))
    failed = failure(hq)
    assert failed.notify == "AUTHENTICATION_FAILED" and failed.reason
    assert kinds(branch) == UP  # the responder was satisfied; HQ gives up (§2.21.2)
    assert not hq.sas


def test_trustpoint_without_an_identity_certificate_fails_the_initiator() -> None:
    hq = engine(HQ, 1, Credentials(trust=trust(root())), cert_group(HQ["peer"]))
    branch = engine(BRANCH, 2, credentials(leaf("branch")), cert_group(BRANCH["peer"]))
    connect(hq, branch)
    failed = failure(hq)
    assert failed.notify == "AUTHENTICATION_FAILED"
    assert failed.reason == "trustpoint TP has no identity certificate"
    assert not hq.sas


def test_trustpoint_without_an_identity_certificate_fails_the_responder() -> None:
    hq = engine(HQ, 1, credentials(leaf("hq")), cert_group(HQ["peer"]))
    branch = engine(BRANCH, 2, Credentials(trust=trust(root())), cert_group(BRANCH["peer"]))
    connect(hq, branch)
    assert refused(hq, branch) == "trustpoint TP has no identity certificate"


def test_unknown_wall_clock_refuses_certificates() -> None:
    hq = engine(HQ, 1, credentials(leaf("hq")), cert_group(HQ["peer"]))
    branch = engine(BRANCH, 2, credentials(leaf("branch")), cert_group(BRANCH["peer"]))
    network = FakeNetwork(FakeClock())
    network.attach(HQ_ADDR, hq)
    network.attach(BRANCH_ADDR, branch)
    entry = hq.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    hq.initiate(entry, entry.acl.permits[0], network.clock.now)
    network.run()
    assert "wall-clock" in refused(hq, branch)


# --------------------------------------------------------------------------- group matching


def test_tunnel_group_map_rule_picks_the_group_by_subject_ou() -> None:
    private, cert = make_leaf(root(), "hq", subject=name("hq", ou="Sales"))
    sales = cert_group("SALES")
    tg_map = TunnelGroupMap(
        enabled=("rules",),
        default_group=None,
        rules=(("CM", 10, "SALES"),),
        certificate_maps={"CM": ((10, (CertificateRule("subject-name", "ou", "eq", "sales"),)),)},
    )
    hq = engine(HQ, 1, credentials(LocalCredential(TP, private, (cert,))), cert_group(HQ["peer"]))
    # the group named after HQ's address would refuse certificates: the rule must pick SALES
    branch = engine(
        BRANCH,
        2,
        credentials(leaf("branch")),
        cert_group(BRANCH["peer"], ikev2_remote_certificate=False),
        tunnel_group_map=tg_map,
    )
    branch.gateway.tunnel_groups["SALES"] = sales
    connect(hq, branch)
    assert kinds(hq) == UP and kinds(branch) == UP


def test_no_group_accepts_the_certificate_when_the_rule_does_not_match() -> None:
    private, cert = make_leaf(root(), "hq", subject=name("hq", ou="Engineering"))
    tg_map = TunnelGroupMap(
        enabled=("rules",),
        default_group=None,
        rules=(("CM", 10, "SALES"),),
        certificate_maps={"CM": ((10, (CertificateRule("subject-name", "ou", "eq", "sales"),)),)},
    )
    hq = engine(HQ, 1, credentials(LocalCredential(TP, private, (cert,))), cert_group(HQ["peer"]))
    branch = engine(
        BRANCH, 2, credentials(leaf("branch")), cert_group("SALES"), tunnel_group_map=tg_map
    )
    connect(hq, branch)
    assert "DefaultL2LGroup" in refused(hq, branch)
