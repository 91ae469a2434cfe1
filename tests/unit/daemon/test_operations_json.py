"""``--json`` answers of the operational show commands: values, filtered as the command says,
equal to what the text layouts show."""

from __future__ import annotations

import json

from tests.unit.daemon.test_session import Setup
from tunnelgate.cli.layout_json import layout_values


def _json(s: Setup, line: str) -> object:
    answer = s.session.handle(line, as_json=True)
    assert answer.ok, answer.output
    return json.loads(answer.output)


def test_sa_lists_are_filtered_like_the_text() -> None:
    s = Setup()
    s.up()
    ipsec = _json(s, "show crypto ipsec sa")
    assert isinstance(ipsec, list) and len(ipsec) == 1
    assert ipsec[0]["peer_address"] == "198.51.100.2" and ipsec[0]["map_name"]
    assert _json(s, "show crypto ipsec sa peer 198.51.100.2") == ipsec
    assert _json(s, "show crypto ipsec sa peer 198.51.100.99") == []
    assert _json(s, f"show crypto ipsec sa map {ipsec[0]['map_name']}") == ipsec
    assert _json(s, "show crypto ipsec sa map NO-SUCH-MAP") == []
    ikev2 = _json(s, "show crypto ikev2 sa")
    assert isinstance(ikev2, list) and [sa["ike_version"] for sa in ikev2] == [2]
    assert ikev2[0]["status"] == "READY"
    assert _json(s, "show crypto ikev1 sa") == []
    assert _json(s, "show crypto isakmp sa") == ikev2


def test_statistics_are_the_layouts_fields() -> None:
    s = Setup()
    s.up()
    stats = _json(s, "show ipsec stats")
    text = s.session.handle("show ipsec stats").output
    assert stats == layout_values(text)
    assert isinstance(stats, dict)
    inner = stats["ipsec_global_statistics"]
    assert inner["active_tunnels"] == 1 and inner["outbound"]["packets"] >= 1
    assert "Active tunnels: 1" in text
    isakmp = _json(s, "show crypto isakmp stats")
    assert isinstance(isakmp, dict)
    assert isakmp["global_ikev2_statistics"]["active_tunnels"] == 1
    assert isakmp["global_ikev1_statistics"]["active_tunnels"] == 0
    assert isakmp["global_ikev2_statistics"]["sas_locally_initiated"] == 1


def test_sessiondb_blocks_become_fields() -> None:
    s = Setup()
    s.up()
    (session,) = _json(s, "show vpn-sessiondb l2l")
    assert session["connection"] == "198.51.100.2" and session["ip_addr"] == "198.51.100.2"
    assert session["protocol"] == "IKEv2 IPsec" and session["index"] == 1
    assert "ike" not in session
    (detail,) = _json(s, "show vpn-sessiondb detail l2l")
    assert detail["ike"]["loc_auth_mode"] == "preSharedKeys"
    assert detail["ike"]["tunnel_id"] == "1.1"
    (tunnel,) = detail["ipsec"]
    assert tunnel["tunnel_id"] == "1.2" and tunnel["encapsulation"] == "Tunnel"
    assert tunnel["pkts_tx"] >= 1
    text = s.session.handle("show vpn-sessiondb detail l2l").output
    assert f"Pkts Tx      : {tunnel['pkts_tx']}" in text


def test_configuration_show_commands_answer_their_lines() -> None:
    s = Setup()
    shown = _json(s, "show running-config crypto map")
    assert isinstance(shown, dict) and shown["command"] == "show running-config crypto map"
    text = s.session.handle("show running-config crypto map").output
    assert shown["lines"] == text.splitlines() and shown["lines"]
    refused = s.session.handle("show running-config no-such-thing", as_json=True)
    assert not refused.ok and "ERROR" in refused.output  # errors stay text


def test_counters_include_what_the_ike_engines_dropped() -> None:
    s = Setup()
    s.up()
    engine = s.live.gateway.engines["outside"]
    engine.drops["cookie-demanded"] += 3
    counters = _json(s, "show tunnelgate counters")
    assert isinstance(counters, dict)
    assert counters["ike"]["ikev2 cookie-demanded"] == 3
    assert "drops" in counters and "counters" in counters
