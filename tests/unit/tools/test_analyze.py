"""The analyzer's verdicts on configuration pairs built for each failure kind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import load
from tunnelgate.config.compile import compile_config
from tunnelgate.tools.analyze import (
    ESTABLISHED,
    IKE_PHASE1_FAILED,
    IKE_PHASE1_KEY_MISMATCH,
    IPSEC_PHASE2_FAILED,
    MISSING_END_POINT,
    Gateway,
    Session,
    analyze,
    format_sessions,
    sessions_json,
)

HQ = {
    "hostname": "hq",
    "outside": "203.0.113.1",
    "lan": "10.1.0.0 255.255.0.0",
    "peer": "198.51.100.2",
    "remote_lan": "10.2.0.0 255.255.0.0",
}
BRANCH = {
    "hostname": "branch",
    "outside": "198.51.100.2",
    "lan": "10.2.0.0 255.255.0.0",
    "peer": "203.0.113.1",
    "remote_lan": "10.1.0.0 255.255.0.0",
}


def gateway_text(side: dict[str, str], **o: str) -> str:
    """One gateway of a working IKEv1+IKEv2 pair; keyword overrides break it one way."""
    v = {
        "ikev1_policy": "crypto ikev1 policy 10\n encryption aes-256\n hash sha\n group 5\n",
        "ikev2_policy": "crypto ikev2 policy 10\n encryption aes-256\n integrity sha256\n"
        " group 14\n prf sha256\n",
        "enable": "crypto ikev1 enable outside\ncrypto ikev2 enable outside\n",
        "acl": f"access-list VPN extended permit ip {side['lan']} {side['remote_lan']}\n",
        "transform": "crypto ipsec ikev1 transform-set TS esp-aes-256 esp-sha-hmac\n",
        "proposal": "crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption aes-256\n"
        " protocol esp integrity sha-256\n",
        "map": f"crypto map M 10 match address VPN\ncrypto map M 10 set peer {side['peer']}\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
        "crypto map M 10 set ikev2 ipsec-proposal P\n",
        "map_extra": "",
        "bind": "crypto map M interface outside\n",
        "group": f"tunnel-group {side['peer']} type ipsec-l2l\n"
        f"tunnel-group {side['peer']} ipsec-attributes\n"
        " ikev1 pre-shared-key v1secret\n"
        " ikev2 local-authentication pre-shared-key v2secret\n"
        " ikev2 remote-authentication pre-shared-key v2secret\n",
        "extra": "",
    }
    v.update(o)
    return (
        f"hostname {side['hostname']}\n"
        f"interface GigabitEthernet0/0\n nameif outside\n ip address {side['outside']} "
        "255.255.255.0\n"
        "interface GigabitEthernet0/1\n nameif inside\n ip address "
        f"{side['lan'].split()[0][:-1]}1 {side['lan'].split()[1]}\n"
        + "".join(
            v[k]
            for k in (
                "acl",
                "transform",
                "proposal",
                "map",
                "map_extra",
                "bind",
                "ikev2_policy",
                "enable",
                "ikev1_policy",
                "group",
                "extra",
            )
        )
    )


def run(hq: dict[str, str] | None = None, branch: dict[str, str] | None = None) -> list[Session]:
    gateways = []
    for name, side, over in (("hq.cfg", HQ, hq or {}), ("branch.cfg", BRANCH, branch or {})):
        config = load(gateway_text(side, **over))
        gateways.append(Gateway(name, config, compile_config(config)))
    return analyze(gateways)


def session(sessions: list[Session], initiator: str) -> Session:
    (found,) = [s for s in sessions if s.initiator == initiator]
    return found


def test_a_working_pair_is_established_both_ways_with_ikev2_first() -> None:
    sessions = run()
    assert [(s.initiator, s.responder, s.status, s.ike_version) for s in sessions] == [
        ("hq", "branch", ESTABLISHED, 2),
        ("branch", "hq", ESTABLISHED, 2),
    ]
    text = format_sessions(sessions)
    assert "2 of 2 sessions would be established" in text
    assert sessions_json(sessions)[0]["status"] == ESTABLISHED


def test_ikev1_only_pair() -> None:
    no_v2 = {
        "map": "crypto map M 10 match address VPN\ncrypto map M 10 set peer {}\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
    }
    hq = {"map": no_v2["map"].format(HQ["peer"])}
    branch = {"map": no_v2["map"].format(BRANCH["peer"])}
    s = session(run(hq, branch), "hq")
    assert (s.status, s.ike_version) == (ESTABLISHED, 1)


def test_missing_end_point() -> None:
    hq = {
        "map_extra": "crypto map M 20 match address VPN\ncrypto map M 20 set peer 192.0.2.99\n"
        "crypto map M 20 set ikev1 transform-set TS\n"
    }
    s = next(x for x in run(hq) if x.peer == "192.0.2.99")
    assert s.status == MISSING_END_POINT
    assert "no configuration given owns peer address 192.0.2.99" in s.reasons[0]


def test_no_common_ike_policy_names_the_closest() -> None:
    branch = {
        "ikev1_policy": "crypto ikev1 policy 20\n encryption aes-256\n hash md5\n group 5\n",
        "ikev2_policy": "crypto ikev2 policy 10\n encryption 3des\n integrity md5\n group 2\n"
        " prf md5\n",
    }
    s = session(run(branch=branch), "hq")
    assert s.status == IKE_PHASE1_FAILED
    text = " ".join(s.reasons)
    assert "hash" in text and "md5" in text


@pytest.mark.parametrize("version", [1, 2])
def test_pre_shared_key_mismatch(version: int) -> None:
    v1_key = "other" if version == 1 else "v1secret"
    v2_key = "other" if version == 2 else "v2secret"
    branch = {
        "group": f"tunnel-group {BRANCH['peer']} type ipsec-l2l\n"
        f"tunnel-group {BRANCH['peer']} ipsec-attributes\n"
        f" ikev1 pre-shared-key {v1_key}\n"
        f" ikev2 local-authentication pre-shared-key {v2_key}\n"
        f" ikev2 remote-authentication pre-shared-key {v2_key}\n"
    }
    # one IKE version only: with both, a failed IKEv2 phase 1 falls back to IKEv1
    only = "ikev1 transform-set TS" if version == 1 else "ikev2 ipsec-proposal P"
    branch["map"] = (
        f"crypto map M 10 match address VPN\ncrypto map M 10 set peer "
        f"{BRANCH['peer']}\ncrypto map M 10 set {only}\n"
    )
    hq = {
        "map": (
            f"crypto map M 10 match address VPN\ncrypto map M 10 set peer "
            f"{HQ['peer']}\ncrypto map M 10 set {only}\n"
        )
    }
    s = session(run(hq, branch), "hq")
    assert s.status == IKE_PHASE1_KEY_MISMATCH
    assert "differ" in " ".join(s.reasons)


def test_ikev2_phase1_failure_falls_back_to_ikev1() -> None:
    branch = {
        "ikev2_policy": "crypto ikev2 policy 10\n encryption 3des\n integrity md5\n"
        " group 2\n prf md5\n"
    }
    s = session(run(branch=branch), "hq")
    assert (s.status, s.ike_version) == (ESTABLISHED, 1)


def test_missing_tunnel_group_key() -> None:
    s = session(run(branch={"group": ""}), "hq")
    assert s.status == IKE_PHASE1_FAILED
    assert "pre-shared key" in " ".join(s.reasons)


def test_no_common_transform_set_or_proposal() -> None:
    branch = {
        "transform": "crypto ipsec ikev1 transform-set TS esp-3des esp-md5-hmac\n",
        "proposal": "crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption 3des\n"
        " protocol esp integrity md5\n",
    }
    s = session(run(branch=branch), "hq")
    assert s.status == IPSEC_PHASE2_FAILED
    assert "access-list VPN line 1" in s.reasons[0]


def test_pfs_mismatch() -> None:
    s = session(
        run(
            hq={"map_extra": "crypto map M 10 set pfs group5\n"},
            branch={"map_extra": "crypto map M 10 set pfs group2\n"},
        ),
        "hq",
    )
    assert s.status == IPSEC_PHASE2_FAILED
    assert "pfs" in " ".join(s.reasons).lower()


def test_mode_conflict() -> None:
    s = session(run(hq={"map_extra": "crypto map M 10 set ikev2 mode transport-require\n"}), "hq")
    assert s.status == IPSEC_PHASE2_FAILED
    assert "transport" in " ".join(s.reasons)


def test_acls_that_are_not_mirror_images_name_the_line() -> None:
    hq = {
        "acl": "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.2.0.0 255.255.0.0\n"
        "access-list VPN extended permit ip 10.1.0.0 255.255.0.0 10.9.0.0 255.255.0.0\n"
    }
    s = session(run(hq), "hq")
    assert s.status == IPSEC_PHASE2_FAILED
    assert len(s.reasons) == 1 and "access-list VPN line 2" in s.reasons[0]


def test_ike_not_enabled_on_the_interface() -> None:
    s = session(run(branch={"enable": ""}), "hq")
    assert s.status == IKE_PHASE1_FAILED
    text = " ".join(s.reasons)
    assert "IKEv2 is not enabled on branch interface outside" in text
    assert "IKEv1 is not enabled on branch interface outside" in text


def test_crypto_map_not_applied() -> None:
    sessions = run(hq={"bind": ""})
    s = session(sessions, "hq")
    assert s.status == IKE_PHASE1_FAILED
    assert "not applied to any interface on hq" in s.reasons[0]
    s = session(sessions, "branch")
    assert s.status == IKE_PHASE1_FAILED
    assert "no crypto map is applied to hq interface outside" in " ".join(s.reasons)


def test_incomplete_entry() -> None:
    hq = {
        "map": f"crypto map M 10 set peer {HQ['peer']}\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
    }
    s = session(run(hq), "hq")
    assert s.status == IKE_PHASE1_FAILED
    assert "incomplete" in s.reasons[0]


def test_aggressive_mode_disabled() -> None:
    v1_only = (
        f"crypto map M 10 match address VPN\ncrypto map M 10 set peer {HQ['peer']}\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
        "crypto map M 10 set ikev1 phase1-mode aggressive\n"
    )
    s = session(run(hq={"map": v1_only}, branch={"extra": "crypto ikev1 am-disable\n"}), "hq")
    assert s.status == IKE_PHASE1_FAILED
    assert "aggressive" in " ".join(s.reasons)


def test_ikev1_lifetime_rule() -> None:
    v1_only = (
        "crypto map M 10 match address VPN\ncrypto map M 10 set peer {}\n"
        "crypto map M 10 set ikev1 transform-set TS\n"
    )
    hq = {
        "map": v1_only.format(HQ["peer"]),
        "ikev1_policy": "crypto ikev1 policy 10\n encryption aes-256\n hash sha\n group 5\n"
        " lifetime 3600\n",
    }
    branch = {"map": v1_only.format(BRANCH["peer"])}
    sessions = run(hq, branch)
    # hq offers 3600 s; branch's policy has 86400 s > 3600: no match (spec's lifetime rule)
    assert session(sessions, "hq").status == IKE_PHASE1_FAILED
    assert "lifetime" in " ".join(session(sessions, "hq").reasons)
    # branch offers 86400 s; hq's 3600 s is shorter: a match, the shorter lifetime is used
    assert session(sessions, "branch").status == ESTABLISHED


def test_dynamic_map_responder() -> None:
    branch = {
        "map": "crypto dynamic-map DYN 10 set ikev1 transform-set TS\n"
        "crypto dynamic-map DYN 10 set ikev2 ipsec-proposal P\n"
        "crypto map M 65535 ipsec-isakmp dynamic DYN\n"
    }
    sessions = run(branch=branch)
    assert [(s.initiator, s.status) for s in sessions] == [("hq", ESTABLISHED)]


# --------------------------------------------------------------------------- the A/B/C example

_ABC_COMMON = """\
crypto ipsec ikev1 transform-set STANDARD esp-aes esp-sha-hmac
crypto ipsec ikev1 transform-set STRONG esp-aes-256 esp-sha-hmac
crypto ikev1 policy 10
 encryption aes-256
