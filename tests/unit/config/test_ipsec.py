"""Transform sets, IKEv2 IPsec proposals and the global ``crypto ipsec`` settings."""

from __future__ import annotations

import pytest

from tests.helpers import asa, errors, load, load_result, refused, roundtrip, run, show
from tunnelgate.config.checks import run_checks
from tunnelgate.config.diagnostics import INVALID_INPUT, Severity
from tunnelgate.config.model import (
    CryptoMapEntry,
    Interface,
    IpsecProposal,
    RunningConfig,
    TransformSet,
)
from tunnelgate.config.session import ConfigSession


def messages(text: str, severity: Severity = Severity.WARNING) -> list[str]:
    return [d.message for d in load_result(text).diagnostics if d.severity is severity]


# --------------------------------------------------------------------------- transform sets


def test_transform_set_encryption_and_authentication() -> None:
    cfg = load("crypto ipsec ikev1 transform-set myset1 esp-des esp-sha-hmac")
    assert cfg.ipsec.transform_sets == {"myset1": TransformSet("myset1", "esp-des", "esp-sha-hmac")}


def test_transform_set_accepts_either_order_and_renders_encryption_first() -> None:
    cfg = load("crypto ipsec ikev1 transform-set aes_set esp-md5-hmac esp-aes-256")
    assert cfg.ipsec.transform_sets["aes_set"] == TransformSet(
        "aes_set", "esp-aes-256", "esp-md5-hmac"
    )
    assert show(cfg, "crypto", "ipsec", "ikev1") == (
        "crypto ipsec ikev1 transform-set aes_set esp-aes-256 esp-md5-hmac \n"
    )


def test_transform_set_encryption_only() -> None:
    cfg = load("crypto ipsec ikev1 transform-set T esp-aes-192")
    assert cfg.ipsec.transform_sets["T"] == TransformSet("T", "esp-aes-192", None)
    assert roundtrip(cfg) == cfg


@pytest.mark.parametrize("enc", ["esp-aes", "esp-aes-192", "esp-aes-256", "esp-des", "esp-3des"])
@pytest.mark.parametrize("auth", ["esp-md5-hmac", "esp-sha-hmac", "esp-none"])
def test_transform_set_every_keyword(enc: str, auth: str) -> None:
    cfg = load(f"crypto ipsec ikev1 transform-set T {enc} {auth}")
    assert cfg.ipsec.transform_sets["T"] == TransformSet("T", enc, auth)
    assert roundtrip(cfg) == cfg


def test_transform_set_esp_null_with_authentication() -> None:
    cfg = load("crypto ipsec ikev1 transform-set N esp-null esp-sha-hmac")
    assert cfg.ipsec.transform_sets["N"].encryption == "esp-null"


@pytest.mark.parametrize(
    "transforms",
    [
        "esp-aes esp-3des",
        "esp-sha-hmac",
        "esp-aes esp-sha-hmac esp-md5-hmac",
        "esp-md5-hmac esp-none",
    ],
)
def test_transform_set_needs_one_encryption_at_most_one_authentication(transforms: str) -> None:
    message = refused(RunningConfig(), f"crypto ipsec ikev1 transform-set T {transforms}")
    assert message.startswith("a transform set takes exactly one encryption")


@pytest.mark.parametrize("transforms", ["esp-null", "esp-null esp-none"])
def test_transform_set_without_any_protection_is_refused(transforms: str) -> None:
    message = refused(RunningConfig(), f"crypto ipsec ikev1 transform-set T {transforms}")
    assert "esp-null needs an authentication" in message


def test_transform_set_unknown_keyword_is_invalid_input() -> None:
    assert refused(RunningConfig(), "crypto ipsec ikev1 transform-set T esp-aes-512") == (
        INVALID_INPUT
    )


