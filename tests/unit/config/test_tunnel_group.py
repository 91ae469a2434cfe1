"""``tunnel-group`` and ``tunnel-group-map``: commands, refusals, rendering, checks."""

from __future__ import annotations

import copy

import pytest

from tests.helpers import errors, load, load_result, roundtrip, run, show
from tunnelgate.config.diagnostics import Severity
from tunnelgate.config.model import Keepalive, RunningConfig, Secret
from tunnelgate.config.render import show_running_config

L2L = "203.0.113.1"

BASE = f"""
tunnel-group {L2L} type ipsec-l2l
tunnel-group {L2L} ipsec-attributes
 ikev1 pre-shared-key v1secretkey
"""


def _base() -> RunningConfig:
    return load(BASE)


def _ipsec(config: RunningConfig, *lines: str) -> list[str]:
    """Run sub-mode lines in ``L2L``'s ipsec-attributes; error messages."""
    out = run(config, f"tunnel-group {L2L} ipsec-attributes", *lines)
    return [d.message for d in out if d.is_error]


def _warnings(text: str) -> list[str]:
    return [d.message for d in load_result(text).warnings]


# --------------------------------------------------------------------------- tunnel-group


def test_create_l2l_and_remote_access() -> None:
    cfg = load(f"tunnel-group {L2L} type ipsec-l2l\ntunnel-group RA type remote-access\n")
    assert cfg.tunnel_groups[L2L].type == "ipsec-l2l"
    assert cfg.tunnel_groups["RA"].type == "remote-access"
    assert list(cfg.tunnel_groups) == [L2L, "RA"]


def test_abbreviations() -> None:
    cfg = load(f"tunnel-group {L2L} ty ipsec-l\n")
    assert cfg.tunnel_groups[L2L].type == "ipsec-l2l"


def test_same_type_again_is_a_no_op() -> None:
    cfg = _base()
    before = copy.deepcopy(cfg)
    assert run(cfg, f"tunnel-group {L2L} type ipsec-l2l") == []
    assert cfg == before


def test_type_change_refused() -> None:
    cfg = _base()
    before = copy.deepcopy(cfg)
    diags = run(cfg, f"tunnel-group {L2L} type remote-access")
    assert [d.message for d in diags] == [
        f"tunnel-group {L2L} is of type ipsec-l2l and its type cannot be changed; "
        f"remove it first with 'no tunnel-group {L2L}'"
    ]
    assert diags[0].column == len(f"tunnel-group {L2L} type ")
    assert cfg == before
    assert run(cfg, f"no tunnel-group {L2L}", f"tunnel-group {L2L} type remote-access") == []
    assert cfg.tunnel_groups[L2L].type == "remote-access"


def test_ip_name_is_canonical() -> None:
    cfg = load("tunnel-group 2001:DB8::0001 type ipsec-l2l\n")
    assert list(cfg.tunnel_groups) == ["2001:db8::1"]


def test_name_too_long_refused() -> None:
    cfg = RunningConfig()
    diags = run(cfg, f"tunnel-group {'x' * 65} type remote-access")
    assert diags[0].message == "a tunnel-group name is at most 64 characters"
    assert cfg.tunnel_groups == {}


def test_non_ip_l2l_name_warns_as_asa() -> None:
    diags = run(RunningConfig(), "tunnel-group PEER type ipsec-l2l")
    assert diags[0].severity is Severity.WARNING
    assert diags[0].message.startswith("For IKEv1, L2L tunnel-groups that have names which")
    assert run(RunningConfig(), "tunnel-group RA type remote-access") == []


def test_no_tunnel_group() -> None:
    cfg = _base()
    assert run(cfg, f"no tunnel-group {L2L}") == []
    assert cfg.tunnel_groups == {}


def test_no_unknown_tunnel_group_refused() -> None:
    cfg = _base()
    before = copy.deepcopy(cfg)
    diags = run(cfg, "no tunnel-group 198.51.100.9")
    assert diags[0].message == "tunnel-group 198.51.100.9 does not exist"
    assert cfg == before


