"""IKE policies and global ISAKMP commands: values, defaults, limits, no forms, rendering."""

from __future__ import annotations

import pytest

from tests.helpers import errors, load, roundtrip, run, show
from tunnelgate.config.model import Ikev1Policy, Ikev2Policy, RunningConfig


def test_ikev1_policy_defaults_from_the_spec_table() -> None:
    config = load("crypto ikev1 policy 10\n")
    assert config.ikev1_policies[10] == Ikev1Policy(
        10,
        authentication="pre-share",
        encryption="3des",
        hash="sha",
        group=2,
        lifetime_seconds=86400,
    )


def test_no_default_policy_exists() -> None:
    assert RunningConfig().ikev1_policies == {}
    assert RunningConfig().ikev2_policies == {}


def test_ikev1_policy_every_value() -> None:
    config = load(
        """\
        crypto ikev1 policy 1
         authentication rsa-sig
         encryption aes-256
         hash md5
         group 5
         lifetime 14400
        """
    )
    assert config.ikev1_policies[1] == Ikev1Policy(1, "rsa-sig", "aes-256", "md5", 5, 14400)
    assert show(config, "crypto", "ikev1") == (
        "crypto ikev1 policy 1\n"
        " authentication rsa-sig\n"
        " encryption aes-256\n"
        " hash md5\n"
        " group 5\n"
        " lifetime 14400\n"
    )


@pytest.mark.parametrize(
    "line",
    [
        "group 14",
        "group 24",
        "encryption aes-gcm",
        "hash sha256",
        "lifetime 119",
        "lifetime 2147483648",
        "authentication pre-shared-keys",
    ],
)
def test_ikev1_policy_refuses_values_outside_the_spec(line: str) -> None:
    found = errors(f"crypto ikev1 policy 1\n {line}\n")
    assert len(found) == 1 and found[0].line_no == 2
    assert found[0].column is not None


def test_ikev1_no_forms_restore_defaults() -> None:
    config = load("crypto ikev1 policy 1\n encryption aes\n group 5\n lifetime 300\n")
    assert run(config, "crypto ikev1 policy 1", "no encryption", "no group 5", "no lifetime") == []
    assert config.ikev1_policies[1] == Ikev1Policy(1)


def test_priority_range_and_unique_and_sorted() -> None:
    config = load("crypto ikev1 policy 65535\ncrypto ikev1 policy 1\ncrypto ikev1 policy 1\n")
    assert list(config.ikev1_policies) == [1, 65535]
    for bad in ("0", "65536"):
        assert errors(f"crypto ikev1 policy {bad}\n")[0].detail == (
            "value must be between 1 and 65535"
        )


@pytest.mark.parametrize("version", [1, 2])
def test_at_most_twenty_policies_per_version(version: int) -> None:
    text = "".join(f"crypto ikev{version} policy {n}\n" for n in range(1, 21))
    config = load(text)
    before = repr(config)
    found = run(config, f"crypto ikev{version} policy 21")
    assert "at most 20 policies" in found[0].message
    assert repr(config) == before  # a refused command changes nothing
    # the other version still has room
    other = 2 if version == 1 else 1
    assert run(config, f"crypto ikev{other} policy 21") == []


def test_removing_a_policy() -> None:
    config = load("crypto ikev1 policy 5\ncrypto ikev2 policy 5\n")
    assert run(config, "no crypto ikev1 policy 5") == []
    assert 5 not in config.ikev1_policies and 5 in config.ikev2_policies
    assert "does not exist" in run(config, "no crypto ikev1 policy 5")[0].message


def test_ikev2_policy_lists_are_ordered_most_secure_first() -> None:
    config = load(
        """\
        crypto ikev2 policy 1
         encryption aes 3des aes-gcm-256 aes-256
         integrity sha sha512 md5
         prf sha sha256
         group 2 21 14 24 5
         lifetime seconds 43200
        """
    )
    assert config.ikev2_policies[1] == Ikev2Policy(
        1,
        encryption=["aes-gcm-256", "aes-256", "aes", "3des"],
        integrity=["sha512", "sha", "md5"],
        prf=["sha256", "sha"],
        group=[21, 24, 14, 5, 2],
        lifetime_seconds=43200,
    )
    assert show(config, "crypto", "ikev2") == (
        "crypto ikev2 policy 1\n"
        " encryption aes-gcm-256 aes-256 aes 3des\n"
        " integrity sha512 sha md5\n"
        " group 21 24 14 5 2\n"
        " prf sha256 sha\n"
        " lifetime seconds 43200\n"
    )


