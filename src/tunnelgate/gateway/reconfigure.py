"""A running gateway takes a new compiled configuration, with the spec's consequences.

| what changed                                            | the SAs it touches           |
|---------------------------------------------------------|------------------------------|
| a global ``crypto ipsec security-association lifetime`` | every tunnel is dropped      |
| the crypto map entry of an SA is gone                   | torn down                    |
| its transform sets / IKEv2 proposals (or their content) | torn down                    |
| its peer is no longer one of the entry's ``set peer``   | torn down                    |
| anything else: ACLs, df-bit, TFC, new entries, new      | kept; new settings apply to  |
| peers by new sequence numbers, re-applying              | the next packets, new ACLs   |
| ``crypto map NAME interface IF``                        | to new SAs                   |

Static routes into the tunnel follow the new crypto ACLs (added and withdrawn); interfaces
that gain a crypto map and ``crypto ikev2 enable`` get an engine, those that lose it lose theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import RouteAdded, RouteRemoved
from tunnelgate.ike.addresses import interface_addresses
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.policy.address import address_text, ipv4_text
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.gateway import GatewayPolicy
from tunnelgate.policy.spd import Classifier


@dataclass(frozen=True, slots=True)
class TornDown:
    """One child SA a configuration change ended, and why."""

    spi_in: int
    map_label: str
    reason: str


def _why_torn_down(
    old: GatewayPolicy, new: GatewayPolicy, entry: MapEntry | None, was: MapEntry, peer: str
) -> str | None:
    if (old.ipsec_lifetime_seconds, old.ipsec_lifetime_kilobytes) != (
        new.ipsec_lifetime_seconds,
        new.ipsec_lifetime_kilobytes,
    ):
        return "global IPsec SA lifetime changed"
    if entry is None:
        return f"{was.label} removed"
    if (entry.proposals, entry.transform_sets) != (was.proposals, was.transform_sets):
        return f"{was.label}: transform set or IPsec proposal changed"
    if not entry.is_dynamic and peer not in entry.peers:
        return f"{was.label}: peer {peer} removed"
    return None


def apply_policy(gateway: Gateway, new: GatewayPolicy, now: float) -> list[TornDown]:
    """Make ``new`` the gateway's policy; tear down the SAs it invalidates (table above)."""
    old = gateway.policy
    if new == old:
        return []
    old_routes = set(gateway.static_routes())
    gateway.policy = new
    gateway.classifiers.clear()
    gateway.local_addresses.clear()
    gateway.local_addresses6.clear()
    keep_engines: dict[str, Ikev2Engine] = {}
    keep_v1: dict[str, Ikev1Engine] = {}
    for nameif, cmap in new.crypto_maps.items():
        iface = new.interfaces.get(nameif)
        if iface is None or iface.address is None:
            continue
        gateway.classifiers[nameif] = Classifier.compile(cmap)
        gateway.local_addresses[nameif] = ipv4_text(iface.address)
        address6 = iface.address6
        if address6 is not None:
            gateway.local_addresses6[nameif] = address_text(address6)
        if nameif in new.ikev2_enabled:
            engine = gateway.engines.get(nameif)
            if engine is None or engine.address[0] != gateway.local_addresses[nameif]:
                engine = Ikev2Engine(new, nameif, gateway.random)
            engine.gateway = new
            engine.set_addresses(interface_addresses(new, nameif))  # an ipv6 address changed
            keep_engines[nameif] = engine
        if nameif in new.ikev1_enabled:
            v1 = gateway.engines_v1.get(nameif)
            if v1 is None or v1.address[0] != gateway.local_addresses[nameif]:
                v1 = Ikev1Engine(new, nameif, gateway.random)
            v1.gateway = new
            v1.set_addresses(interface_addresses(new, nameif))
            keep_v1[nameif] = v1
    torn: list[TornDown] = []
    for spi_in, installed in list(gateway.installed.items()):
        running = keep_v1 if installed.ike_version == 1 else keep_engines
        entries = (
            new.crypto_maps[installed.interface].entries
            if (installed.interface in new.crypto_maps and installed.interface in running)
            else ()
        )
        entry = next((e for e in entries if e.label == installed.entry.label), None)
        reason = _why_torn_down(old, new, entry, installed.entry, installed.peer[0])
        if reason is None:
            assert entry is not None
            installed.entry = entry
            continue
        gateway.tear_down(spi_in, reason, now)
        torn.append(TornDown(spi_in, installed.entry.label, reason))
    gateway.engines.clear()
    gateway.engines.update(keep_engines)
    gateway.engines_v1.clear()
    gateway.engines_v1.update(keep_v1)
    gateway.set_wall_clock(gateway.utc_offset_s)  # new engines learn the wall clock too
    gateway.rebuild_address_index()
    new_routes = set(gateway.static_routes())
    gateway.emit_routes(
        [RouteAdded(p) for p in sorted(new_routes - old_routes)]
        + [RouteRemoved(p) for p in sorted(old_routes - new_routes)]
    )
    return torn


__all__ = ["TornDown", "apply_policy"]
