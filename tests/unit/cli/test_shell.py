"""The sans-IO shell: modes and prompts, show filters, write memory, clear configure."""

from __future__ import annotations

from tunnelgate.cli.shell import SaveConfig, Shell
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import RunningConfig


def _shell(privileged: bool = False) -> Shell:
    return Shell(RunningConfig(), privileged=privileged)


def test_prompts_follow_the_mode_stack() -> None:
    shell = _shell()
    assert shell.prompt == "ciscoasa>"
    assert not shell.execute("configure terminal").ok  # needs enable first
    shell.execute("enable")
    assert shell.prompt == "ciscoasa#"
    shell.execute("conf t")
    assert shell.prompt == "ciscoasa(config)#"
    shell.execute("crypto ikev1 policy 10")
    assert shell.prompt == "ciscoasa(config-ikev1-policy)#"
    shell.execute("exit")
    assert shell.prompt == "ciscoasa(config)#"
    shell.execute("crypto ikev2 policy 1")
    assert shell.prompt == "ciscoasa(config-ikev2-policy)#"
    shell.execute("end")
    assert shell.prompt == "ciscoasa#"


def test_show_commands_work_in_config_mode_with_abbreviations() -> None:
    shell = _shell(privileged=True)
    shell.execute("conf t")
    shell.execute("crypto ikev1 policy 10")
    out = shell.execute("sh run cry ikev1")
    assert out.ok and out.text.startswith("crypto ikev1 policy 10\n")
    assert shell.prompt == "ciscoasa(config-ikev1-policy)#"  # show does not leave the mode


def test_invalid_exec_input_gets_the_caret() -> None:
    out = _shell(True).execute("show running-config cryptoo")
    assert not out.ok
    assert out.text.splitlines()[-1] == "ERROR: % Invalid input detected at '^' marker."


def test_refused_config_line_reports_and_changes_nothing() -> None:
    shell = _shell(True)
    shell.execute("configure terminal")
    before = repr(shell.config)
    out = shell.execute("crypto ikev1 policy 0")
    assert not out.ok and "^" in out.text
    assert repr(shell.config) == before


def test_write_memory_returns_the_unmasked_configuration_as_an_effect() -> None:
    shell = _shell(True)
    shell.execute("configure terminal")
    shell.execute("crypto isakmp identity address")
    out = shell.execute("write memory")
    assert out.text.endswith("[OK]\n")
    (effect,) = out.effects
    assert isinstance(effect, SaveConfig)
    reloaded = load_config(effect.text)
    assert reloaded.config == shell.config


def test_show_running_config_all_crypto_shows_defaults() -> None:
    shell = _shell(True)
    assert "crypto isakmp nat-traversal 20" in shell.execute("show running-config all crypto").text
    assert "nat-traversal" not in shell.execute("show running-config crypto").text


def test_clear_configure_crypto_isakmp_policy() -> None:
    shell = _shell(True)
    for line in (
        "conf t",
        "crypto ikev1 policy 5",
        "crypto ikev2 policy 5",
        "crypto ikev1 policy 6",
    ):
        shell.execute(line)
    assert shell.execute("clear configure crypto isakmp policy 5").ok
    assert list(shell.config.ikev1_policies) == [6] and not shell.config.ikev2_policies
    out = shell.execute("clear configure crypto isakmp policy 5")
    assert not out.ok and "policy 5 does not exist" in out.text
    assert shell.execute("clear configure crypto").ok
    assert shell.config == RunningConfig()


def test_key_commands_without_a_key_store_are_refused_clearly() -> None:
    shell = _shell(True)
    shell.execute("conf t")
    out = shell.execute("crypto key generate rsa modulus 2048")
    assert not out.ok and "no key store" in out.text


def test_the_show_commands_of_the_spec_table_1() -> None:
    """Spec lines 1310-1315 (Table 1: Commands to View IPsec Configuration Information)."""
    shell = _shell(True)
    for line in (
        "conf t",
        "crypto ipsec ikev1 transform-set TS esp-aes esp-sha-hmac",
        "crypto dynamic-map D 10 set ikev1 transform-set TS",
        "crypto map M 10 match address ACL",
        "crypto isakmp identity address",
        "crypto ikev1 policy 10",
        "crypto ikev2 policy 20",
        "end",
    ):
        assert shell.execute(line).ok, line

    def text(command: str) -> str:
        out = shell.execute(command)
        assert out.ok, command
        return out.text

    everything = text("show running-config crypto")
    for part in ("transform-set TS", "dynamic-map D", "map M 10", "isakmp identity", "policy 20"):
        assert part in everything
    assert text("show running-config crypto ipsec").startswith(
        "crypto ipsec ikev1 transform-set TS"
    )
    isakmp = text("show running-config crypto isakmp")  # D6: ikev1/ikev2 lines included
    assert "crypto isakmp identity address" in isakmp and "crypto ikev1 policy 10" in isakmp
    assert "crypto ikev2 policy 20" in isakmp and "transform-set" not in isakmp
    assert text("show running-config crypto map") == "crypto map M 10 match address ACL\n"
    assert text("show running-config crypto dynamic-map") == (
        "crypto dynamic-map D 10 set ikev1 transform-set TS\n"
    )
    assert "crypto map M 10 set ikev2 mode tunnel" in text("show all crypto map")