crypto ikev1 enable outside
"""
_NETS = {
    "A": "192.168.3.0 255.255.255.192",
    "B": "192.168.12.0 255.255.255.248",
    "C": "192.168.201.0 255.255.255.224",
}
_OUTSIDE = {"A": "198.51.100.1", "B": "198.51.100.2", "C": "198.51.100.3"}


def _abc(name: str, body: str) -> Gateway:
    others = [o for o in "ABC" if o != name]
    groups = "".join(
        f"tunnel-group {_OUTSIDE[o]} type ipsec-l2l\ntunnel-group {_OUTSIDE[o]} ipsec-attributes\n"
        f" ikev1 pre-shared-key abc-{''.join(sorted(name + o))}\n"
        for o in others
    )
    text = (
        f"hostname {name}\ninterface GigabitEthernet0/0\n nameif outside\n"
        f" ip address {_OUTSIDE[name]} 255.255.255.0\n" + _ABC_COMMON + body + groups
    )
    config = load(text)
    return Gateway(f"{name}.cfg", config, compile_config(config))


def _abc_gateways() -> list[Gateway]:
    """The spec's example made concrete: one crypto map entry per peer, cascade kept."""
    a = _abc(
        "A",
        f"""\
access-list A-B extended deny ip host 192.168.3.3 {_NETS["B"]}
access-list A-B extended permit ip {_NETS["A"]} {_NETS["B"]}
access-list A-C extended deny ip host 192.168.3.3 {_NETS["C"]}
access-list A-C extended permit ip {_NETS["A"]} {_NETS["C"]}
access-list A3-B extended permit ip host 192.168.3.3 {_NETS["B"]}
access-list A3-C extended permit ip host 192.168.3.3 {_NETS["C"]}
crypto map MAP 1 match address A-B
crypto map MAP 1 set peer {_OUTSIDE["B"]}
crypto map MAP 1 set ikev1 transform-set STANDARD
crypto map MAP 2 match address A-C
crypto map MAP 2 set peer {_OUTSIDE["C"]}
crypto map MAP 2 set ikev1 transform-set STANDARD
crypto map MAP 3 match address A3-B
crypto map MAP 3 set peer {_OUTSIDE["B"]}
crypto map MAP 3 set ikev1 transform-set STRONG
crypto map MAP 4 match address A3-C
crypto map MAP 4 set peer {_OUTSIDE["C"]}
crypto map MAP 4 set ikev1 transform-set STRONG
crypto map MAP interface outside
""",
    )
    gateways = [a]
    for name in "BC":
        x, y = [o for o in "ABC" if o != name]
        gateways.append(
            _abc(
                name,
                f"""\
access-list TO-{x} extended permit ip {_NETS[name]} {_NETS[x]}
access-list TO-{y} extended permit ip {_NETS[name]} {_NETS[y]}
crypto map MAP 1 match address TO-{x}
crypto map MAP 1 set peer {_OUTSIDE[x]}
crypto map MAP 1 set ikev1 transform-set STANDARD STRONG
crypto map MAP 2 match address TO-{y}
crypto map MAP 2 set peer {_OUTSIDE[y]}
crypto map MAP 2 set ikev1 transform-set STANDARD STRONG
crypto map MAP interface outside
""",
            )
        )
    return gateways