def test_ikev2_policy_defaults_and_no_forms() -> None:
    config = load("crypto ikev2 policy 3\n encryption aes-256 aes\n group 19 14\n")
    assert run(config, "crypto ikev2 policy 3", "no encryption aes", "no group") == []
    policy = config.ikev2_policies[3]
    assert policy.encryption == ["aes-256"]
    assert policy.group == [2]  # back to the default
    assert run(config, "crypto ikev2 policy 3", "no encryption aes-256") == []
    assert policy.encryption == ["3des"]  # removing the last value restores the default


def test_ikev2_integrity_null_only_with_gcm() -> None:
    load("crypto ikev2 policy 1\n encryption aes-gcm-256\n integrity null\n")
    found = errors("crypto ikev2 policy 1\n encryption aes-256\n integrity null\n")
    assert "integrity null can be used only with AES-GCM" in found[0].message


@pytest.mark.parametrize("version", ["ikev1", "ikev2"])
def test_enable_on_interface(version: str) -> None:
    config = load(f"crypto {version} enable outside\ncrypto {version} enable outside\n")
    enabled = config.isakmp.ikev1_enabled if version == "ikev1" else config.isakmp.ikev2_enabled
    assert enabled == ["outside"]
    assert show(config, "crypto", version) == f"crypto {version} enable outside\n"
    assert run(config, f"no crypto {version} enable outside") == []
    assert "is not enabled" in run(config, f"no crypto {version} enable outside")[0].message


def test_enable_warns_when_no_interface_has_the_name() -> None:
    result_text = "interface eth0\n nameif inside\ncrypto ikev1 enable outside\n"
    from tests.helpers import load_result

    result = load_result(result_text)
    if result.config is None:  # the interface family may not be present in this build
        pytest.skip("interface family not available")
    assert any("no interface has 'nameif outside'" in w.message for w in result.warnings)


def test_aggressive_mode_flag() -> None:
    config = load("crypto ikev1 am-disable\n")
    assert config.isakmp.ikev1_am_disable
    assert "crypto ikev1 am-disable\n" in show(config, "crypto")
    run(config, "no crypto ikev1 am-disable")
    assert not config.isakmp.ikev1_am_disable


@pytest.mark.parametrize(
    ("line", "kind", "key"),
    [
        ("crypto isakmp identity address", "address", None),
        ("crypto isakmp identity hostname", "hostname", None),
        ("crypto isakmp identity key-id BranchKey", "key-id", "BranchKey"),
        ("crypto isakmp identity auto", "auto", None),
    ],
)
def test_identity(line: str, kind: str, key: str | None) -> None:
    config = load(line + "\n")
    assert (config.isakmp.identity, config.isakmp.identity_key_id) == (kind, key)
    assert roundtrip(config) == config


def test_identity_default_is_auto_and_not_shown() -> None:
    config = load("crypto isakmp identity hostname\nno crypto isakmp identity\n")
    assert config.isakmp.identity == "auto"
    assert show(config, "crypto", "isakmp") == ""
    assert "crypto isakmp identity auto" in show(config, "crypto", "isakmp", all=True)


def test_disabling_fragmentation_resets_mtu_and_method_so_the_config_roundtrips() -> None:
    config = load(
        "crypto ikev2 fragmentation mtu 1000 preferred-method cisco\n"
        "no crypto ikev2 fragmentation\n"
    )
    assert not config.isakmp.ikev2_fragmentation
    assert config.isakmp.ikev2_fragmentation_mtu is None
    assert config.isakmp.ikev2_fragmentation_method == "ietf"
    assert roundtrip(config) == config