@pytest.mark.parametrize("mode", ["general-attributes", "ipsec-attributes"])
def test_attributes_of_unknown_group_refused(mode: str) -> None:
    cfg = RunningConfig()
    diags = run(cfg, f"tunnel-group {L2L} {mode}", " ikev1 pre-shared-key abc")
    assert diags[0].message == (
        f"tunnel-group {L2L} does not exist; create it first with "
        f"'tunnel-group {L2L} type {{ipsec-l2l|remote-access}}'"
    )
    assert diags[0].column == len("tunnel-group ")
    assert cfg == RunningConfig()


def test_attributes_in_a_file_without_type_refused() -> None:
    errs = errors(f"tunnel-group {L2L} ipsec-attributes\n ikev1 pre-shared-key abc\n")
    assert len(errs) == 1  # the indented line of the refused block is skipped
    assert "does not exist" in errs[0].message


def test_builtin_groups_need_no_type() -> None:
    cfg = load("tunnel-group DefaultL2LGroup ipsec-attributes\n ikev1 pre-shared-key k1\n")
    assert cfg.tunnel_groups["DefaultL2LGroup"].type == "ipsec-l2l"
    text = show(cfg, "tunnel-group")
    assert text == "tunnel-group DefaultL2LGroup ipsec-attributes\n ikev1 pre-shared-key *****\n"
    assert roundtrip(cfg) == cfg
    diags = run(cfg, "tunnel-group DefaultRAGroup type ipsec-l2l")
    assert diags[0].message == (
        "tunnel-group DefaultRAGroup is built in with type remote-access; "
        "its type cannot be changed"
    )


def test_no_attributes_resets_them() -> None:
    cfg = load(BASE + f"tunnel-group {L2L} general-attributes\n default-group-policy GP\n")
    run(cfg, f"no tunnel-group {L2L} ipsec-attributes")
    assert cfg.tunnel_groups[L2L].ipsec.ikev1_pre_shared_key is None
    assert cfg.tunnel_groups[L2L].default_group_policy == "GP"
    run(cfg, f"no tunnel-group {L2L} general-attributes")
    assert cfg.tunnel_groups[L2L].default_group_policy is None


# --------------------------------------------------------------------------- general-attributes


def test_default_group_policy_and_no_form() -> None:
    cfg = _base()
    assert run(cfg, f"tunnel-group {L2L} general-attributes", " default-group-policy GP1") == []
    assert cfg.tunnel_groups[L2L].default_group_policy == "GP1"
    run(cfg, f"tunnel-group {L2L} general-attributes", "no default-group-policy")
    assert cfg.tunnel_groups[L2L].default_group_policy is None


def test_sub_mode_line_after_group_removed() -> None:
    cfg = _base()
    from tunnelgate.config.session import ConfigSession

    session = ConfigSession(cfg)
    session.execute(f"tunnel-group {L2L} ipsec-attributes")
    del cfg.tunnel_groups[L2L]
    result = session.execute("ikev1 pre-shared-key abc")
    assert result.diagnostics[0].message == f"tunnel-group {L2L} no longer exists"


# --------------------------------------------------------------------------- keys


def test_ikev1_psk() -> None:
    cfg = _base()
    assert cfg.tunnel_groups[L2L].ipsec.ikev1_pre_shared_key == Secret("v1secretkey")


def test_ikev2_psk_encodings() -> None:
    cfg = _base()
    assert (
        _ipsec(
            cfg,
            "ikev2 local-authentication pre-shared-key 0 plainkey",
            "ikev2 remote-authentication pre-shared-key hex 0xDEADbeef",
        )
        == []
    )
    ipsec = cfg.tunnel_groups[L2L].ipsec
    assert ipsec.ikev2_local_pre_shared_key == Secret("plainkey")
    assert ipsec.ikev2_remote_pre_shared_key == Secret("deadbeef", "hex")
    assert ipsec.ikev2_remote_pre_shared_key.material() == bytes.fromhex("deadbeef")
    _ipsec(cfg, "ikev2 remote-authentication pre-shared-key hex 00ff")
    assert ipsec.ikev2_remote_pre_shared_key == Secret("00ff", "hex")


