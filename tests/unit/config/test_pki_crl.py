"""``crl configure`` inside ``crypto ca trustpoint``: the ``config-ca-crl`` sub-mode."""

from __future__ import annotations

import pytest

from tests.helpers import load, load_result, refused, roundtrip, run, show
from tunnelgate.config.model import RunningConfig, Trustpoint
from tunnelgate.config.modes import CA_CRL, CA_TRUSTPOINT, CONFIG
from tunnelgate.config.session import ConfigSession

CRL = """\
crypto ca trustpoint TP
 revocation-check crl none
 crl configure
  policy static
  url 1 http://192.0.2.10/ca.crl
 enrollment terminal
 keypair K
"""

GOLDEN = """\
crypto ca trustpoint TP
 revocation-check crl none
 enrollment terminal
 keypair K
 crl configure
  policy static
  url 1 http://192.0.2.10/ca.crl
"""


def _session(*lines: str) -> ConfigSession:
    session = ConfigSession(RunningConfig())
    for line in ("crypto ca trustpoint TP", "crl configure", *lines):
        result = session.execute(line)
        assert result.applied, (line, result)
    return session


def _tp(config: RunningConfig) -> Trustpoint:
    return config.trustpoints["TP"]


# --------------------------------------------------------------------------- the sub-mode


def test_crl_configure_enters_the_sub_mode_with_its_prompt() -> None:
    session = _session()
    assert session.mode is CA_CRL and session.key == "TP"
    assert session.prompt == "ciscoasa(config-ca-crl)#"


def test_exit_returns_to_the_trustpoint_then_to_global_config() -> None:
    session = _session("policy both")
    assert session.execute("exit").applied
    assert session.mode is CA_TRUSTPOINT and session.key == "TP"
    assert session.prompt == "ciscoasa(config-ca-trustpoint)#"
    assert session.execute("keypair K").applied  # still the same trustpoint
    assert _tp(session.config).keypair == "K"
    session.execute("exit")
    assert session.mode is CONFIG and session.key is None


def test_end_leaves_configuration_sub_modes_at_once() -> None:
    session = _session()
    session.execute("end")
    assert session.mode is CONFIG


def test_a_trustpoint_line_falls_back_to_the_trustpoint() -> None:
    session = _session("url 1 http://ca.example/ca.crl")
    assert session.execute("enrollment terminal").applied
    assert session.mode is CA_TRUSTPOINT and session.key == "TP"
    assert _tp(session.config).enrollment == "terminal"
    # a crl line now is a trustpoint-mode error: the sub-mode was left
    assert not session.execute("policy static").applied


def test_a_global_line_falls_back_to_global_config() -> None:
    session = _session()
    assert session.execute("hostname gw").applied
    assert session.mode is CONFIG and session.key is None
    assert session.config.hostname == "gw"


def test_another_trustpoint_from_the_crl_sub_mode() -> None:
    session = _session("policy static")
    assert session.execute("crypto ca trustpoint TP2").applied
    assert session.mode is CA_TRUSTPOINT and session.key == "TP2"
    assert session.execute("crl configure").applied
    assert session.execute("policy both").applied
    assert _tp(session.config).crl_policy == "static"
    assert session.config.trustpoints["TP2"].crl_policy == "both"


def test_a_file_with_trustpoint_lines_after_the_crl_block_loads() -> None:
    config = load(CRL)
    assert _tp(config) == Trustpoint(
        "TP",
        enrollment="terminal",
        keypair="K",
        revocation_check=["crl", "none"],
        crl_policy="static",
        crl_urls={1: "http://192.0.2.10/ca.crl"},
    )


def test_an_unknown_line_in_the_sub_mode_is_an_error_there() -> None:
    session = _session()
    result = session.execute("cache-time 60")
    assert not result.applied and result.diagnostics[0].is_error
    assert session.mode is CA_CRL


# --------------------------------------------------------------------------- policy and url


@pytest.mark.parametrize("policy", ["static", "cdp", "both"])
def test_policy(policy: str) -> None:
    assert _tp(_session(f"policy {policy}").config).crl_policy == policy


def test_policy_default_and_no_policy() -> None:
    assert _tp(_session().config).crl_policy == "cdp"
    config = _session("policy static", "no policy").config
    assert _tp(config).crl_policy == "cdp"


def test_policy_value_must_be_known() -> None:
    config = RunningConfig()
    refused(config, "crypto ca trustpoint TP", "crl configure", "policy ldap")