def test_spec_abc_example_every_directed_session_is_established() -> None:
    sessions = analyze(_abc_gateways())
    assert [(s.initiator, s.responder, s.seq, s.status) for s in sessions] == [
        ("A", "B", 1, ESTABLISHED),
        ("A", "C", 2, ESTABLISHED),
        ("A", "B", 3, ESTABLISHED),
        ("A", "C", 4, ESTABLISHED),
        ("B", "A", 1, ESTABLISHED),
        ("B", "C", 2, ESTABLISHED),
        ("C", "A", 1, ESTABLISHED),
        ("C", "B", 2, ESTABLISHED),
    ]
    strong = [s for s in sessions if s.initiator == "A" and s.seq in (3, 4)]
    assert all("transform-set STRONG" in " ".join(s.details) for s in strong)
    # B's traffic to A lands on A's entry 1 (its deny line is ignored for the responder)
    b_to_a = sessions[4]
    assert "A crypto map MAP 1" in " ".join(b_to_a.details)


def test_spec_abc_example_literal_layout_is_flagged() -> None:
    """The spec's table puts both remote networks in one entry; with a peer per entry the
    other network's line is not a mirror of anything that peer has."""
    gateways = _abc_gateways()
    literal = _abc(
        "A",
        f"""\
access-list ACL1 extended deny ip host 192.168.3.3 {_NETS["B"]}
access-list ACL1 extended deny ip host 192.168.3.3 {_NETS["C"]}
access-list ACL1 extended permit ip {_NETS["A"]} {_NETS["B"]}
access-list ACL1 extended permit ip {_NETS["A"]} {_NETS["C"]}
crypto map MAP 1 match address ACL1
crypto map MAP 1 set peer {_OUTSIDE["B"]}
crypto map MAP 1 set ikev1 transform-set STANDARD
crypto map MAP interface outside
""",
    )
    (session,) = [s for s in analyze([literal, *gateways[1:]]) if s.initiator == "A"]
    assert session.status == IPSEC_PHASE2_FAILED
    assert len(session.reasons) == 1 and "access-list ACL1 line 4" in session.reasons[0]