def test_encrypted_key_is_stored_with_a_warning() -> None:
    cfg = _base()
    diags = run(
        cfg,
        f"tunnel-group {L2L} ipsec-attributes",
        " ikev2 local-authentication pre-shared-key 8 QWxhZGRpbjpvcGVu",
    )
    assert [d.severity for d in diags] == [Severity.WARNING]
    assert "master passphrase" in diags[0].message
    key = cfg.tunnel_groups[L2L].ipsec.ikev2_local_pre_shared_key
    assert key == Secret("QWxhZGRpbjpvcGVu", "8")
    assert key.material() is None


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("hex abc", "a hex pre-shared key must have an even number of hexadecimal digits"),
        ("hex 0xabc", "a hex pre-shared key must have an even number of hexadecimal digits"),
        ("hex 12zz", "a hex pre-shared key must contain only hexadecimal digits"),
        ("hex 0x", "a hex pre-shared key must contain only hexadecimal digits"),
        ("hex " + "ab" * 129, "a hex pre-shared key is at most 256 digits (128 bytes)"),
        ("k" * 129, "a pre-shared key is 1 to 128 characters (this one has 129)"),
    ],
)
def test_bad_keys_refused_without_quoting_them(key: str, message: str) -> None:
    cfg = _base()
    before = copy.deepcopy(cfg)
    line = f"ikev2 remote-authentication pre-shared-key {key}"
    diags = run(cfg, f"tunnel-group {L2L} ipsec-attributes", line)
    assert [d.message for d in diags] == [message]
    assert diags[0].column == len(line) - len(key.split()[-1])
    assert key.split()[-1] not in diags[0].message
    assert cfg == before


def test_key_of_128_characters_accepted() -> None:
    cfg = _base()
    assert _ipsec(cfg, "ikev1 pre-shared-key " + "k" * 128) == []


def test_masked_key_pasted_back_warns() -> None:
    diags = run(_base(), f"tunnel-group {L2L} ipsec-attributes", "ikev1 pre-shared-key *****")
    assert "mask" in diags[0].message
    assert diags[0].severity is Severity.WARNING


def test_remote_access_groups_take_keys() -> None:
    cfg = load(
        "tunnel-group RA type remote-access\ntunnel-group RA ipsec-attributes\n"
        " ikev1 pre-shared-key rakey\n"
    )
    assert cfg.tunnel_groups["RA"].ipsec.ikev1_pre_shared_key == Secret("rakey")


def test_local_authentication_is_one_method() -> None:
    cfg = _base()
    _ipsec(cfg, "ikev2 local-authentication certificate TP")
    ipsec = cfg.tunnel_groups[L2L].ipsec
    assert ipsec.ikev2_local_certificate == "TP"
    diags = run(
        cfg, f"tunnel-group {L2L} ipsec-attributes", "ikev2 local-authentication pre-shared-key abc"
    )
    assert diags[0].severity is Severity.INFO
    assert ipsec.ikev2_local_certificate is None
    assert ipsec.ikev2_local_pre_shared_key == Secret("abc")
    _ipsec(cfg, "ikev2 local-authentication certificate TP")
    assert ipsec.ikev2_local_pre_shared_key is None


def test_certificates_trust_point_peer_id_keepalive() -> None:
    cfg = _base()
    assert (
        _ipsec(
            cfg,
            "ikev2 remote-authentication certificate",
            "ikev2 remote-authentication pre-shared-key rk",
            "ikev1 trust-point TP",
            "peer-id-validate cert",
            "isakmp keepalive threshold 30 retry 5",
        )
        == []
    )
    ipsec = cfg.tunnel_groups[L2L].ipsec
    assert ipsec.ikev2_remote_certificate and ipsec.ikev2_remote_pre_shared_key == Secret("rk")
    assert ipsec.ikev1_trust_point == "TP"
    assert ipsec.peer_id_validate == "cert"
    assert ipsec.keepalive == Keepalive(True, 30, 5)
    _ipsec(cfg, "isakmp keepalive disable")
    assert ipsec.keepalive == Keepalive(enabled=False)