def test_fragmentation_examples_of_the_spec() -> None:
    config = RunningConfig()
    run(config, "no crypto ikev2 fragmentation")
    assert show(config, "crypto", "ikev2") == "no crypto ikev2 fragmentation\n"
    run(config, "crypto ikev2 fragmentation")
    assert show(config, "crypto", "ikev2") == ""
    run(config, "crypto ikev2 fragmentation mtu 600")
    assert show(config, "crypto", "ikev2") == "crypto ikev2 fragmentation mtu 600\n"
    run(config, "no crypto ikev2 fragmentation mtu 576")
    assert config.isakmp.ikev2_fragmentation_mtu is None
    run(config, "crypto ikev2 fragmentation preferred-method cisco")
    assert show(config, "crypto", "ikev2") == "crypto ikev2 fragmentation preferred-method cisco\n"
    run(config, "no crypto ikev2 fragmentation preferred-method cisco")
    assert config.isakmp.ikev2_fragmentation_method == "ietf"
    for bad in ("67", "1501"):
        found = run(config, f"crypto ikev2 fragmentation mtu {bad}")
        assert found[0].detail == "value must be between 68 and 1500"


def test_nat_traversal_keepalive_range_and_default() -> None:
    config = load("crypto isakmp nat-traversal 3600\n")
    assert config.isakmp.nat_keepalive_seconds == 3600
    assert show(config, "crypto", "isakmp") == "crypto isakmp nat-traversal 3600\n"
    run(config, "crypto isakmp nat-traversal")
    assert config.isakmp.nat_keepalive_seconds == 20
    run(config, "no crypto isakmp nat-traversal")
    assert show(config, "crypto", "isakmp") == "no crypto isakmp nat-traversal\n"
    assert run(config, "crypto isakmp nat-traversal 9")[0].detail == (
        "value must be between 10 and 3600"
    )


def test_ipsec_over_tcp_ports_and_warning_for_web_ports() -> None:
    config = RunningConfig()
    assert run(config, "crypto ikev1 ipsec-over-tcp") == []
    assert config.isakmp.ipsec_over_tcp_ports == [10000]
    found = run(config, "crypto ikev1 ipsec-over-tcp port 45 443 80")
    assert len(found) == 2 and all(d.severity.value == "WARNING" for d in found)
    assert "HTTPS management will no longer work" in found[0].message
    assert show(config, "crypto", "ikev1") == "crypto ikev1 ipsec-over-tcp port 45 443 80\n"
    ports = " ".join(str(p) for p in range(1000, 1011))
    before = repr(config)
    assert "at most 10 ports" in run(config, f"crypto ikev1 ipsec-over-tcp port {ports}")[0].message
    assert repr(config) == before


def test_simple_flags_round_trip() -> None:
    config = load(
        "crypto ikev2 notify invalid-selectors\n"
        "crypto isakmp reload-wait\n"
        "crypto isakmp disconnect-notify\n"
    )
    assert config.isakmp.ikev2_notify_invalid_selectors
    assert config.isakmp.reload_wait and config.isakmp.disconnect_notify
    assert roundtrip(config) == config
    run(config, "no crypto isakmp reload-wait", "no crypto ikev2 notify invalid-selectors")
    assert not config.isakmp.reload_wait and not config.isakmp.ikev2_notify_invalid_selectors


def test_full_family_round_trip() -> None:
    config = load(
        """\
        crypto ikev2 policy 10
         encryption aes-gcm-256
         integrity null
         group 21 24
         prf sha512
         lifetime seconds 86400
        crypto ikev2 enable outside
        crypto ikev2 fragmentation mtu 1200 preferred-method cisco
        crypto ikev1 enable outside
        crypto ikev1 am-disable
        crypto ikev1 policy 20
         encryption aes-192
        crypto isakmp identity key-id abc
        crypto isakmp nat-traversal 30
        """
    )
    assert roundtrip(config) == config


# --------------------------------------------------------------------------- rules of the spec


