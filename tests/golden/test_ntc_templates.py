"""Our ``show running-config …`` output parses with the ntc-templates ASA templates (issue 7).

Each configuration is rendered by the shell and parsed by ``ntc_templates.parse_output``;
the parsed fields must equal the configuration's values. Cases that fail because a template
is wrong or incomplete (while our output is what a real ASA prints) are ``xfail(strict)``
with the reason, so that a fixed template shows up as an unexpected pass.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

ntc_parse = pytest.importorskip("ntc_templates.parse")
textfsm = pytest.importorskip("textfsm")

from tunnelgate.cli.shell import Shell  # noqa: E402
from tunnelgate.config.keywords import PFS_DEFAULT_GROUP  # noqa: E402
from tunnelgate.config.loader import load_config  # noqa: E402
from tunnelgate.config.model import RunningConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MASK = "*****"

Row = dict[str, Any]

# --------------------------------------------------------------------------- configurations

# A crypto map within what the two crypto map templates understand: IKEv1 transform sets,
# one peer per entry, PFS groups 1/2/5 and the system default dynamic map.
_TRANSFORM_SETS = {
    "ESP-AES-256-SHA": ("esp-aes-256", "esp-sha-hmac"),
    "ESP-AES-128-SHA": ("esp-aes", "esp-sha-hmac"),
    "ESP-3DES-MD5": ("esp-3des", "esp-md5-hmac"),
    "ESP-AES-192-SHA": ("esp-aes-192", "esp-sha-hmac"),
}
_PROPOSALS = {
    "GCM": (("aes-gcm-256", "aes-gcm-192", "aes-gcm"), ("null",)),
    "CBC": (("aes-256", "aes-192", "aes", "3des"), ("sha-512", "sha-384", "sha-256", "sha-1")),
}
# seq: (acl, pfs group, peer, transform sets, lifetime seconds, lifetime kilobytes)
_ENTRIES: dict[int, tuple[str, int | None, str, tuple[str, ...], int | None, int | None]] = {
    10: ("SITE-A", 5, "198.51.100.10", ("ESP-AES-256-SHA",), 3600, None),
    20: (
        "SITE-B",
        None,
        "198.51.100.20",
        ("ESP-AES-256-SHA", "ESP-AES-128-SHA", "ESP-3DES-MD5"),
        None,
        None,
    ),
    30: ("SITE-C", 2, "198.51.100.30", ("ESP-AES-128-SHA",), 28800, 102400),
    40: ("SITE-D", 1, "198.51.100.40", ("ESP-3DES-MD5",), None, 4096),
}
# priority: (encryption, hash, group, lifetime); policy 50 keeps the defaults
_IKEV1_POLICIES = {
    10: ("aes-256", "sha", 5, 28800),
    20: ("aes-192", "sha", 1, 86400),
    30: ("3des", "md5", 2, 3600),
}


def _rich_text(*, kilobytes: bool = True) -> str:
    lines = [
        "hostname rich-gw",
        "interface GigabitEthernet0/0",
        " nameif outside",
        " security-level 0",
        " ip address 203.0.113.1 255.255.255.0",
    ]
    for i, (acl, *_rest) in enumerate(_ENTRIES.values()):
        lines.append(
            f"access-list {acl} extended permit ip 10.1.0.0 255.255.0.0 10.{11 + i}.0.0 255.255.0.0"
        )
    lines.append(
        "access-list DYN-ACL extended permit ip 10.1.0.0 255.255.0.0 10.128.0.0 255.128.0.0"
    )
    for name, (enc, auth) in _TRANSFORM_SETS.items():
        lines.append(f"crypto ipsec ikev1 transform-set {name} {enc} {auth}")
    lines.append("crypto ipsec ikev1 transform-set ESP-AES-192-SHA mode transport")
    for name, (encs, integs) in _PROPOSALS.items():
        lines += [
            f"crypto ipsec ikev2 ipsec-proposal {name}",
            f" protocol esp encryption {' '.join(encs)}",
            f" protocol esp integrity {' '.join(integs)}",
        ]
    dyn = "SYSTEM_DEFAULT_CRYPTO_MAP"
    lines += [
        f"crypto dynamic-map {dyn} 65535 match address DYN-ACL",
        f"crypto dynamic-map {dyn} 65535 set ikev1 transform-set ESP-AES-256-SHA ESP-AES-128-SHA",
    ]
    for seq, (acl, pfs, peer, sets, secs, kbs) in _ENTRIES.items():
        head = f"crypto map VPN {seq}"
        lines.append(f"{head} match address {acl}")
        if pfs is not None:
            lines.append(f"{head} set pfs group{pfs}")
        lines.append(f"{head} set peer {peer}")
        lines.append(f"{head} set ikev1 transform-set {' '.join(sets)}")
        if secs is not None:
            lines.append(f"{head} set security-association lifetime seconds {secs}")
        if kilobytes and kbs is not None:
            lines.append(f"{head} set security-association lifetime kilobytes {kbs}")
    lines += [
        f"crypto map VPN 65535 ipsec-isakmp dynamic {dyn}",
        "crypto map VPN interface outside",
    ]
    lines += ["crypto ikev2 policy 10", " encryption aes-gcm-256", " integrity null"]
    lines += [" group 19 20", " prf sha384", " lifetime seconds 43200"]
    lines += ["crypto ikev2 enable outside", "crypto ikev1 enable outside"]
    for prio, (enc, hash_, group, life) in _IKEV1_POLICIES.items():
        lines += [f"crypto ikev1 policy {prio}", " authentication pre-share", f" encryption {enc}"]
        lines += [f" hash {hash_}", f" group {group}", f" lifetime {life}"]
    lines += ["crypto ikev1 policy 50", " encryption aes"]
    for i, (_acl, _pfs, peer, *_r) in enumerate(_ENTRIES.values()):
        lines.append(f"tunnel-group {peer} type ipsec-l2l")
        if i == 1:
            lines += [f"tunnel-group {peer} general-attributes", " default-group-policy GP-B"]
        lines.append(f"tunnel-group {peer} ipsec-attributes")
        if i != 2:
            lines.append(f" ikev1 pre-shared-key Secret-{i}-v1-key")
        if i == 1:
            lines += [" peer-id-validate nocheck", " isakmp keepalive threshold 30 retry 3"]
        if i >= 2:
            lines += [
                f" ikev2 remote-authentication pre-shared-key Secret-{i}-remote",
                f" ikev2 local-authentication pre-shared-key Secret-{i}-local",
            ]
    return "\n".join(lines) + "\n"


def _load(text: str, source: str, lenient: bool = False) -> RunningConfig:
    result = load_config(text, source=source, lenient=lenient)
    assert result.config is not None, "\n".join(d.render() for d in result.diagnostics)
    return result.config


@cache
def _configs() -> dict[str, RunningConfig]:
    return {
        "branch-office": _load((ROOT / "examples/branch-office.cfg").read_text(), "branch"),
        "asa-9x-full": _load(
            (ROOT / "tests/fixtures/asa-9x-full.cfg").read_text(), "asa-9x", lenient=True
        ),
        "rich": _load(_rich_text(), "rich"),
    }


ALL = ("branch-office", "asa-9x-full", "rich")


def _show(config: RunningConfig, command: str) -> str:
    out = Shell(config).execute(command)
    assert out.ok, out.text
    return out.text


def _parse(ntc_command: str, text: str) -> list[Row]:
    rows: list[Row] = ntc_parse.parse_output(platform="cisco_asa", command=ntc_command, data=text)
    return rows


def _secrets(config: RunningConfig) -> list[str]:
    out = []
    for group in config.tunnel_groups.values():
        ipsec = group.ipsec
        for key in (
            ipsec.ikev1_pre_shared_key,
            ipsec.ikev2_remote_pre_shared_key,
            ipsec.ikev2_local_pre_shared_key,
        ):
            if key is not None and key.value != MASK:
                out.append(key.value)
    return out


# --------------------------------------------------------------------------- crypto ikev1


@pytest.mark.parametrize("name", ALL)
def test_crypto_ikev1(name: str) -> None:
    config = _configs()[name]
    rows = _parse(
        "show running-config crypto ikev1", _show(config, "show running-config crypto ikev1")
    )
    policies = [r for r in rows if r["policy_id"]]
    assert policies == [
        {
            "ike_version": "1",
            "policy_id": str(p.priority),
            "auth_method": p.authentication,
            "encryption": p.encryption,
            "auth_algorithm": p.hash,
            "dh_group": f"group {p.group}",
            "lifetime": str(p.lifetime_seconds),
        }
        for p in config.ikev1_policies.values()
    ]
    assert len(policies) == len(config.ikev1_policies) > 0


# --------------------------------------------------------------------------- crypto ipsec


@pytest.mark.parametrize("name", ALL)
def test_ipsec(name: str) -> None:
    """``cisco_asa_show_running-config_ipsec`` on ``show running-config crypto ipsec``.

    The template is indexed for ``show running-config ipsec``; its ``Continue`` rules fill the
    encryption and integrity lists from the last word to the first, hence ``reversed``.
    """
    config = _configs()[name]
    text = _show(config, "show running-config crypto ipsec")
    rows = _parse("show running-config ipsec", text)
    expected: list[Row] = [
        {
            "ike_version": "1",
            "name": ts.name,
            "encryption": [ts.encryption],
            "auth": [ts.integrity],
        }
        for ts in config.ipsec.transform_sets.values()
    ]
    expected += [
        {
            "ike_version": "2",
            "name": p.name,
            "encryption": list(reversed(p.encryption)),
            "auth": list(reversed(p.integrity)),
        }
        for p in config.ipsec.proposals.values()
    ]
    assert rows == expected
    assert len(rows) == len(config.ipsec.transform_sets) + len(config.ipsec.proposals)


# --------------------------------------------------------------------------- tunnel groups


@pytest.mark.parametrize("name", ALL)
def test_tunnel_group(name: str) -> None:
    config = _configs()[name]
    text = _show(config, "show running-config tunnel-group")
    for secret in _secrets(config):
        assert secret not in text
    rows = {r["name"]: r for r in _parse("show running-config tunnel-group", text)}
    assert list(rows) == list(config.tunnel_groups)
    for group in config.tunnel_groups.values():
        row, ipsec = rows[group.name], group.ipsec
        remote = []
        if ipsec.ikev2_remote_pre_shared_key is not None:
            remote.append(f"pre-shared-key {MASK}")
        if ipsec.ikev2_remote_certificate:
            remote.append("certificate")
        fields = {
            "type": group.type,
            "group_policy": group.default_group_policy or "",
            "ikev1_psk": MASK if ipsec.ikev1_pre_shared_key is not None else "",
            "ikev2_remote_auth_type": remote,
            "ikev2_local_auth_cert": ipsec.ikev2_local_certificate or "",
            "peer_id_validate": "" if ipsec.peer_id_validate == "req" else ipsec.peer_id_validate,
        }
        assert {k: row[k] for k in fields} == fields, group.name


def test_rich_tunnel_groups_cover_every_key_kind() -> None:
    text = _show(_configs()["rich"], "show running-config tunnel-group")
    assert f"ikev1 pre-shared-key {MASK}" in text
    assert f"ikev2 remote-authentication pre-shared-key {MASK}" in text
    assert f"ikev2 local-authentication pre-shared-key {MASK}" in text
    assert "Secret-" not in text


# --------------------------------------------------------------------------- crypto map


def _rich_entries(config: RunningConfig) -> list[tuple[int, Any]]:
    return [(seq, e) for seq, e in config.crypto_maps["VPN"].items() if e.dynamic_map is None]


def _pfs(entry: Any) -> str:
    return "" if entry.pfs_group is None else f"group{entry.pfs_group}"


def test_crypto_map_rich() -> None:
    config = _load(_rich_text(kilobytes=False), "rich-no-kb")
    rows = _parse("show running-config crypto map", _show(config, "show running-config crypto map"))
    assert rows == [
        {
            "matched_address": e.match_address,
            "map": "VPN",
            "seq": str(seq),
            "pfs": _pfs(e),
            "peer": e.peers[0],
            "ike": "ikev1",
            "transform": " ".join(e.ikev1_transform_sets),
            "sa": "" if e.lifetime_seconds is None else str(e.lifetime_seconds),
        }
        for seq, e in _rich_entries(config)
    ]
    assert len(rows) == len(_ENTRIES)


def test_all_crypto_map_rich() -> None:
    config = _configs()["rich"]
    rows = _parse(
        "show running-config all crypto map", _show(config, "show running-config all crypto map")
    )
    expected: list[Row] = [
        {
            "matched_address": e.match_address,
            "connection_type": "",
            "map": "VPN",
            "seq": str(seq),
            "pfs": _pfs(e),
            "peer": e.peers[0],
            "ikev1_phase1_mode": e.ikev1_phase1_mode,
            "ikev1_transform_set": " ".join(e.ikev1_transform_sets),
            "ikev2_mode": e.ikev2_mode,
            "isakmp_dynamic": "",
            "interface": "outside",
            "sa_sec": "" if e.lifetime_seconds is None else str(e.lifetime_seconds),
            "sa_kb": "" if e.lifetime_kilobytes is None else str(e.lifetime_kilobytes),
            "tfc_packets": "no",
        }
        for seq, e in _rich_entries(config)
    ]
    dynamic = config.crypto_maps["VPN"][65535]
    expected.append(
        {k: "" for k in expected[0]}
        | {
            "map": "VPN",
            "seq": "65535",
            "isakmp_dynamic": dynamic.dynamic_map,
            "interface": "outside",
        }
    )
    assert rows == expected
    assert len(rows) == len(config.crypto_maps["VPN"])


def test_set_pfs_group2_is_shown_with_its_group() -> None:
    """A real ASA prints ``set pfs group2`` as typed (ntc-templates crypto_map.raw)."""
    config = _configs()["rich"]
    text = _show(config, "show running-config crypto map")
    assert "crypto map VPN 30 set pfs group2\n" in text
    assert config.crypto_maps["VPN"][30].pfs_group == PFS_DEFAULT_GROUP


# Cases where our output is what an ASA prints and the crypto map templates cannot read it.
_BASE_MAP = [
    "crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac",
    "crypto ipsec ikev2 ipsec-proposal P2",
    " protocol esp encryption aes-256",
    " protocol esp integrity sha-256",
    "access-list ACL extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0",
    "crypto map M 10 match address ACL",
    "crypto map M 10 set peer 192.0.2.1",
]
_TEMPLATE_GAPS = {
    "pfs-group14+": (
        ["crypto map M 10 set ikev2 ipsec-proposal P2", "crypto map M 10 set pfs group19"],
        "Value PFS (group\\d|\\s*) takes one digit: group14/15/16/19/20/21/24 fail",
    ),
    "pfs-bare": (
        ["crypto map M 10 set ikev1 transform-set TS", "crypto map M 10 set pfs"],
        "'set\\s+pfs\\s+${PFS}' needs a blank after 'pfs': bare 'set pfs' fails",
    ),
    "ikev2-ipsec-proposal": (
        ["crypto map M 10 set ikev2 ipsec-proposal P2"],
        "no rule for 'set ikev2 ipsec-proposal'",
    ),
    "several-peers": (
        ["crypto map M 10 set ikev1 transform-set TS", "crypto map M 10 set peer 192.0.2.2"],
        "'set peer ${PEER}\\s*$$' takes one peer; an ASA lists backup peers on the line",
    ),
    "reverse-route": (
        ["crypto map M 10 set ikev1 transform-set TS", "crypto map M 10 set reverse-route"],
        "no rule for 'set reverse-route' (nor nat-t-disable, df-bit, tfc-packets values …)",
    ),
}
_GAP_COMMANDS = ("show running-config crypto map", "show running-config all crypto map")


@pytest.mark.parametrize("command", _GAP_COMMANDS, ids=("crypto_map", "all_crypto_map"))
@pytest.mark.parametrize("gap", list(_TEMPLATE_GAPS))
def test_crypto_map_template_gaps(gap: str, command: str, request: pytest.FixtureRequest) -> None:
    extra, reason = _TEMPLATE_GAPS[gap]
    request.applymarker(
        pytest.mark.xfail(raises=textfsm.TextFSMError, strict=True, reason=f"template: {reason}")
    )
    config = _load("\n".join(_BASE_MAP + extra) + "\n", gap)
    rows = _parse(command, _show(config, command))
    assert rows[0]["map"] == "M"


def test_crypto_map_kilobytes_gap() -> None:
    """Only the non-``all`` template lacks the ``lifetime kilobytes`` rule."""
    text = _show(_configs()["rich"], "show running-config crypto map")
    assert "crypto map VPN 40 set security-association lifetime kilobytes 4096\n" in text
    with pytest.raises(textfsm.TextFSMError):
        _parse("show running-config crypto map", text)


@pytest.mark.parametrize("name", ("branch-office", "asa-9x-full"))
@pytest.mark.parametrize("command", _GAP_COMMANDS, ids=("crypto_map", "all_crypto_map"))
def test_crypto_map_real_configs_hit_template_gaps(name: str, command: str) -> None:
    """Both use PFS group 14/19 and IKEv2 proposals, which neither template reads."""
    text = _show(_configs()[name], command)
    with pytest.raises(textfsm.TextFSMError):
        _parse(command, text)


# --------------------------------------------------------------------------- objects, access-group


@pytest.mark.parametrize("name", ALL)
def test_object_network(name: str) -> None:
    config = _configs()[name]
    rows = _parse(
        "show running-config object network", _show(config, "show running-config object network")
    )
    assert [r["name"] for r in rows] == list(config.network_objects)


@pytest.mark.parametrize("name", ALL)
def test_access_group(name: str) -> None:
    config = _configs()[name]
    text = _show(config, "show running-config access-group")
    if not text:
        pytest.skip("no access-group")
    rows = _parse("show running-config access-group", text)
    assert len(rows) == len(config.access_groups)


def test_ipv6_network_objects_parse() -> None:
    """IPv6 objects as the ASA prints them (D113): ``subnet X:X::X/LEN`` fills the template's
    prefix-length field."""
    config = load_config(
        "object network V6NET\n subnet 2001:db8:1::/64\n"
        "object network V6HOST\n host 2001:db8::5\n"
        "object network V6RANGE\n range 2001:db8::10 2001:db8::1f\n",
        source="v6.cfg",
    ).config
    assert config is not None
    text = _show(config, "show running-config object network")
    rows = {r["name"]: r for r in _parse("show running-config object network", text)}
    assert (rows["V6NET"]["type"], rows["V6NET"]["network"]) == ("subnet", "2001:db8:1::")
    assert rows["V6NET"]["prefix_length"] == "64"
    assert (rows["V6HOST"]["type"], rows["V6HOST"]["host"]) == ("host", "2001:db8::5")
    assert (rows["V6RANGE"]["start_ip"], rows["V6RANGE"]["end_ip"]) == (
        "2001:db8::10",
        "2001:db8::1f",
    )