@pytest.mark.parametrize(
    "line", ["isakmp keepalive threshold 9 retry 2", "isakmp keepalive threshold 10 retry 11"]
)
def test_keepalive_ranges(line: str) -> None:
    cfg = _base()
    before = copy.deepcopy(cfg)
    assert _ipsec(cfg, line) == ["% Invalid input detected at '^' marker."]
    assert cfg == before


def test_no_forms_in_ipsec_attributes() -> None:
    cfg = load(
        BASE
        + """ ikev1 trust-point TP
 ikev2 remote-authentication pre-shared-key rk
 ikev2 remote-authentication certificate
 ikev2 local-authentication pre-shared-key lk
 peer-id-validate nocheck
 isakmp keepalive threshold 20 retry 3
"""
    )
    ipsec = cfg.tunnel_groups[L2L].ipsec
    assert _ipsec(cfg, "no ikev2 remote-authentication pre-shared-key") == []
    assert ipsec.ikev2_remote_pre_shared_key is None and ipsec.ikev2_remote_certificate
    assert (
        _ipsec(
            cfg,
            "no ikev2 remote-authentication",
            "no ikev2 local-authentication pre-shared-key hex abcd",
            "no ikev1 pre-shared-key",
            "no ikev1 trust-point TP",
            "no peer-id-validate",
            "no isakmp keepalive",
        )
        == []
    )
    assert ipsec == type(ipsec)()


# --------------------------------------------------------------------------- tunnel-group-map


def test_map_enable_and_disable_policies() -> None:
    cfg = RunningConfig()
    assert cfg.tunnel_group_map.enabled == ["ou", "ike-id", "peer-ip"]
    run(cfg, "tunnel-group-map enable rules", "no tunnel-group-map enable ou")
    assert cfg.tunnel_group_map.enabled == ["rules", "ike-id", "peer-ip"]
    run(cfg, "tunnel-group-map enable ou", "tunnel-group-map enable rules")
    assert cfg.tunnel_group_map.enabled == ["rules", "ou", "ike-id", "peer-ip"]


def test_map_enable_with_rule_index_warns() -> None:
    cfg = RunningConfig()
    diags = run(cfg, "tunnel-group-map 10 enable rules")
    assert diags[0].severity is Severity.WARNING
    assert "rules" in cfg.tunnel_group_map.enabled


def test_default_group_must_exist() -> None:
    cfg = RunningConfig()
    diags = run(cfg, "tunnel-group-map default-group NOPE")
    assert diags[0].message == (
        "tunnel-group NOPE does not exist; the default group must be an existing tunnel group"
    )
    assert diags[0].column == len("tunnel-group-map default-group ")
    assert cfg == RunningConfig()


def test_default_group_with_rule_index() -> None:
    cfg = _base()
    assert run(cfg, f"tunnel-group-map 5 default-group {L2L}") == []
    assert cfg.tunnel_group_map.default_group == L2L
    assert cfg.tunnel_group_map.default_group_rule_index == 5
    assert show(cfg, "tunnel-group-map") == f"tunnel-group-map 5 default-group {L2L}\n"
    assert roundtrip(cfg) == cfg
    run(cfg, "no tunnel-group-map default-group")
    assert cfg.tunnel_group_map.default_group is None


def test_builtin_default_group_always_exists() -> None:
    cfg = RunningConfig()
    assert run(cfg, "tunnel-group-map default-group DefaultL2LGroup") == []
    assert roundtrip(cfg) == cfg