def test_redefining_a_transform_set_replaces_its_transforms_and_keeps_its_place() -> None:
    cfg = load(
        """
        crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac
        crypto ipsec ikev1 transform-set B esp-3des esp-md5-hmac
        crypto ipsec ikev1 transform-set A esp-aes-256
        """
    )
    assert list(cfg.ipsec.transform_sets) == ["A", "B"]
    assert cfg.ipsec.transform_sets["A"] == TransformSet("A", "esp-aes-256", None)


def test_transform_set_mode_transport_separate_and_inline() -> None:
    cfg = load(
        """
        crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac
        crypto ipsec ikev1 transform-set A mode transport
        crypto ipsec ikev1 transform-set B esp-3des esp-sha-hmac mode transport
        """
    )
    assert cfg.ipsec.transform_sets["A"].mode == "transport"
    assert cfg.ipsec.transform_sets["B"].mode == "transport"
    assert show(cfg, "crypto", "ipsec", "ikev1") == (
        "crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac \n"
        "crypto ipsec ikev1 transform-set A mode transport\n"
        "crypto ipsec ikev1 transform-set B esp-3des esp-sha-hmac \n"
        "crypto ipsec ikev1 transform-set B mode transport\n"
    )
    assert roundtrip(cfg) == cfg


def test_redefining_transforms_keeps_the_mode() -> None:
    cfg = load(
        """
        crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac mode transport
        crypto ipsec ikev1 transform-set A esp-3des
        """
    )
    assert cfg.ipsec.transform_sets["A"] == TransformSet("A", "esp-3des", None, "transport")


def test_mode_transport_needs_an_existing_transform_set() -> None:
    message = refused(RunningConfig(), "crypto ipsec ikev1 transform-set X mode transport")
    assert message == "transform-set X does not exist; define its transforms first"


def test_no_mode_transport_returns_to_tunnel() -> None:
    cfg = load("crypto ipsec ikev1 transform-set A esp-aes mode transport")
    assert run(cfg, "no crypto ipsec ikev1 transform-set A mode transport") == []
    assert cfg.ipsec.transform_sets["A"].mode == "tunnel"
    assert refused(cfg, "no crypto ipsec ikev1 transform-set Z mode transport") == (
        "transform-set Z does not exist"
    )


@pytest.mark.parametrize("suffix", ["", " esp-aes esp-sha-hmac"])
def test_no_transform_set_removes_it_and_the_map_references(suffix: str) -> None:
    cfg = load(
        """
        crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac
        crypto ipsec ikev1 transform-set B esp-3des esp-sha-hmac
        crypto map M 10 set ikev1 transform-set A B
        crypto dynamic-map D 5 set ikev1 transform-set A
        """
    )
    diags = run(cfg, f"no crypto ipsec ikev1 transform-set A{suffix}")
    assert "A" not in cfg.ipsec.transform_sets
    assert cfg.crypto_maps["M"][10].ikev1_transform_sets == ["B"]
    assert cfg.dynamic_maps["D"][5].ikev1_transform_sets == []
    assert [(d.severity, d.message) for d in diags] == [
        (Severity.WARNING, "crypto map M 10: reference to transform-set A removed"),
        (Severity.WARNING, "crypto dynamic-map D 5: reference to transform-set A removed"),
    ]


def test_no_transform_set_that_does_not_exist() -> None:
    assert refused(RunningConfig(), "no crypto ipsec ikev1 transform-set Q") == (
        "transform-set Q does not exist"
    )


# --------------------------------------------------------------------------- ipsec proposals


