"""``crypto ca trustpoint`` and ``crypto ca certificate map``."""

from __future__ import annotations

import copy

import pytest

from tests.helpers import load, roundtrip, run, show
from tunnelgate.config.model import CertificateMatch, RunningConfig, Trustpoint

TP = """
crypto ca trustpoint TP1
 enrollment url http://ca.example.com:80/scep
 subject-name CN=vpn.example.com,O=Example Inc,C=US
 fqdn vpn.example.com
 keypair vpnkey
 revocation-check ocsp crl none
 crl configure
"""

CM = """
crypto ca certificate map PEERS 20
 issuer-name co Example Root CA
crypto ca certificate map PEERS 10
 subject-name attr cn eq peer1.example.com
 subject-name attr ou ne Sales
crypto ca certificate map EMPTY 5
"""


def _tp(*lines: str) -> tuple[RunningConfig, list[str]]:
    cfg = RunningConfig()
    diags = run(cfg, "crypto ca trustpoint TP1", *lines)
    return cfg, [d.message for d in diags if d.is_error]


# --------------------------------------------------------------------------- trustpoints


def test_trustpoint_settings() -> None:
    cfg = load(TP)
    assert cfg.trustpoints["TP1"] == Trustpoint(
        "TP1",
        enrollment="url",
        enrollment_url="http://ca.example.com:80/scep",
        keypair="vpnkey",
        subject_name="CN=vpn.example.com,O=Example Inc,C=US",
        fqdn="vpn.example.com",
        revocation_check=["ocsp", "crl", "none"],
    )


@pytest.mark.parametrize("method", ["terminal", "self"])
def test_enrollment_methods(method: str) -> None:
    cfg, errs = _tp(f"enrollment {method}")
    assert errs == []
    assert cfg.trustpoints["TP1"].enrollment == method
    assert cfg.trustpoints["TP1"].enrollment_url is None


def test_enrollment_url_needs_http() -> None:
    cfg, errs = _tp("enrollment url ftp://ca")
    assert errs == ["the enrollment URL must begin with http:// or https://"]
    assert cfg.trustpoints["TP1"] == Trustpoint("TP1")


def test_revocation_check_order_and_none_last() -> None:
    cfg, errs = _tp("revocation-check crl crl ocsp")
    assert cfg.trustpoints["TP1"].revocation_check == ["crl", "ocsp"]
    cfg, errs = _tp("revocation-check none crl")
    assert errs == ["'none' must be the last revocation method"]
    assert cfg.trustpoints["TP1"].revocation_check == []


def test_trustpoint_no_forms() -> None:
    cfg = load(TP)
    run(
        cfg,
        "crypto ca trustpoint TP1",
        "no enrollment",
        "no subject-name",
        "no fqdn",
        "no keypair vpnkey",
        "no revocation-check",
    )
    assert cfg.trustpoints["TP1"] == Trustpoint("TP1")
    assert run(cfg, "no crypto ca trustpoint TP1") == []
    assert cfg.trustpoints == {}


def test_no_unknown_trustpoint_refused() -> None:
    cfg = load(TP)
    before = copy.deepcopy(cfg)
    diags = run(cfg, "no crypto ca trustpoint TP9")
    assert diags[0].message == "trustpoint TP9 does not exist"
    assert diags[0].column == len("no crypto ca trustpoint ")
    assert cfg == before


def test_render_trustpoint() -> None:
    assert show(load(TP), "crypto", "ca") == (
        "crypto ca trustpoint TP1\n"
        " revocation-check ocsp crl none\n"
        " enrollment url http://ca.example.com:80/scep\n"
        " fqdn vpn.example.com\n"
        " subject-name CN=vpn.example.com,O=Example Inc,C=US\n"
        " keypair vpnkey\n"
    )


def test_trustpoint_satisfies_tunnel_group_reference() -> None:
    text = TP + (
        "tunnel-group 192.0.2.1 type ipsec-l2l\n"
        "tunnel-group 192.0.2.1 ipsec-attributes\n ikev1 trust-point TP1\n"
    )
    from tests.helpers import load_result

    assert load_result(text).warnings == []


# --------------------------------------------------------------------------- certificate maps


def test_certificate_map_entries_sorted_and_rules_kept_in_order() -> None:
    cfg = load(CM)
    assert list(cfg.certificate_maps["PEERS"]) == [10, 20]
    assert cfg.certificate_maps["PEERS"][10] == [
        CertificateMatch("subject-name", "cn", "eq", "peer1.example.com"),
        CertificateMatch("subject-name", "ou", "ne", "Sales"),
    ]
    assert cfg.certificate_maps["PEERS"][20] == [
        CertificateMatch("issuer-name", None, "co", "Example Root CA")
    ]
    assert cfg.certificate_maps["EMPTY"] == {5: []}


def test_render_certificate_maps() -> None:
    assert show(load(CM), "crypto", "ca", "certificate") == (
        "crypto ca certificate map PEERS 10\n"
        " subject-name attr cn eq peer1.example.com\n"
        " subject-name attr ou ne Sales\n"
        "crypto ca certificate map PEERS 20\n"
        " issuer-name co Example Root CA\n"
        "crypto ca certificate map EMPTY 5\n"
    )


def test_duplicate_rule_is_kept_once() -> None:
    cfg = load(CM)
    run(cfg, "crypto ca certificate map PEERS 10", "subject-name attr ou ne Sales")
    assert len(cfg.certificate_maps["PEERS"][10]) == 2


def test_unknown_attribute_refused() -> None:
    cfg = load(CM)
    before = copy.deepcopy(cfg)
    diags = run(cfg, "crypto ca certificate map PEERS 10", "subject-name attr zz eq x")
    assert diags[0].message == "% Invalid input detected at '^' marker."
    assert diags[0].column == len("subject-name attr ")
    assert cfg == before


