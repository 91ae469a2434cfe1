"""strongSwan proposal notation mapped to ASA keywords, and the configurations built from it."""

from __future__ import annotations

import pytest

from tunnelgate.bench.ike_load import BenchOptions, compile_initiator
from tunnelgate.bench.proposal_notation import esp_proposal, ike_proposal


def test_ike_proposals() -> None:
    p = ike_proposal("aes256-sha256-modp2048")
    assert (p.encryption, p.integrity, p.prf, p.groups) == (
        ("aes-256",),
        ("sha256",),
        ("sha256",),
        (14,),
    )
    e = ike_proposal("aes128-sha256-ecp256")
    assert (e.encryption, e.groups) == (("aes",), (19,))
    g = ike_proposal("aes256gcm16-prfsha384-ecp384")
    assert (g.encryption, g.integrity, g.prf, g.groups) == (
        ("aes-gcm-256",),
        (),
        ("sha384",),
        (20,),
    )
    assert " group 14\n prf sha256\n" in p.ikev2_policy()


def test_esp_proposals() -> None:
    gcm = esp_proposal("aes256gcm16")
    assert (gcm.encryption, gcm.integrity, gcm.pfs_group) == (("aes-gcm-256",), (), None)
    cbc = esp_proposal("aes256-sha256-modp2048")
    assert (cbc.encryption, cbc.integrity, cbc.pfs_group) == (("aes-256",), ("sha-256",), 14)
    assert "protocol esp integrity null" in gcm.ikev2_proposal("P")
    assert (
        esp_proposal("aes256-sha1").ikev1_transform_set("T").endswith("esp-aes-256 esp-sha-hmac\n")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aes256-sha256-modp9", "unknown IKE algorithm 'modp9'"),
        ("aes256-sha256-curve25519", "no IKE group 31"),
        ("aes256-modp2048", "needs an integrity"),
        ("aes256gcm16-sha256-modp2048", "AEAD cipher takes no integrity"),
        ("sha256-modp2048", "needs an encryption"),
    ],
)
def test_refused_ike_proposals(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ike_proposal(text)


def test_ikev1_limits_are_explained() -> None:
    with pytest.raises(ValueError, match="IKEv1 cannot use sha256, group 14"):
        ike_proposal("aes256-sha256-modp2048").ikev1_policies()
    assert "hash sha\n group 5" in ike_proposal("aes256-sha1-modp1536").ikev1_policies()


@pytest.mark.parametrize("version", [1, 2])
def test_the_initiator_configuration_compiles(version: int) -> None:
    proposal, esp = (
        ("aes256-sha1-modp1536", "aes256-sha1")
        if version == 1
        else ("aes256-sha256-ecp256", "aes256gcm16")
    )
    options = BenchOptions(
        peer="192.0.2.2",
        count=1,
        parallel=1,
        version=version,
        proposal=proposal,
        psk="k",
        esp_proposal=esp,
    )
    policy, entry, rule = compile_initiator(options, "192.0.2.1")
    assert entry.peers == ("192.0.2.2",) and rule.selectors
    assert "192.0.2.2" in policy.tunnel_groups
