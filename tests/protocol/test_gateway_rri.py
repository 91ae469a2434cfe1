"""A dynamic crypto map on the responder: SAs the peer negotiates carry the replies, and
reverse-route injection follows them (routes added when the SA comes up, removed with it)."""

from __future__ import annotations

from tests.protocol.test_gateway_pair import BRANCH, HQ, Wire, events, gateway, icmp_echo
from tunnelgate.gateway.outputs import ChildSaInstalled, RouteAdded, RouteRemoved

DYNAMIC = (
    "crypto dynamic-map DYN 10 set ikev2 ipsec-proposal P\n"
    "crypto dynamic-map DYN 10 set reverse-route\n"
    "crypto map M 65535 ipsec-isakmp dynamic DYN\n"
)


def test_dynamic_map_sa_carries_the_replies_and_injects_then_withdraws_its_route() -> None:
    wire = Wire({"hq": gateway(HQ, 1), "branch": gateway(BRANCH, 2, map=DYNAMIC)})
    branch = wire.gateways["branch"]
    assert branch.static_routes() == []  # nothing to route before an SA exists
    request = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", request)
    assert wire.tun["branch"] == [request]
    outputs_seen = [e for e in events(branch) if isinstance(e, ChildSaInstalled)]
    assert outputs_seen and outputs_seen[0].map_label == "crypto dynamic-map DYN 10"
    reply = icmp_echo("10.2.0.9", "10.1.0.5", 1)
    wire.send_from_lan("branch", reply)  # no static entry protects it; the dynamic SA does
    assert wire.tun["hq"] == [reply]
    assert branch.drops == {}
    (spi,) = branch.installed
    routes: list[object] = []
    original = wire.deliver

    def record(sender: str, out: object) -> None:
        if isinstance(out, RouteAdded | RouteRemoved):
            routes.append(out)
        original(sender, out)

    wire.deliver = record  # type: ignore[method-assign]
    wire.gateways["hq"].tear_down(next(iter(wire.gateways["hq"].installed)), "test", wire.now)
    wire.flush()
    assert branch.installed == {}
    assert routes == [RouteRemoved("10.1.0.0/16")]
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 2))
    assert RouteAdded("10.1.0.0/16") in routes
    assert spi not in branch.installed and len(branch.installed) == 1