def test_proposal_lists_are_ordered_most_secure_first() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal secure
         protocol esp encryption 3des aes des aes-256 aes
         protocol esp integrity md5 sha-1 sha-512
        """
    )
    assert cfg.ipsec.proposals["secure"] == IpsecProposal(
        "secure", ["aes-256", "aes", "3des", "des"], ["sha-512", "sha-1", "md5"]
    )


def test_proposal_name_length() -> None:
    cfg = load(f"crypto ipsec ikev2 ipsec-proposal {'p' * 64}")
    assert "p" * 64 in cfg.ipsec.proposals
    message = refused(RunningConfig(), f"crypto ipsec ikev2 ipsec-proposal {'p' * 65}")
    assert message == "an ipsec-proposal name has 1 to 64 characters"


def test_proposal_enters_its_mode_and_reentering_keeps_values() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp integrity sha-256
        """
    )
    assert cfg.ipsec.proposals["P"] == IpsecProposal("P", ["aes-256"], ["sha-256"])


def test_protocol_esp_replaces_the_list() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256 aes
         protocol esp encryption aes-192
         protocol esp integrity sha-1
        """
    )
    assert cfg.ipsec.proposals["P"].encryption == ["aes-192"]


def test_every_esp_v2_keyword_is_accepted() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-gmac aes-gcm des null 3des aes aes-192 aes-256 aes-gcm-192 aes-gcm-256 aes-gmac-192 aes-gmac-256
         protocol esp integrity null md5 sha-1 sha-256 sha-384 sha-512
        """  # noqa: E501
    )
    proposal = cfg.ipsec.proposals["P"]
    assert proposal.encryption == [
        "aes-gcm-256", "aes-gcm-192", "aes-gcm", "aes-gmac-256", "aes-gmac-192", "aes-gmac",
        "aes-256", "aes-192", "aes", "3des", "des", "null",
    ]  # fmt: skip
    assert proposal.integrity == ["sha-512", "sha-384", "sha-256", "sha-1", "md5", "null"]


def test_no_protocol_esp_integrity_values_and_all() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256
         protocol esp integrity sha-512 sha-256 sha-1
        """
    )
    run(cfg, "crypto ipsec ikev2 ipsec-proposal P", "no protocol esp integrity sha-256")
    assert cfg.ipsec.proposals["P"].integrity == ["sha-512", "sha-1"]
    run(cfg, "crypto ipsec ikev2 ipsec-proposal P", "no protocol esp integrity")
    assert cfg.ipsec.proposals["P"].integrity == []


def test_removing_one_encryption_keeps_the_references() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256 aes
         protocol esp integrity sha-1
        crypto map M 10 set ikev2 ipsec-proposal P
        """
    )
    assert run(cfg, "crypto ipsec ikev2 ipsec-proposal P", "no protocol esp encryption aes") == []
    assert cfg.ipsec.proposals["P"].encryption == ["aes-256"]
    assert cfg.crypto_maps["M"][10].ikev2_proposals == ["P"]


@pytest.mark.parametrize(
    "line", ["no protocol esp encryption", "no protocol esp encryption aes-256"]
)
def test_emptying_a_proposal_removes_the_map_references(line: str) -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256
         protocol esp integrity sha-1
        crypto ipsec ikev2 ipsec-proposal Q
         protocol esp encryption aes
         protocol esp integrity sha-1
        crypto map M 10 set ikev2 ipsec-proposal P Q
        crypto dynamic-map D 10 set ikev2 ipsec-proposal P
        """
    )
    diags = run(cfg, "crypto ipsec ikev2 ipsec-proposal P", line)
    assert cfg.ipsec.proposals["P"].encryption == []
    assert cfg.crypto_maps["M"][10].ikev2_proposals == ["Q"]
    assert cfg.dynamic_maps["D"][10].ikev2_proposals == []
    assert [d.message for d in diags] == [
        "crypto map M 10: reference to ipsec-proposal P removed",
        "crypto dynamic-map D 10: reference to ipsec-proposal P removed",
    ]


def test_no_ipsec_proposal_removes_it_and_the_references() -> None:
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256
         protocol esp integrity sha-1
        crypto map M 10 set ikev2 ipsec-proposal P
        """
    )
    diags = run(cfg, "no crypto ipsec ikev2 ipsec-proposal P")
    assert cfg.ipsec.proposals == {}
    assert cfg.crypto_maps["M"][10].ikev2_proposals == []
    assert [d.message for d in diags] == ["crypto map M 10: reference to ipsec-proposal P removed"]
    assert refused(cfg, "no crypto ipsec ikev2 ipsec-proposal P") == (
        "ipsec-proposal P does not exist"
    )