@pytest.mark.parametrize(
    "url",
    [
        "http://192.0.2.10/ca.crl",
        "https://pki.example.com:8443/crl/root.crl",
        "HTTP://CA.EXAMPLE/X.CRL",
        "file:///var/lib/tunnelgate/ca.crl",
        "/var/lib/tunnelgate/ca.crl",
    ],
)
def test_url_schemes_accepted(url: str) -> None:
    assert _tp(_session(f"url 2 {url}").config).crl_urls == {2: url}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ldap://ldap.example/cn=CA?certificateRevocationList",
            "ldap URLs are not supported: use http://, https://, file:/// or an absolute path",
        ),
        (
            "ftp://ca.example/ca.crl",
            "ftp URLs are not supported: use http://, https://, file:/// or an absolute path",
        ),
        ("file://host/ca.crl", "a file URL names an absolute path: file:///path/to/ca.crl"),
        ("ca.crl", "a CRL URL begins with http://, https://, file:/// or /"),
        ("http://", "the URL names no host"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    config = RunningConfig()
    line = f"url 1 {url}"
    session = ConfigSession(config)
    session.execute("crypto ca trustpoint TP")
    session.execute("crl configure")
    before = config.clone()
    result = session.execute(line)
    assert not result.applied and config == before
    (diag,) = result.diagnostics
    assert diag.message == message
    assert diag.column == len("url 1 ")
    assert session.mode is CA_CRL


@pytest.mark.parametrize("index", ["0", "6", "x"])
def test_url_index_is_1_to_5(index: str) -> None:
    config = RunningConfig()
    refused(config, "crypto ca trustpoint TP", "crl configure", f"url {index} http://a/b.crl")


def test_urls_are_kept_in_index_order_and_replaced() -> None:
    config = _session(
        "url 3 http://c/3.crl",
        "url 1 http://a/1.crl",
        "url 3 http://c/new.crl",
    ).config
    assert list(_tp(config).crl_urls.items()) == [(1, "http://a/1.crl"), (3, "http://c/new.crl")]


def test_no_url() -> None:
    config = _session("url 1 http://a/1.crl", "url 2 http://b/2.crl", "no url 1").config
    assert _tp(config).crl_urls == {2: "http://b/2.crl"}
    run(config, "crypto ca trustpoint TP", "crl configure", "no url 2 http://b/2.crl")
    assert _tp(config).crl_urls == {}


def test_no_url_of_an_unused_index_is_refused() -> None:
    config = RunningConfig()
    message = refused(config, "crypto ca trustpoint TP", "crl configure", "no url 4")
    assert message == "no CRL URL has index 4"


def test_no_crl_configure_restores_the_defaults() -> None:
    config = load(CRL)
    assert run(config, "crypto ca trustpoint TP", "no crl configure") == []
    assert _tp(config).crl_policy == "cdp" and _tp(config).crl_urls == {}
    assert _tp(config).keypair == "K"


def test_a_removed_trustpoint_refuses_crl_lines() -> None:
    session = _session()
    session.config.trustpoints.clear()
    result = session.execute("policy static")
    assert not result.applied
    assert result.diagnostics[0].message == "trustpoint TP no longer exists"


def test_clear_configure_removes_the_crl_settings_too() -> None:
    config = load(CRL)
    run(config, "clear configure crypto ca trustpoint")
    assert config.trustpoints == {}


# --------------------------------------------------------------------------- rendering


def test_golden_rendering_nested_and_last() -> None:
    assert show(load(CRL), "crypto", "ca") == GOLDEN


def test_defaults_are_not_rendered() -> None:
    config = load("crypto ca trustpoint TP\n keypair K\n crl configure\n  policy cdp\n")
    assert show(config, "crypto", "ca") == "crypto ca trustpoint TP\n keypair K\n"


def test_urls_alone_render_without_a_policy_line() -> None:
    config = load("crypto ca trustpoint TP\n crl configure\n  url 2 /etc/ca.crl\n")
    assert show(config, "crypto", "ca") == (
        "crypto ca trustpoint TP\n crl configure\n  url 2 /etc/ca.crl\n"
    )


def test_show_running_config_all_shows_the_default_policy() -> None:
    config = load("crypto ca trustpoint TP\n keypair K\n")
    assert show(config, "crypto", "ca", all=True) == (
        "crypto ca trustpoint TP\n keypair K\n crl configure\n  policy cdp\n"
    )


@pytest.mark.parametrize("policy", ["static", "cdp", "both"])
def test_render_and_reload_round_trip(policy: str) -> None:
    config = load(
        "crypto ca trustpoint TP\n revocation-check crl\n crl configure\n"
        f"  policy {policy}\n  url 5 https://e/5.crl\n  url 1 file:///tmp/1.crl\n"
    )
    assert roundtrip(config) == config
    full = load(show(config, "crypto", "ca", all=True))
    assert full.trustpoints == config.trustpoints


def test_rendered_block_reloads_without_warnings() -> None:
    assert load_result(GOLDEN).diagnostics == []