def test_no_tunnel_group_used_as_default_group_refused() -> None:
    cfg = _base()
    run(cfg, f"tunnel-group-map default-group {L2L}")
    before = copy.deepcopy(cfg)
    diags = run(cfg, f"no tunnel-group {L2L}")
    assert diags[0].message == (
        f"tunnel-group {L2L} is in use by 'tunnel-group-map default-group {L2L}'; "
        "remove that line first"
    )
    assert cfg == before


def test_rule_association() -> None:
    cfg = _base()
    assert run(cfg, f"tunnel-group-map CERTMAP 10 {L2L}") == []
    assert cfg.tunnel_group_map.rules == {("CERTMAP", 10): L2L}
    assert run(cfg, f"tunnel-group-map CERTMAP 10 {L2L}") == []  # the same association


def test_map_index_referenced_twice_refused() -> None:
    cfg = load(BASE + f"tunnel-group OTHER type remote-access\ntunnel-group-map CERTMAP 10 {L2L}\n")
    before = copy.deepcopy(cfg)
    diags = run(cfg, "tunnel-group-map CERTMAP 10 OTHER")
    assert diags[0].message == (
        f"certificate map CERTMAP index 10 is already associated with tunnel-group {L2L}; "
        "a map index can be referenced only once (remove it first with "
        "'no tunnel-group-map CERTMAP 10')"
    )
    assert cfg == before


@pytest.mark.parametrize(
    "line",
    [
        f"tunnel-group-map CERTMAP 0 {L2L}",
        f"tunnel-group-map CERTMAP 65536 {L2L}",
        f"tunnel-group-map 0 default-group {L2L}",
        f"tunnel-group-map 65536 default-group {L2L}",
    ],
)
def test_rule_index_range(line: str) -> None:
    """Spec line 535: "rule index ... The values are 1 to 65535"."""
    cfg = _base()
    before = copy.deepcopy(cfg)
    diags = run(cfg, line)
    assert len(diags) == 1 and diags[0].is_error
    assert cfg == before
    assert run(cfg, line.replace("65536", "65535").replace(" 0 ", " 1 ")) == []


def test_rule_association_needs_the_group() -> None:
    cfg = RunningConfig()
    diags = run(cfg, "tunnel-group-map CERTMAP 10 NOPE")
    assert diags[0].message == "tunnel-group NOPE does not exist"
    assert cfg == RunningConfig()


def test_no_rule_association() -> None:
    cfg = load(BASE + f"tunnel-group-map CERTMAP 10 {L2L}\n")
    before = copy.deepcopy(cfg)
    assert run(cfg, "no tunnel-group-map CERTMAP 10 OTHER")[0].message == (
        f"tunnel-group-map CERTMAP 10 is associated with {L2L}"
    )
    assert run(cfg, "no tunnel-group-map CERTMAP 11")[0].message == (
        "tunnel-group-map CERTMAP 11 does not exist"
    )
    assert cfg == before
    diags = run(cfg, f"no tunnel-group {L2L}")
    assert "tunnel-group-map CERTMAP 10" in diags[0].message
    assert run(cfg, "no tunnel-group-map CERTMAP 10") == []
    assert cfg.tunnel_group_map.rules == {}
    assert run(cfg, f"no tunnel-group {L2L}") == []


# --------------------------------------------------------------------------- rendering

FULL = f"""
crypto ca trustpoint TP
 enrollment terminal
crypto ca certificate map CERTMAP 10
 subject-name attr cn eq peer.example.com
tunnel-group {L2L} type ipsec-l2l
tunnel-group {L2L} general-attributes
 default-group-policy GP1
tunnel-group {L2L} ipsec-attributes
 ikev2 local-authentication pre-shared-key hex 0A0B
 ikev2 remote-authentication pre-shared-key 8 ENCRYPTEDxyz
 ikev1 pre-shared-key v1secretkey
 isakmp keepalive threshold 30 retry 5
 peer-id-validate nocheck
tunnel-group RA type remote-access
tunnel-group RA ipsec-attributes
 ikev1 trust-point TP
 ikev2 local-authentication certificate TP
 ikev2 remote-authentication certificate
tunnel-group-map enable rules
no tunnel-group-map enable peer-ip
tunnel-group-map default-group RA
tunnel-group-map CERTMAP 10 {L2L}
"""