def test_sub_mode_command_after_the_proposal_was_removed() -> None:
    cfg = load("crypto ipsec ikev2 ipsec-proposal P")
    session = ConfigSession(cfg)
    session.execute("crypto ipsec ikev2 ipsec-proposal P")
    cfg.ipsec.proposals.clear()
    result = session.execute("protocol esp encryption aes")
    assert not result.applied
    assert result.diagnostics[0].message == "ipsec-proposal P no longer exists"


def test_protocol_esp_unknown_algorithm() -> None:
    cfg = load("crypto ipsec ikev2 ipsec-proposal P")
    message = refused(cfg, "crypto ipsec ikev2 ipsec-proposal P", "protocol esp integrity sha-2x")
    assert message == INVALID_INPUT


# --------------------------------------------------------------------------- AEAD check

_PROPOSAL = """
crypto ipsec ikev2 ipsec-proposal P
 protocol esp encryption {enc}
"""


def _proposal(enc: str, integrity: str | None) -> str:
    text = _PROPOSAL.format(enc=enc)
    return text + (f" protocol esp integrity {integrity}\n" if integrity else "")


@pytest.mark.parametrize(
    ("enc", "integrity"),
    [
        ("aes-gcm", "null"),
        ("aes-gcm-256 aes-gmac", None),
        ("aes-256", "sha-256"),
        ("aes-gcm-256 aes-256", "sha-256"),
        ("aes-gcm-256 aes-256", "sha-256 null"),
        ("null", "sha-1"),
    ],
)
def test_valid_integrity_combinations(enc: str, integrity: str | None) -> None:
    text = _proposal(enc, integrity)
    load(text)
    assert messages(text, Severity.ERROR) == []


def test_aead_with_a_real_integrity_is_an_error() -> None:
    diags = errors(_proposal("aes-gcm-256 aes-gmac", "sha-256 null"))
    assert [d.message for d in diags] == [
        "crypto ipsec ikev2 ipsec-proposal P: AES-GCM/GMAC encryption requires integrity "
        "null, but integrity includes sha-256"
    ]


@pytest.mark.parametrize("enc", ["aes-256", "null", "aes-gcm 3des"])
def test_null_integrity_with_non_aead_encryption_is_an_error(enc: str) -> None:
    diags = errors(_proposal(enc, "null"))
    non_aead = ", ".join(e for e in enc.split() if not e.startswith("aes-g"))
    assert [d.message for d in diags] == [
        "crypto ipsec ikev2 ipsec-proposal P: integrity null can be used only with "
        f"AES-GCM/GMAC encryption, but encryption includes {non_aead}"
    ]


def test_non_aead_without_integrity_is_a_warning() -> None:
    text = _proposal("aes-256", None)
    load(text)
    assert messages(text) == [
        "crypto ipsec ikev2 ipsec-proposal P: encryption aes-256 needs an integrity "
        "algorithm, and none is configured: the proposal cannot be negotiated with it"
    ]


def test_integrity_only_proposal_is_not_checked() -> None:
    text = "crypto ipsec ikev2 ipsec-proposal P\n protocol esp integrity null\n"
    assert load_result(text).diagnostics == []


# --------------------------------------------------------------------------- global settings


def test_defaults() -> None:
    ipsec = RunningConfig().ipsec
    assert (ipsec.lifetime_seconds, ipsec.lifetime_kilobytes) == (28800, 4608000)
    assert ipsec.pmtu_aging_minutes is None
    assert ipsec.fragmentation == "before-encryption"
    assert ipsec.inner_routing_lookup is False


