"""Loading files: atomic strict loads, every error listed, sub-modes, lenient loads."""

from __future__ import annotations

from tests.helpers import load, load_result
from tunnelgate.config.diagnostics import Severity
from tunnelgate.config.model import RunningConfig


def test_comments_blank_lines_and_saved_headers_are_ignored() -> None:
    config = load(": Saved\n:\n! a comment\n\nCryptochecksum:abcd\ncrypto ikev1 policy 1\n: end\n")
    assert list(config.ikev1_policies) == [1]


def test_a_file_with_errors_changes_nothing_and_lists_every_error() -> None:
    base = RunningConfig()
    from tunnelgate.config.loader import load_config

    result = load_config(
        "crypto ikev1 policy 1\n encryption bogus\ncrypto ikev1 policy 0\ncrypto ikev1 enable\n",
        source="bad.cfg",
        base=base,
    )
    assert result.config is None and not result.ok
    assert [d.line_no for d in result.errors] == [2, 3, 4]
    assert all(d.source == "bad.cfg" for d in result.errors)
    assert base == RunningConfig()  # the base was never touched


def test_the_caret_and_file_location_in_the_rendering() -> None:
    result = load_result("crypto ikev1 policy 1\n encryption bogus\n")
    text = result.errors[0].render()
    assert text.splitlines() == [
        "test.cfg:2: encryption bogus",
        " " * len("test.cfg:2: encryption ") + "^",
        "ERROR: % Invalid input detected at '^' marker.",
    ]


def test_lines_after_leaving_a_sub_mode_are_errors() -> None:
    result = load_result("crypto ikev1 policy 1\ncrypto ikev1 am-disable\nencryption aes\n")
    assert [d.line_no for d in result.errors] == [3]


def test_a_global_no_line_leaves_the_sub_mode() -> None:
    # The sub-mode knows ``no`` too; the line must still reach global configuration mode
    # (``show running-config`` prints ``no sysopt …`` right after object-groups, etc.).
    config = load(
        "object-group network G\n network-object host 10.0.0.1\n"
        "no sysopt connection permit-vpn\n"
        "crypto ca trustpoint T\n keypair K\nno crypto ikev2 fragmentation\n"
        "tunnel-group 10.0.0.2 type ipsec-l2l\ntunnel-group 10.0.0.2 ipsec-attributes\n"
        " ikev1 pre-shared-key k\nno tunnel-group-map enable ou\n"
    )
    assert not config.sysopt_permit_vpn
    assert not config.isakmp.ikev2_fragmentation
    assert config.tunnel_group_map.enabled == ["ike-id", "peer-ip"]


def test_exit_leaves_the_sub_mode() -> None:
    result = load_result("crypto ikev1 policy 1\nexit\nencryption aes\n")
    assert [d.line_no for d in result.errors] == [3]


def test_children_of_a_refused_line_are_not_applied_elsewhere() -> None:
    result = load_result("crypto ikev1 policy 1\nbogus-parent\n encryption aes\n")
    assert [d.line_no for d in result.errors] == [2]
    assert result.skipped_lines == [2, 3]


def test_lenient_load_applies_what_it_understands_and_reports_skipped_lines() -> None:
    text = (
        "ASA Version 9.16(4)\n"
        "crypto ikev1 policy 10\n"
        " encryption aes-256\n"
        "policy-map global_policy\n"
        " class inspection_default\n"
        "  inspect dns\n"
        "crypto ikev1 frobnicate\n"
    )
    result = load_result(text, lenient=True)
    assert result.ok and result.config is not None
    assert result.config.ikev1_policies[10].encryption == "aes-256"
    assert result.skipped_lines == [1, 4, 5, 6, 7]
    crypto_warnings = [d for d in result.warnings if d.line_no == 7]
    assert crypto_warnings and crypto_warnings[0].message.startswith("crypto line skipped")
    info = [d for d in result.diagnostics if d.severity is Severity.INFO]
    assert info[-1].message == "5 line(s) not understood and skipped: 1, 4-7"


def test_lenient_load_turns_check_errors_into_warnings() -> None:
    result = load_result("crypto ikev2 policy 1\n encryption aes\n integrity null\n", lenient=True)
    assert result.ok
    assert any("integrity null" in d.message for d in result.warnings)


def test_arbitrary_binary_garbage_is_a_diagnostic_not_a_crash() -> None:
    result = load_result("\x00\x01\xff crypto\n\t\t\n{[}]$...|\n")
    assert result.config is None
    assert len(result.errors) == 2


def test_secrets_never_appear_in_diagnostics() -> None:
    result = load_result(
        "tunnel-group 192.0.2.1 type ipsec-l2l\n"
        "tunnel-group 192.0.2.1 ipsec-attributes\n"
        " ikev2 local-authentication pre-shared-key hex 0xTopSecretZZ\n"
        " ikev1 pre-shared-key Top Secret Words\n"
    )
    rendered = "\n".join(d.render() for d in result.diagnostics)
    assert len(result.errors) == 2
    assert "TopSecret" not in rendered and "Secret" not in rendered
    assert "*****" in rendered


FIXTURES = __import__("pathlib").Path(__file__).resolve().parents[2] / "fixtures"


def test_lenient_load_of_a_whole_asa_9x_configuration() -> None:
    text = (FIXTURES / "asa-9x-full.cfg").read_text()
    result = load_result(text, lenient=True)
    assert result.ok and result.config is not None
    config = result.config
    # the crypto part is all there
    assert config.crypto_maps["outside_map"][10].peers == ["198.51.100.20"]
    assert config.crypto_map_interfaces == {"outside": "outside_map"}
    assert list(config.ikev2_policies) == [10] and list(config.ikev1_policies) == [10]
    assert config.tunnel_groups["198.51.100.20"].type == "ipsec-l2l"
    assert {i.nameif for i in config.interfaces.values()} >= {"outside", "inside", "management"}
    # what is not understood is listed, never silently dropped; crypto lines are warned
    lines = text.splitlines()
    skipped = {lines[n - 1].split()[0] for n in result.skipped_lines}
    assert {"nat", "policy-map", "pager", "ssh"} <= skipped
    crypto_skipped = [n for n in result.skipped_lines if lines[n - 1].startswith("crypto")]
    warned = {d.line_no for d in result.warnings if d.message.startswith("crypto line skipped")}
    assert set(crypto_skipped) == warned
    # the masked keys of a pasted `show running-config` are called out
    assert sum("probably lost in a copy" in d.message for d in result.warnings) == 2


def test_strict_load_of_the_whole_configuration_is_refused_with_every_line() -> None:
    text = (FIXTURES / "asa-9x-full.cfg").read_text()
    result = load_result(text)
    assert result.config is None
    lenient = load_result(text, lenient=True)
    error_lines = {d.line_no for d in result.errors if d.line_no is not None}
    lines = text.splitlines()
    top_level_skipped = {n for n in lenient.skipped_lines if not lines[n - 1][:1].isspace()}
    # every line lenient mode skipped on its own is an error in strict mode, and no other
    assert top_level_skipped <= error_lines <= set(lenient.skipped_lines)


def test_a_sub_mode_command_with_a_bad_value_is_not_taken_for_a_global_command() -> None:
    # 'host' is a command of the object sub-mode and also a prefix of 'hostname'
    result = load_result("object network WEB\n host 300.0.0.1\n")
    (error,) = result.errors
    assert error.line_no == 2 and error.message.startswith("% Invalid input")
    assert error.column == len("host ")