def test_cli_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tunnelgate.__main__ import main

    paths = []
    for g in _abc_gateways():
        from tunnelgate.config.render import render_config_text

        path = tmp_path / g.label
        path.write_text(render_config_text(g.config))
        paths.append(str(path))
    assert main(["analyze", *paths]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["SESSION", "CRYPTO", "MAP", "IKE", "STATUS"]
    assert out.strip().endswith("8 of 8 sessions would be established")
    assert main(["analyze", *paths, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"initiator", "responder", "crypto_map", "seq", "status", "reasons"} <= set(data[0])


def test_ipv6_crypto_acls_are_analyzed_per_ace() -> None:
    """IPv6 inner traffic over the IPv4 peers (D113): mirrored IPv6 ACLs establish, an IPv6
    line the peer lacks is named."""
    hq = {"acl": "access-list VPN extended permit ip 2001:db8:1::/64 2001:db8:2::/64\n"}
    branch = {"acl": "access-list VPN extended permit ip 2001:db8:2::/64 2001:db8:1::/64\n"}
    assert session(run(hq, branch), "hq").status == ESTABLISHED
    other = {"acl": "access-list VPN extended permit ip 2001:db8:2::/64 2001:db8:9::/64\n"}
    s = session(run(hq, other), "hq")
    assert s.status == IPSEC_PHASE2_FAILED
    assert s.reasons[0].startswith(
        "hq access-list VPN line 1 (extended permit ip 2001:db8:1::/64 2001:db8:2::/64): "
        "branch (responder) refuses it: no entry of crypto map M accepts peer 203.0.113.1 "
        "proposing ip 2001:db8:2::/64 2001:db8:1::/64 (local → remote)"
    )


def test_peers_at_ipv6_addresses_are_analyzed_over_the_ipv6_interface_addresses() -> None:
    """Tunnels between the gateways over IPv6 (D114): the peer is found by its IPv6 interface
    address and played from the initiator's IPv6 address; without one, a clear reason."""
    repo = Path(__file__).resolve().parents[3]
    gateways = []
    for name in ("gw-a.cfg", "gw-b.cfg"):
        config = load((repo / "examples" / "lab-ipv6" / name).read_text())
        gateways.append(Gateway(name, config, compile_config(config)))
    sessions = analyze(gateways)
    assert [(s.peer, s.status, s.ike_version) for s in sessions] == [
        ("2001:db8:ff:b::2", ESTABLISHED, 2),
        ("2001:db8:ff:a::1", ESTABLISHED, 2),
    ]
    text = (repo / "examples" / "lab-ipv6" / "gw-a.cfg").read_text()
    text = text.replace(" ipv6 address 2001:db8:ff:a::1/64\n", "")
    config = load(text)
    gateways[0] = Gateway("gw-a.cfg", config, compile_config(config))
    (lost,) = [s for s in analyze(gateways) if s.peer == "2001:db8:ff:b::2"]
    assert lost.status == IKE_PHASE1_FAILED
    assert lost.reasons == ("interface outside of gw-a has no IPv6 address",)