FULL_MASKED = f"""\
tunnel-group {L2L} type ipsec-l2l
tunnel-group {L2L} general-attributes
 default-group-policy GP1
tunnel-group {L2L} ipsec-attributes
 ikev1 pre-shared-key *****
 peer-id-validate nocheck
 isakmp keepalive threshold 30 retry 5
 ikev2 remote-authentication pre-shared-key *****
 ikev2 local-authentication pre-shared-key *****
tunnel-group RA type remote-access
tunnel-group RA ipsec-attributes
 ikev1 trust-point TP
 ikev2 remote-authentication certificate
 ikev2 local-authentication certificate TP
"""


def test_render_masked() -> None:
    cfg = load(FULL)
    assert show(cfg, "tunnel-group") == FULL_MASKED
    assert show(cfg, "tunnel-group-map") == (
        "tunnel-group-map enable rules\n"
        "no tunnel-group-map enable peer-ip\n"
        "tunnel-group-map default-group RA\n"
        f"tunnel-group-map CERTMAP 10 {L2L}\n"
    )


def test_render_unmasked_keeps_encodings() -> None:
    text = show_running_config(load(FULL), ["tunnel-group"], mask=False)
    assert " ikev1 pre-shared-key v1secretkey\n" in text
    assert " ikev2 remote-authentication pre-shared-key 8 ENCRYPTEDxyz\n" in text
    assert " ikev2 local-authentication pre-shared-key hex 0a0b\n" in text


def test_map_lines_follow_the_groups() -> None:
    text = show_running_config(load(FULL))
    lines = text.splitlines()
    first_map = next(i for i, ln in enumerate(lines) if "tunnel-group-map" in ln)
    last_group = max(i for i, ln in enumerate(lines) if ln.startswith("tunnel-group "))
    assert first_map > last_group
    assert lines[first_map : first_map + 2] == [
        "tunnel-group-map enable rules",
        "no tunnel-group-map enable peer-ip",
    ]


def test_render_defaults_with_all() -> None:
    cfg = load(f"tunnel-group {L2L} type ipsec-l2l\n")
    assert show(cfg, "tunnel-group", all=True) == (
        f"tunnel-group {L2L} type ipsec-l2l\n"
        f"tunnel-group {L2L} general-attributes\n"
        " default-group-policy DfltGrpPolicy\n"
        f"tunnel-group {L2L} ipsec-attributes\n"
        " peer-id-validate req\n"
        " no ikev1 trust-point\n"
        " isakmp keepalive threshold 10 retry 2\n"
        " no ikev2 remote-authentication\n"
        " no ikev2 local-authentication\n"
    )
    assert show(cfg, "tunnel-group-map", all=True) == (
        "no tunnel-group-map enable rules\n"
        "tunnel-group-map enable ou\n"
        "tunnel-group-map enable ike-id\n"
        "tunnel-group-map enable peer-ip\n"
    )


def test_keepalive_disable_rendered() -> None:
    cfg = load(BASE + " isakmp keepalive disable\n")
    assert " isakmp keepalive disable\n" in show(cfg, "tunnel-group")


def test_roundtrip_unmasked() -> None:
    cfg = load(FULL)
    assert roundtrip(cfg) == cfg


def test_no_key_in_repr_or_masked_output() -> None:
    cfg = load(FULL)
    for secret in ("v1secretkey", "0a0b", "0A0B", "ENCRYPTEDxyz"):
        assert secret not in repr(cfg)
        assert secret not in str(cfg)
        assert secret not in show_running_config(cfg)
    key = cfg.tunnel_groups[L2L].ipsec.ikev1_pre_shared_key
    assert f"{key}" == "Secret(encoding=None)"


# --------------------------------------------------------------------------- checks


