"""A running gateway takes a new configuration (``gateway/reconfigure.py``): which tunnels the
spec says must drop, which stay up, and that traffic renegotiates afterwards."""

from __future__ import annotations

from tests.helpers import load
from tests.protocol.test_gateway_pair import ROUTE, Wire, events, gateway, icmp_echo
from tests.protocol.test_ikev2_exchanges import quiet_group
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.gateway.outputs import ChildSaRemoved, RouteAdded, RouteRemoved
from tunnelgate.gateway.reconfigure import apply_policy
from tunnelgate.policy.gateway import GatewayPolicy


def policy(side: dict[str, str], extra: str = "", **over: str) -> GatewayPolicy:
    text = gateway_text(
        side,
        group=quiet_group(side),
        extra=f"route outside 0.0.0.0 0.0.0.0 {ROUTE[side['hostname']]}\n" + extra,
        **over,
    )
    return compile_config(load(text))


def up() -> Wire:
    wire = Wire({"hq": gateway(HQ, 1), "branch": gateway(BRANCH, 2)})
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 1))
    assert len(wire.gateways["hq"].installed) == 1
    events(wire.gateways["hq"])
    return wire


def test_same_configuration_changes_nothing() -> None:
    wire = up()
    hq = wire.gateways["hq"]
    assert apply_policy(hq, policy(HQ), wire.now) == []
    assert len(hq.installed) == 1 and hq.outputs() == []


def test_a_changed_proposal_tears_its_tunnel_down_on_both_sides_then_traffic_renegotiates() -> None:
    wire = up()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    both = (
        "crypto ipsec ikev2 ipsec-proposal P\n protocol esp encryption aes-gcm-256\n"
        " protocol esp integrity null\n"
    )
    torn = apply_policy(hq, policy(HQ, proposal=both), wire.now)
    assert [t.reason for t in torn] == ["crypto map M 10: transform set or IPsec proposal changed"]
    wire.flush()  # the Delete reaches the branch
    assert hq.installed == {} and branch.installed == {}
    assert any(isinstance(e, ChildSaRemoved) for e in events(branch))
    apply_policy(branch, policy(BRANCH, proposal=both), wire.now)
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 2)
    wire.send_from_lan("hq", packet)
    assert wire.tun["branch"][-1] == packet
    (installed,) = hq.installed.values()
    assert installed.established.encryption == "aes-gcm-256"


def test_a_global_lifetime_change_drops_every_tunnel() -> None:
    wire = up()
    hq = wire.gateways["hq"]
    lifetime = "crypto ipsec security-association lifetime seconds 7200\n"
    torn = apply_policy(hq, policy(HQ, lifetime), wire.now)
    assert [t.reason for t in torn] == ["global IPsec SA lifetime changed"]
    assert hq.installed == {}


def test_new_entries_acl_and_settings_keep_the_tunnel_up() -> None:
    wire = up()
    hq = wire.gateways["hq"]
    (before,) = hq.installed.values()
    more = (
        "access-list VPN2 extended permit ip 10.1.0.0 255.255.0.0 10.3.0.0 255.255.0.0\n"
        "crypto map M 20 match address VPN2\ncrypto map M 20 set peer 192.0.2.7\n"
        "crypto map M 20 set ikev2 ipsec-proposal P\n"
    )
    new = policy(HQ, more, map_extra="crypto map M 10 set df-bit clear-df\n")
    assert apply_policy(hq, new, wire.now) == []
    (after,) = hq.installed.values()
    assert after is before and after.entry.df_bit == "clear-df"  # new settings, same SA
    assert RouteAdded("10.3.0.0/16") in hq.outputs()
    packet = icmp_echo("10.1.0.5", "10.2.0.9", 3)
    wire.send_from_lan("hq", packet)
    assert wire.tun["branch"][-1] == packet
    # and the routes of a removed entry are withdrawn
    apply_policy(hq, policy(HQ), wire.now)
    assert RouteRemoved("10.3.0.0/16") in hq.outputs()


def test_clear_crypto_ipsec_sa_tears_down_and_traffic_brings_it_back() -> None:
    wire = up()
    hq, branch = wire.gateways["hq"], wire.gateways["branch"]
    (spi,) = hq.installed
    assert hq.tear_down(spi, "clear crypto ipsec sa", wire.now)
    wire.flush()
    assert hq.installed == {} and branch.installed == {}
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 4))
    assert len(hq.installed) == 1 and len(wire.tun["branch"]) == 2