def test_global_defaults_of_the_spec() -> None:
    """Spec lines 248, 273, 314, 330, 462, 482, 494, 1322, 1342 (docs/rules.md)."""
    isakmp = RunningConfig().isakmp
    assert isakmp.ikev1_am_disable is False  # "Aggressive mode is enabled by default"
    assert (isakmp.identity, isakmp.identity_key_id) == ("auto", None)
    assert isakmp.ikev2_notify_invalid_selectors is False  # "disabled by default"
    assert isakmp.ikev2_fragmentation is True  # "all methods ... are enabled"
    assert isakmp.ikev2_fragmentation_mtu is None  # 576 (IPv4) / 1280 (IPv6)
    assert isakmp.ikev2_fragmentation_method == "ietf"
    assert (isakmp.nat_traversal, isakmp.nat_keepalive_seconds) == (True, 20)
    assert isakmp.ipsec_over_tcp is False  # "This feature is disabled by default"
    assert isakmp.ipsec_over_tcp_ports == [10000]  # "The default port is 10000"
    assert isakmp.reload_wait is False and isakmp.disconnect_notify is False
    assert isakmp.ikev1_enabled == [] and isakmp.ikev2_enabled == []
    assert show(RunningConfig(), "crypto") == ""


def test_ikev2_policy_defaults_from_the_spec_table() -> None:
    config = load("crypto ikev2 policy 10\n")
    assert config.ikev2_policies[10] == Ikev2Policy(
        10, encryption=["3des"], integrity=["sha"], prf=["sha"], group=[2], lifetime_seconds=86400
    )


@pytest.mark.parametrize(
    "line",
    [
        "encryption des 3des aes aes-192 aes-256 aes-gcm aes-gcm-192 aes-gcm-256",
        "integrity md5 sha sha256 sha384 sha512",
        "prf md5 sha sha256 sha384 sha512",
        "group 1 2 5 14 19 20 21 24",
        "lifetime seconds 120",
        "lifetime seconds 2147483647",
    ],
)
def test_ikev2_policy_accepts_every_value_of_the_spec_table(line: str) -> None:
    load(f"crypto ikev2 policy 1\n {line}\n")


@pytest.mark.parametrize(
    "line",
    [
        "lifetime seconds 119",
        "lifetime seconds 2147483648",
        "integrity sha-256",
        "prf null",
        "group 3",
    ],
)
def test_ikev2_policy_refuses_values_outside_the_spec(line: str) -> None:
    found = errors(f"crypto ikev2 policy 1\n {line}\n")
    assert len(found) == 1 and found[0].line_no == 2


def test_clear_configure_crypto_isakmp_removes_the_whole_isakmp_configuration() -> None:
    """Spec line 1363: "Removes the entire ISAKMP configuration"."""
    config = load(
        """\
        crypto ikev1 policy 10
        crypto ikev2 policy 20
        crypto ikev1 enable outside
        crypto ikev2 enable outside
        crypto ikev1 am-disable
        crypto isakmp identity hostname
        crypto isakmp nat-traversal 30
        crypto isakmp reload-wait
        crypto ipsec ikev1 transform-set TS esp-aes esp-sha-hmac
        """
    )
    assert run(config, "clear configure crypto isakmp") == []
    assert config.ikev1_policies == {} and config.ikev2_policies == {}
    assert config.isakmp == RunningConfig().isakmp
    assert "TS" in config.ipsec.transform_sets  # IPsec is not ISAKMP


def test_clear_configure_crypto_isakmp_policy_all_or_one() -> None:
    """Spec line 1364: "Removes all ISAKMP policies or a specific policy"."""
    config = load("crypto ikev1 policy 5\ncrypto ikev2 policy 5\ncrypto ikev2 policy 7\n")
    assert run(config, "clear configure crypto isakmp policy 7") == []
    assert list(config.ikev2_policies) == [5] and list(config.ikev1_policies) == [5]
    assert (
        "policy 9 does not exist"
        in run(config, "clear configure crypto isakmp policy 9")[0].message
    )
    assert run(config, "clear configure crypto isakmp policy") == []
    assert config.ikev1_policies == {} and config.ikev2_policies == {}


@pytest.mark.parametrize(
    "line", ["encryption aes des", "hash sha md5", "group 2 5", "authentication rsa-sig pre-share"]
)
def test_ikev1_policy_takes_one_value_per_parameter(line: str) -> None:
    """Spec line 70: "With IKEv1 policies, you set one value for each parameter"."""
    found = errors(f"crypto ikev1 policy 1\n {line}\n")
    assert len(found) == 1 and found[0].line_no == 2
