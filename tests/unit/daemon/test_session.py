"""Operator sessions on a live gateway (``daemon/session.py`` over ``daemon/live.py``): the
gateway is real and talks to a second one over the in-memory wire of the protocol tests."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import SeededRandom
from tests.protocol.test_gateway_pair import ROUTE, Wire, gateway, icmp_echo
from tests.protocol.test_ikev2_exchanges import quiet_group
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.daemon.live import LiveGateway
from tunnelgate.daemon.session import OperatorSession


class Setup:
    def __init__(self) -> None:
        text = gateway_text(
            HQ, group=quiet_group(HQ), extra=f"route outside 0.0.0.0 0.0.0.0 {ROUTE['hq']}\n"
        )
        self.saved: list[str] = []
        self.wire = Wire({})
        self.live = LiveGateway(
            load(text),
            None,
            compile_policy=compile_config,
            random=SeededRandom(1),
            clock=lambda: self.wire.now,
            save_config=self.saved.append,
            save_keys=lambda data: None,
        )
        self.wire.gateways.update({"hq": self.live.gateway, "branch": gateway(BRANCH, 2)})
        self.live.after = self.wire.flush
        self.session = OperatorSession(self.live)

    def up(self) -> None:
        self.wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))


def test_show_commands_abbreviated_and_prompts() -> None:
    s = Setup()
    s.up()
    answer = s.session.handle("sh cry ips sa")
    assert answer.ok and "current_peer: 198.51.100.2" in answer.output
    assert answer.prompt == "hq#"
    assert "READY" in s.session.handle("show crypto ikev2 sa").output
    assert s.session.handle("show crypto isakmp sa").output.startswith("There are no IKEv1 SAs")
    bad = s.session.handle("show crypto ipsec sa peer 1.2.3")
    assert not bad.ok and "% Invalid input detected at '^' marker." in bad.output
    assert s.session.handle("configure terminal").prompt == "hq(config)#"
    assert "current_peer" in s.session.handle("show crypto ipsec sa").output  # also in config
    stats = s.session.handle("show ipsec stats")
    assert stats.ok and "IPsec Global Statistics" in stats.output
    assert "IKEv2" in s.session.handle("sh cry isa stats").output
    sessions = s.session.handle("show vpn-sessiondb detail l2l").output
    assert "Connection   : 198.51.100.2" in sessions and "IKEv2" in sessions
    assert "1970" not in sessions  # login time from the wall clock


def test_help_and_completion_come_from_the_grammars() -> None:
    s = Setup()
    help_text = s.session.handle("show crypto ?").output
    assert "ipsec" in help_text and "IPsec security associations" in help_text
    assert "ikev2" in help_text and "key" in help_text  # operations + the shell's own
    assert s.session.complete("show crypto ip") == ["ipsec"]
    s.session.handle("configure terminal")
    assert "crypto" in s.session.complete("cr")


def test_a_config_change_applies_live_and_a_refused_line_changes_nothing() -> None:
    s = Setup()
    s.up()
    assert len(s.live.gateway.installed) == 1
    s.session.handle("configure terminal")
    refused = s.session.handle("crypto map M 10 set pfs group99")
    assert not refused.ok and len(s.live.gateway.installed) == 1
    s.session.handle("crypto ipsec ikev2 ipsec-proposal P")
    changed = s.session.handle("protocol esp encryption aes-192")
    assert changed.ok and "torn down" in changed.output
    assert s.live.gateway.installed == {}  # and the Delete went to the branch:
    assert s.wire.gateways["branch"].installed == {}
    assert s.session.handle("end").prompt == "hq#"
    assert s.session.handle("write memory").ok
    assert s.saved and "protocol esp encryption aes-192" in s.saved[-1]


def test_clear_crypto_ipsec_sa_by_peer_and_clear_ikev2_sa() -> None:
    s = Setup()
    s.up()
    assert s.session.handle("clear crypto ipsec sa peer 192.0.2.77").ok
    assert len(s.live.gateway.installed) == 1  # another peer: nothing cleared
    assert s.session.handle("clear crypto ipsec sa peer 198.51.100.2").ok
    assert s.live.gateway.installed == {}
    s.up()
    assert len(s.live.gateway.installed) == 1
    assert s.session.handle("clear crypto ikev2 sa").ok
    assert s.live.gateway.installed == {}
    assert all(not e.sas for e in s.live.gateway.engines.values())


def test_reapplying_the_crypto_map_and_adding_a_sequence_keeps_the_tunnel() -> None:
    s = Setup()
    s.up()
    (before,) = s.live.gateway.installed
    s.session.handle("configure terminal")
    for line in (
        "crypto map M interface outside",  # re-applied: resynchronises, tears nothing down
        "access-list VPN2 extended permit ip 10.1.0.0 255.255.0.0 10.7.0.0 255.255.0.0",
        "crypto map M 20 match address VPN2",
        "crypto map M 20 set peer 192.0.2.7",
        "crypto map M 20 set ikev2 ipsec-proposal P",
        "crypto map M interface outside",
    ):
        answer = s.session.handle(line)
        assert answer.ok and "torn down" not in answer.output, (line, answer.output)
    assert list(s.live.gateway.installed) == [before]
    assert any(e.seq == 20 for e in s.live.gateway.policy.crypto_maps["outside"].entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                [
                    "configure terminal",
                    "show crypto ipsec sa",
                    "clear crypto ipsec sa",
                    "crypto map M 10 set peer",
                    "no crypto map M 10",
                    "end",
                    "?",
                    "show crypto ?",
                    "crypto ipsec ikev2 ipsec-proposal P",
                    "protocol esp encryption",
                ]
            ),
        ),
        max_size=8,
    )
)
def test_any_operator_input_gets_an_answer_and_never_breaks_the_gateway(lines: list[str]) -> None:
    s = Setup()
    s.up()
    for line in lines:
        answer = s.session.handle(line)
        assert isinstance(answer.output, str) and answer.prompt.startswith("hq")
    s.session.handle("end")
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 99)
    s.live.gateway.receive_tun(packet, s.wire.now)  # the data path still answers
    s.wire.flush()


def test_clear_counters_zeroes_what_show_counts_but_not_the_lifetimes() -> None:
    s = Setup()
    s.up()
    for seq in range(2, 6):
        s.wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", seq))
    assert "#pkts encaps: 5," in s.session.handle("show crypto ipsec sa").output
    (sa,) = s.live.gateway.installed.values()
    kb_before = sa.sa.outbound_state.remaining(s.wire.now)[0]
    assert s.session.handle("clear crypto ipsec sa counters").ok
    assert "#pkts encaps: 0," in s.session.handle("show crypto ipsec sa").output
    s.wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 9))
    assert "#pkts encaps: 1," in s.session.handle("show crypto ipsec sa").output
    assert sa.sa.outbound_state.remaining(s.wire.now)[0] == kb_before  # lifetime unaffected
    assert len(s.live.gateway.installed) == 1  # and the SA stays


def test_clear_crypto_isakmp_and_version_specific_clears() -> None:
    s = Setup()
    s.up()
    assert s.session.handle("clear crypto ikev1 sa").ok  # no IKEv1 SA: nothing happens
    assert len(s.live.gateway.installed) == 1
    assert s.session.handle("clear crypto isakmp sa 198.51.100.2").ok
    assert s.live.gateway.installed == {}