@pytest.mark.parametrize("value", [120, 3600, 2147483647])
def test_sa_lifetime_seconds(value: int) -> None:
    cfg = load(f"crypto ipsec security-association lifetime seconds {value}")
    assert cfg.ipsec.lifetime_seconds == value
    assert roundtrip(cfg) == cfg


@pytest.mark.parametrize("value", [10, 100000, 2147483647])
def test_sa_lifetime_kilobytes(value: int) -> None:
    cfg = load(f"crypto ipsec security-association lifetime kilobytes {value}")
    assert cfg.ipsec.lifetime_kilobytes == value
    assert roundtrip(cfg) == cfg


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        ("crypto ipsec security-association lifetime seconds 119", "between 120 and 2147483647"),
        ("crypto ipsec security-association lifetime seconds 2147483648", "between 120 and"),
        ("crypto ipsec security-association lifetime kilobytes 9", "between 10 and 2147483647"),
        ("crypto ipsec security-association pmtu-aging 9", "between 10 and 30"),
        ("crypto ipsec security-association pmtu-aging 31", "between 10 and 30"),
    ],
)
def test_global_ranges(line: str, detail: str) -> None:
    cfg = RunningConfig()
    diags = run(cfg, line)
    assert diags[0].message == INVALID_INPUT
    assert detail in (diags[0].detail or "")
    assert cfg == RunningConfig()


@pytest.mark.parametrize(
    ("line", "seconds", "kilobytes"),
    [
        ("no crypto ipsec security-association lifetime seconds", 28800, 9999),
        ("no crypto ipsec security-association lifetime seconds 3600", 28800, 9999),
        ("no crypto ipsec security-association lifetime kilobytes", 3600, 4608000),
        ("no crypto ipsec security-association lifetime kilobytes 9999", 3600, 4608000),
        ("no crypto ipsec security-association lifetime", 28800, 4608000),
    ],
)
def test_no_sa_lifetime(line: str, seconds: int, kilobytes: int) -> None:
    cfg = load(
        """
        crypto ipsec security-association lifetime seconds 3600
        crypto ipsec security-association lifetime kilobytes 9999
        """
    )
    assert run(cfg, line) == []
    assert (cfg.ipsec.lifetime_seconds, cfg.ipsec.lifetime_kilobytes) == (seconds, kilobytes)


@pytest.mark.parametrize(("value", "minutes"), [("10", 10), ("30", 30), ("infinite", None)])
def test_pmtu_aging(value: str, minutes: int | None) -> None:
    cfg = load(f"crypto ipsec security-association pmtu-aging {value}")
    assert cfg.ipsec.pmtu_aging_minutes == minutes
    assert f"crypto ipsec security-association pmtu-aging {value}\n" in show(cfg, all=True)
    assert ("pmtu-aging" in show(cfg)) is (minutes is not None)
    assert roundtrip(cfg) == cfg


@pytest.mark.parametrize("suffix", ["", " 20", " infinite"])
def test_no_pmtu_aging(suffix: str) -> None:
    cfg = load("crypto ipsec security-association pmtu-aging 20")
    assert run(cfg, f"no crypto ipsec security-association pmtu-aging{suffix}") == []
    assert cfg.ipsec.pmtu_aging_minutes is None


def test_fragmentation_global_and_per_interface() -> None:
    cfg = load(
        """
        crypto ipsec fragmentation after-encryption
        crypto ipsec fragmentation before-encryption outside
        crypto ipsec fragmentation after-encryption dmz
        """
    )
    assert cfg.ipsec.fragmentation == "after-encryption"
    assert cfg.ipsec.fragmentation_interfaces == {
        "outside": "before-encryption",
        "dmz": "after-encryption",
    }
    assert roundtrip(cfg) == cfg
    assert run(cfg, "no crypto ipsec fragmentation before-encryption outside") == []
    assert cfg.ipsec.fragmentation_interfaces == {"dmz": "after-encryption"}
    assert run(cfg, "no crypto ipsec fragmentation after-encryption") == []
    assert cfg.ipsec.fragmentation == "before-encryption"
    assert refused(cfg, "no crypto ipsec fragmentation after-encryption inside") == (
        "no fragmentation policy is set for inside"
    )


