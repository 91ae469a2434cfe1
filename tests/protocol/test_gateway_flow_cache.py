"""The outbound fast path (per-flow cache) of ``Gateway.receive_tun`` follows SA changes."""

from __future__ import annotations

from tests.protocol.test_gateway_pair import events, icmp_echo, pair
from tunnelgate.gateway.outputs import NegotiationStarted


def test_cached_flow_follows_sa_removal_and_new_sa() -> None:
    wire = pair()
    hq = wire.gateways["hq"]
    first = icmp_echo("10.1.0.5", "10.2.0.9", 1)
    wire.send_from_lan("hq", first)
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 2))
    assert len(hq._flow_cache) == 1  # the second packet took the fast path
    (old_spi,) = list(hq.installed)
    events(hq)
    hq._uninstall(old_spi, "test")  # the SA goes: the cached entry must not be used
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 3))
    started = [e for e in events(hq) if isinstance(e, NegotiationStarted)]
    assert len(started) == 1  # a new child SA was asked for, not the stale one used
    assert old_spi not in hq.installed and len(hq.installed) == 1
    wire.send_from_lan("hq", icmp_echo("10.1.0.5", "10.2.0.9", 4))
    assert [p[-8:] for p in wire.tun["branch"]][-1] == icmp_echo("10.1.0.5", "10.2.0.9", 4)[-8:]
    assert all(i.sa.inbound.spi != old_spi for i in hq._flow_cache.values())