def test_check_unknown_trustpoints() -> None:
    warnings = _warnings(f"""
tunnel-group {L2L} type ipsec-l2l
tunnel-group {L2L} ipsec-attributes
 ikev1 trust-point NOPE
 ikev2 local-authentication certificate NOPE2
 ikev2 remote-authentication certificate
""")
    assert warnings == [
        f"tunnel-group {L2L} ipsec-attributes: ikev1 trust-point NOPE: "
        "no 'crypto ca trustpoint NOPE' is defined",
        f"tunnel-group {L2L} ipsec-attributes: ikev2 local-authentication certificate NOPE2: "
        "no 'crypto ca trustpoint NOPE2' is defined",
    ]


def test_check_l2l_without_authentication() -> None:
    assert _warnings(f"tunnel-group {L2L} type ipsec-l2l\n") == [
        f"tunnel-group {L2L} (ipsec-l2l) has no authentication: configure a pre-shared key "
        "or a certificate in its ipsec-attributes"
    ]
    assert _warnings("tunnel-group RA type remote-access\n") == []
    assert _warnings(BASE) == []


def test_check_ikev2_missing_side() -> None:
    local_only = _warnings(BASE + " ikev2 local-authentication pre-shared-key lk\n")
    assert local_only == [
        f"tunnel-group {L2L}: ikev2 local-authentication pre-shared-key is set but "
        "remote-authentication is not: IKEv2 cannot authenticate the peer"
    ]
    remote_only = _warnings(BASE + " ikev2 remote-authentication pre-shared-key rk\n")
    assert remote_only == [
        f"tunnel-group {L2L}: ikev2 remote-authentication pre-shared-key is set but "
        "local-authentication is not: IKEv2 cannot authenticate this gateway"
    ]
    asymmetric = BASE + (
        " ikev2 remote-authentication pre-shared-key rk\n"
        " ikev2 local-authentication pre-shared-key lk\n"
    )
    assert _warnings(asymmetric) == []


def test_check_map_rules() -> None:
    text = BASE + f"tunnel-group-map enable rules\ntunnel-group-map NOMAP 10 {L2L}\n"
    assert _warnings(text) == [
        f"tunnel-group-map NOMAP 10 {L2L}: certificate map NOMAP does not exist"
    ]
    text = "crypto ca certificate map CM 20\n" + BASE + f"tunnel-group-map CM 10 {L2L}\n"
    assert _warnings(text) == [
        f"tunnel-group-map CM 10 {L2L}: certificate map CM has no entry 10",
        "tunnel-group-map associations are configured but not used: "
        "enable them with 'tunnel-group-map enable rules'",
    ]
    assert [w for w in _warnings(FULL) if "master passphrase" not in w] == []


def test_a_tunnel_group_named_by_an_ipv6_address() -> None:
    """IPv6 peers (D114): the group is named by the RFC 5952 text, whatever the spelling."""
    result = load_result(
        "tunnel-group 2001:DB8:0:0::2 type ipsec-l2l\n"
        "tunnel-group 2001:db8::0:2 ipsec-attributes\n"
        " ikev1 pre-shared-key v6-key\n"
        " ikev2 remote-authentication pre-shared-key remote-v6\n"
        " ikev2 local-authentication pre-shared-key local-v6\n"
    )
    assert result.config is not None and result.diagnostics == []  # no non-IP-name warning
    cfg = result.config
    group = cfg.tunnel_groups["2001:db8::2"]
    assert group.ipsec.ikev1_pre_shared_key == Secret("v6-key")
    assert show_running_config(cfg, ("tunnel-group",), mask=False) == (
        "tunnel-group 2001:db8::2 type ipsec-l2l\n"
        "tunnel-group 2001:db8::2 ipsec-attributes\n"
        " ikev1 pre-shared-key v6-key\n"
        " ikev2 remote-authentication pre-shared-key remote-v6\n"
        " ikev2 local-authentication pre-shared-key local-v6\n"
    )
    assert roundtrip(cfg) == cfg
    assert run(cfg, "no tunnel-group 2001:db8:0::2") == []
    assert cfg.tunnel_groups == {}