def test_fragmentation_on_an_unknown_interface_is_a_warning() -> None:
    cfg = load("crypto ipsec fragmentation after-encryption outside")
    assert run_checks(cfg) == []  # no interfaces configured at all: nothing to compare with
    cfg.interfaces["GigabitEthernet0/0"] = Interface("GigabitEthernet0/0", nameif="inside")
    assert [d.message for d in run_checks(cfg)] == [
        "crypto ipsec fragmentation after-encryption outside: no interface has 'nameif outside'"
    ]
    cfg.interfaces["GigabitEthernet0/1"] = Interface("GigabitEthernet0/1", nameif="outside")
    assert run_checks(cfg) == []


@pytest.mark.parametrize(
    "line", ["crypto ipsec inner-routing-lookup", "ipsec inner-routing-lookup"]
)
def test_inner_routing_lookup(line: str) -> None:
    cfg = load(line)
    assert cfg.ipsec.inner_routing_lookup is True
    assert show(cfg, "crypto", "ipsec").endswith("crypto ipsec inner-routing-lookup\n")


@pytest.mark.parametrize(
    "line", ["no crypto ipsec inner-routing-lookup", "no ipsec inner-routing-lookup"]
)
def test_no_inner_routing_lookup(line: str) -> None:
    cfg = load("crypto ipsec inner-routing-lookup")
    assert run(cfg, line) == []
    assert cfg.ipsec.inner_routing_lookup is False


# --------------------------------------------------------------------------- render


def test_render_factory_defaults() -> None:
    cfg = RunningConfig()
    assert show(cfg, "crypto", "ipsec") == ""
    assert show(cfg, "crypto", "ipsec", all=True) == (
        "crypto ipsec security-association lifetime seconds 28800\n"
        "crypto ipsec security-association lifetime kilobytes 4608000\n"
        "crypto ipsec security-association pmtu-aging infinite\n"
        "crypto ipsec fragmentation before-encryption\n"
        "no crypto ipsec inner-routing-lookup\n"
    )


def test_render_spec_example() -> None:
    """The spec's ``show run crypto ipsec``, exactly."""
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal GCM
         protocol esp encryption aes-gcm
         protocol esp integrity null
        crypto ipsec inner-routing-lookup
        """
    )
    assert show(cfg, "crypto", "ipsec") == (
        "crypto ipsec ikev2 ipsec-proposal GCM\n"
        " protocol esp encryption aes-gcm\n"
        " protocol esp integrity null\n"
        "crypto ipsec inner-routing-lookup\n"
    )


FULL = asa(
    """\
crypto ipsec ikev1 transform-set ESP-AES-256-SHA esp-aes-256 esp-sha-hmac␠
crypto ipsec ikev1 transform-set L2TP esp-3des esp-sha-hmac␠
crypto ipsec ikev1 transform-set L2TP mode transport
crypto ipsec ikev2 ipsec-proposal AES256
 protocol esp encryption aes-256
 protocol esp integrity sha-256 sha-1
crypto ipsec ikev2 ipsec-proposal INTEGRITY-ONLY
 protocol esp integrity sha-1