def test_rule_length_limit() -> None:
    cfg = load(CM)
    before = copy.deepcopy(cfg)
    head = "subject-name attr cn eq "
    diags = run(cfg, "crypto ca certificate map PEERS 10", head + "v" * (256 - len(head)))
    assert diags[0].message == "a rule is at most 255 characters (this one has 256)"
    assert diags[0].column == len(head)
    assert cfg == before
    assert run(cfg, "crypto ca certificate map PEERS 10", head + "v" * (255 - len(head))) == []


def test_remove_rule() -> None:
    cfg = load(CM)
    assert run(cfg, "crypto ca certificate map PEERS 10", "no subject-name attr ou ne Sales") == []
    assert len(cfg.certificate_maps["PEERS"][10]) == 1
    before = copy.deepcopy(cfg)
    diags = run(cfg, "crypto ca certificate map PEERS 10", "no issuer-name eq Nope")
    assert diags[0].message == "no rule 'issuer-name eq Nope' in this certificate map entry"
    assert cfg == before


def test_no_certificate_map() -> None:
    cfg = load(CM)
    assert run(cfg, "no crypto ca certificate map PEERS 20") == []
    assert list(cfg.certificate_maps["PEERS"]) == [10]
    assert run(cfg, "no crypto ca certificate map PEERS 10") == []
    assert "PEERS" not in cfg.certificate_maps
    assert run(cfg, "no crypto ca certificate map EMPTY") == []
    assert cfg.certificate_maps == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("no crypto ca certificate map NOPE", "certificate map NOPE does not exist"),
        ("no crypto ca certificate map PEERS 30", "certificate map PEERS has no entry 30"),
    ],
)
def test_no_unknown_certificate_map_refused(line: str, message: str) -> None:
    cfg = load(CM)
    before = copy.deepcopy(cfg)
    assert [d.message for d in run(cfg, line)] == [message]
    assert cfg == before


def test_roundtrip() -> None:
    cfg = load(TP + CM)
    assert roundtrip(cfg) == cfg


# --------------------------------------------------------------------------- clear configure


def test_clear_configure_crypto_ca_trustpoint_all_or_one() -> None:
    """Spec line 1360: "Removes all trustpoints"; a tunnel group naming one then warns."""
    from tests.helpers import load_result

    cfg = load(TP + "crypto ca trustpoint TP2\n")
    assert run(cfg, "clear configure crypto ca trustpoint TP2") == []
    assert list(cfg.trustpoints) == ["TP1"]
    assert [d.message for d in run(cfg, "clear configure crypto ca trustpoint TP2")] == [
        "trustpoint TP2 does not exist"
    ]
    assert run(cfg, "clear configure crypto ca trustpoint") == []
    assert cfg.trustpoints == {}
    text = TP + (
        "tunnel-group 192.0.2.1 type ipsec-l2l\n"
        "tunnel-group 192.0.2.1 ipsec-attributes\n ikev1 trust-point TP1\n"
        "clear configure crypto ca trustpoint\n"
    )
    assert [w.message for w in load_result(text).warnings] == [
        "tunnel-group 192.0.2.1 ipsec-attributes: ikev1 trust-point TP1: "
        "no 'crypto ca trustpoint TP1' is defined"
    ]


def test_clear_configure_crypto_removes_the_whole_crypto_configuration() -> None:
    """Spec lines 1359 and 1371: without arguments it removes the entire crypto
    configuration (IPsec, crypto maps, dynamic maps, ISAKMP), certificates included."""
    cfg = load(
        TP
        + CM
        + """
access-list ACL extended permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0
crypto ipsec ikev1 transform-set TS esp-aes esp-sha-hmac
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption aes
 protocol esp integrity sha-1
crypto ipsec security-association lifetime seconds 3600
crypto dynamic-map D 10 set ikev1 transform-set TS
crypto map M 10 match address ACL
crypto map M 10 set peer 192.0.2.1
crypto map M 10 set ikev1 transform-set TS
crypto map M 65535 ipsec-isakmp dynamic D
crypto map M interface outside
crypto ikev1 enable outside
crypto ikev1 policy 10
crypto ikev2 policy 10
tunnel-group 192.0.2.1 type ipsec-l2l
"""
    )
    assert run(cfg, "clear configure crypto") == []
    expected = RunningConfig()
    expected.access_lists = cfg.access_lists  # not crypto: kept
    expected.tunnel_groups = cfg.tunnel_groups
    assert "ACL" in cfg.access_lists and "192.0.2.1" in cfg.tunnel_groups
    assert cfg == expected


def test_clear_configure_crypto_ca_certificate_map_all_or_one() -> None:
    """Spec line 1369: ``clear configure crypto`` can remove certificate map configurations."""
    cfg = load(CM)
    assert run(cfg, "clear configure crypto ca certificate map EMPTY") == []
    assert list(cfg.certificate_maps) == ["PEERS"]
    assert [d.message for d in run(cfg, "clear configure crypto ca certificate map EMPTY")] == [
        "certificate map EMPTY does not exist"
    ]
    assert run(cfg, "clear configure crypto ca certificate map") == []
    assert cfg.certificate_maps == {}


def test_trustpool_policy_line_of_every_asa_9x_is_kept() -> None:
    from tests.helpers import load, roundtrip, run, show

    cfg = load("crypto ca trustpool policy\n")
    assert show(cfg, "crypto", "ca") == "crypto ca trustpool policy\n"
    assert roundtrip(cfg) == cfg
    run(cfg, "no crypto ca trustpool policy")
    assert not cfg.trustpool_policy
