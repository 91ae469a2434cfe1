"""packet-tracer: phases, verdicts and the JSON object, on the spec's A/B/C example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers import load
from tests.unit.policy.test_spd import A3, A_CONFIG, A_OTHER, B1, B_CONFIG, C1, INTERNET
from tunnelgate.__main__ import main
from tunnelgate.config.compile import compile_config
from tunnelgate.policy.selector import Flow
from tunnelgate.tools.packet_tracer import (
    TraceInputError,
    format_trace,
    parse_flow,
    trace,
    trace_json,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "branch-office.cfg"


def _trace(config: str, interface: str, flow: Flow) -> dict[str, object]:
    return trace_json(trace(compile_config(load(config)), interface, flow))


def test_host_a3_is_protected_by_the_strong_entry() -> None:
    result = _trace(A_CONFIG, "inside", Flow.of(0, A3, B1))
    assert result["action"] == "protect"
    assert (result["crypto_map"], result["seq"], result["acl"], result["ace_line"]) == (
        "MAP",
        2,
        "ACL2",
        1,
    )
    assert result["transform_sets"] == ["STRONG"]
    assert result["peers"] == ["198.51.100.2", "198.51.100.3"]


def test_other_a_hosts_use_entry_1_after_the_deny_lines() -> None:
    result = _trace(A_CONFIG, "inside", Flow.of(0, A_OTHER, C1))
    assert (result["seq"], result["acl"], result["ace_line"]) == (1, "ACL1", 4)
    assert result["transform_sets"] == ["STANDARD"]


def test_traffic_no_acl_permits_is_routed_in_clear() -> None:
    result = _trace(A_CONFIG, "inside", Flow.of(6, A3, INTERNET, 1025, 443))
    assert result["action"] == "bypass"
    assert result["output_interface"] == "outside"
    assert result["next_hop"] == "198.51.100.254"


def test_clear_text_that_should_have_been_protected_is_dropped_inbound() -> None:
    result = _trace(B_CONFIG, "outside", Flow.of(0, A_OTHER, B1))
    assert result["action"] == "drop"
    assert result["drop_reason"] == "clear-text-matches-crypto-acl"
    assert (result["acl"], result["ace_line"]) == ("ACL1", 1)


def test_incomplete_entry_drops() -> None:
    config = A_CONFIG.replace("crypto map MAP 1 set peer 198.51.100.2 198.51.100.3\n", "")
    result = _trace(config, "inside", Flow.of(0, A_OTHER, B1))
    assert result["action"] == "drop"
    assert result["drop_reason"] == "incomplete-crypto-map"
    assert "incomplete (no peer)" in str(result["reason"])


def test_dynamic_entry_cannot_initiate() -> None:
    text = EXAMPLE.read_text()
    result = _trace(text, "inside", Flow.of(0, "10.1.0.5", "10.200.0.1"))
    assert result["action"] == "protect"
    assert (result["dynamic_map"], result["dynamic_seq"], result["seq"]) == ("DYN", 10, 65535)
    assert "cannot initiate" in str(result["reason"])


def test_asa_phase_layout() -> None:
    text = format_trace(trace(compile_config(load(A_CONFIG)), "inside", Flow.of(0, A3, B1)))
    lines = text.splitlines()
    assert lines[:4] == [
        "Phase: 1",
        "Type: ROUTE-LOOKUP",
        "Subtype: Resolve Egress Interface",
        "Result: ALLOW",
    ]
    assert "Type: VPN" in lines and "Subtype: encrypt" in lines
    assert "crypto map MAP 2 match address ACL2" in lines
    assert (
        "access-list ACL2 extended permit ip host 192.168.3.3 192.168.12.0 255.255.255.248" in lines
    )
    assert lines[-2] == "Action: allow"


@pytest.mark.parametrize(
    ("protocol", "operands", "expected"),
    [
        (
            "tcp",
            ["10.0.0.1", "1025", "10.0.0.2", "443"],
            Flow.of(6, "10.0.0.1", "10.0.0.2", 1025, 443),
        ),
        ("udp", ["10.0.0.1", "10.0.0.2", "53"], Flow.of(17, "10.0.0.1", "10.0.0.2", 0, 53)),
        ("icmp", ["10.0.0.1", "0", "10.0.0.2"], Flow.of(1, "10.0.0.1", "10.0.0.2", icmp_type=0)),
        ("icmp", ["10.0.0.1", "10.0.0.2"], Flow.of(1, "10.0.0.1", "10.0.0.2", icmp_type=8)),
        ("47", ["10.0.0.1", "10.0.0.2"], Flow.of(47, "10.0.0.1", "10.0.0.2")),
    ],
)
def test_parse_flow(protocol: str, operands: list[str], expected: Flow) -> None:
    assert parse_flow(protocol, operands) == expected


@pytest.mark.parametrize(
    ("protocol", "operands", "message"),
    [
        ("sctpx", ["10.0.0.1", "10.0.0.2"], "unknown protocol"),
        ("tcp", ["10.0.0.1", "99999", "10.0.0.2"], "source port"),
        ("gre", ["10.0.0.1", "5", "10.0.0.2"], "has no ports"),
        ("tcp", ["10.0.0.1"], "two IPv4 addresses"),
        ("tcp", ["1", "10.0.0.1", "10.0.0.2"], "SRC [SPORT] DST [DPORT]"),
    ],
)
def test_bad_packet_descriptions_are_clear_errors(
    protocol: str, operands: list[str], message: str
) -> None:
    with pytest.raises(TraceInputError, match=re.escape(message)):
        parse_flow(protocol, operands)


def test_cli_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "packet-tracer",
            str(EXAMPLE),
            "--input",
            "inside",
            "tcp",
            "10.1.0.5",
            "1025",
            "10.2.0.9",
            "443",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "action",
        "crypto_map",
        "seq",
        "acl",
        "ace_line",
        "peers",
        "transform_sets",
        "proposals",
        "reason",
    ):
        assert key in result
    assert (result["action"], result["crypto_map"], result["seq"]) == ("protect", "OUTSIDE-MAP", 10)


def test_cli_unknown_interface(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["packet-tracer", str(EXAMPLE), "--input", "dmz", "ip", "10.1.0.5", "10.2.0.9"])
    assert code == 2
    assert "no interface is named 'dmz'" in capsys.readouterr().err


def test_ipv6_flows_are_parsed_and_classified() -> None:
    flow = parse_flow("tcp", ["2001:db8:1::5", "1234", "2001:db8:2::9", "443"])
    assert flow == Flow.of(6, "2001:db8:1::5", "2001:db8:2::9", 1234, 443)
    with pytest.raises(TraceInputError, match="both IPv4 or both IPv6"):
        parse_flow("ip", ["10.0.0.1", "2001:db8::1"])