crypto ipsec ikev2 ipsec-proposal EMPTY
crypto ipsec security-association lifetime seconds 3600
crypto ipsec security-association lifetime kilobytes 100000
crypto ipsec security-association pmtu-aging 15
crypto ipsec fragmentation after-encryption
crypto ipsec fragmentation before-encryption outside
crypto ipsec inner-routing-lookup
"""
)


def test_render_order_and_round_trip() -> None:
    cfg = load(FULL)
    assert show(cfg, "crypto", "ipsec") == FULL
    assert roundtrip(cfg) == cfg


def test_render_all_round_trips() -> None:
    cfg = load(FULL)
    assert load(show(cfg, "crypto", "ipsec", all=True)) == cfg
    assert load(show(RunningConfig(), "crypto", "ipsec", all=True)) == RunningConfig()


def test_round_trip_of_references_to_removed_sets_is_stable() -> None:
    cfg = RunningConfig()
    cfg.crypto_maps["M"] = {10: CryptoMapEntry(10, ikev1_transform_sets=["GONE"])}
    assert roundtrip(cfg) == cfg


# --------------------------------------------------------------------------- clear configure


@pytest.mark.parametrize("line", ["clear configure crypto ipsec ikev1 transform-set A",
                                  "clear configure crypto ipsec ikev1 transform-set",
                                  "clear configure crypto ipsec"])  # fmt: skip
def test_clearing_a_transform_set_removes_the_map_references(line: str) -> None:
    """Spec line 84: "If you clear or delete the only element in a transform set ..."."""
    cfg = load(
        """
        crypto ipsec ikev1 transform-set A esp-aes esp-sha-hmac
        crypto map M 10 set ikev1 transform-set A
        crypto dynamic-map D 5 set ikev1 transform-set A
        """
    )
    diags = run(cfg, line)
    assert cfg.ipsec.transform_sets == {}
    assert cfg.crypto_maps["M"][10].ikev1_transform_sets == []
    assert cfg.dynamic_maps["D"][5].ikev1_transform_sets == []
    assert [d.message for d in diags] == [
        "crypto map M 10: reference to transform-set A removed",
        "crypto dynamic-map D 5: reference to transform-set A removed",
    ]


@pytest.mark.parametrize("line", ["clear configure crypto ipsec ikev2 ipsec-proposal P",
                                  "clear configure crypto ipsec ikev2 ipsec-proposal",
                                  "clear configure crypto ipsec"])  # fmt: skip
def test_clearing_a_proposal_removes_the_map_references(line: str) -> None:
    """Spec line 84: "... or proposal, the ASA automatically removes the crypto map references"."""
    cfg = load(
        """
        crypto ipsec ikev2 ipsec-proposal P
         protocol esp encryption aes-256
         protocol esp integrity sha-256
        crypto map M 10 set ikev2 ipsec-proposal P
        crypto dynamic-map D 5 set ikev2 ipsec-proposal P
        """
    )
    diags = run(cfg, line)
    assert cfg.ipsec.proposals == {}
    assert cfg.crypto_maps["M"][10].ikev2_proposals == []
    assert cfg.dynamic_maps["D"][5].ikev2_proposals == []
    assert [d.message for d in diags] == [
        "crypto map M 10: reference to ipsec-proposal P removed",
        "crypto dynamic-map D 5: reference to ipsec-proposal P removed",
    ]


def test_clear_configure_an_unknown_transform_set_or_proposal_is_refused() -> None:
    assert refused(RunningConfig(), "clear configure crypto ipsec ikev1 transform-set X") == (
        "transform-set X does not exist"
    )
    assert refused(RunningConfig(), "clear configure crypto ipsec ikev2 ipsec-proposal X") == (
        "ipsec-proposal X does not exist"
    )


def test_global_lifetime_kilobytes_number_or_unlimited() -> None:
    cfg = load("crypto ipsec security-association lifetime kilobytes 100000\n")
    assert cfg.ipsec.lifetime_kilobytes == 100000
    assert run(cfg, "crypto ipsec security-association lifetime kilobytes unlimited") == []
    assert cfg.ipsec.lifetime_kilobytes == "unlimited"
    assert show(cfg, "crypto", "ipsec") == (
        "crypto ipsec security-association lifetime kilobytes unlimited\n"
    )
    assert roundtrip(cfg) == cfg
    assert run(cfg, "no crypto ipsec security-association lifetime kilobytes") == []
    assert cfg.ipsec.lifetime_kilobytes == 4608000
