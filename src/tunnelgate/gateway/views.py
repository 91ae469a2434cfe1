"""``Gateway.snapshot``: the gateway's SAs as the frozen values ``show`` commands format."""

from __future__ import annotations

from tunnelgate.esp.sa import EspSaState
from tunnelgate.gateway.core import Gateway, InstalledSa
from tunnelgate.gateway.path import INTERFACE_MTU, worst_overhead
from tunnelgate.gateway.snapshot import (
    ChildOfIke,
    ChildSaView,
    EspDirectionView,
    GatewaySnapshot,
    Ident,
    IkeSaView,
)
from tunnelgate.ike.v1.state import Phase1Sa
from tunnelgate.ike.v2.state import IkeSa
from tunnelgate.policy.address import ipv4_text, range_to_prefixes
from tunnelgate.policy.selector import ALL_PORTS, Range, Selector

ESP_KEYWORDS = {  # IKEv2 ESP keywords -> the transform names ``show crypto ipsec sa`` prints
    "des": "esp-des",
    "3des": "esp-3des",
    "aes": "esp-aes",
    "aes-192": "esp-aes-192",
    "aes-256": "esp-aes-256",
    "aes-gcm": "esp-aes-gcm",
    "aes-gcm-192": "esp-aes-gcm-192",
    "aes-gcm-256": "esp-aes-gcm-256",
    "aes-gmac": "esp-aes-gmac",
    "aes-gmac-192": "esp-aes-gmac-192",
    "aes-gmac-256": "esp-aes-gmac-256",
    "null": "esp-null",
    "md5": "esp-md5-hmac",
    "sha-1": "esp-sha-hmac",
    "sha-256": "esp-sha256-hmac",
    "sha-384": "esp-sha384-hmac",
    "sha-512": "esp-sha512-hmac",
}


def _ident(addresses: Range, ports: Range, protocol: int) -> Ident:
    port = 0 if ports == ALL_PORTS else ports.low
    found = range_to_prefixes(addresses.low, addresses.high)
    if len(found) == 1:
        net, length = found[0]
        mask = ipv4_text((0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF)
        return Ident(ipv4_text(net), mask, protocol, port)
    return Ident(ipv4_text(addresses.low), None, protocol, port, ipv4_text(addresses.high))


_ZERO: tuple[int, int, dict[str, int]] = (0, 0, {})


def _direction(
    state: EspSaState,
    now: float,
    state_name: str,
    base: tuple[int, int, dict[str, int]] = (0, 0, {}),
) -> EspDirectionView:
    counters = state.counters()
    kb, seconds = state.remaining(now)
    replay = state.replay
    errors = tuple((r, n - base[2].get(r, 0)) for r, n in counters.errors if n > base[2].get(r, 0))
    return EspDirectionView(
        state.spi,
        counters.packets - base[0],
        counters.bytes - base[1],
        errors,
        kb,
        seconds,
        replay.window_size if replay is not None else 0,
        replay.bitmap if replay is not None else 0,
        state=state_name,
    )


def _child_view(
    gateway: Gateway, sa: InstalledSa, now: float, expiries: dict[bytes, float | None]
) -> ChildSaView:
    event, entry, sel = sa.established, sa.entry, sa.selector
    ike_remaining = None
    expire_at = expiries.get(sa.established.spi_in)
    if expire_at is not None:
        ike_remaining = max(0, int(expire_at - now))
    state = "rekeyed" if gateway.sad.is_retiring(sa.sa.inbound.spi) else "active"
    inbound = _direction(sa.sa.inbound_state, now, state, sa.counters_base.get("inbound", _ZERO))
    outbound = _direction(sa.sa.outbound_state, now, state, sa.counters_base.get("outbound", _ZERO))
    if ike_remaining is not None:  # time lifetimes are IKE's: show its clock
        inbound = _with_seconds(inbound, ike_remaining)
        outbound = _with_seconds(outbound, ike_remaining)
    acl = None
    if entry.acl is not None:
        rule = next((r for r in entry.acl.rules if sel_in(r.selectors, sel)), None)
        if rule is not None:
            acl = f"{entry.acl.name} {rule.text}"
    stats = sa.stats
    return ChildSaView(
        interface=sa.interface,
        map_name=entry.map,
        map_seq=entry.seq,
        dynamic_map=entry.dynamic_map,
        dynamic_seq=entry.dynamic_seq,
        acl=acl,
        local_ident=_ident(sel.source, sel.source_ports, sel.protocol),
        remote_ident=_ident(sel.destination, sel.destination_ports, sel.protocol),
        local_address=sa.local,
        local_port=4500 if sa.udp_encapsulation else 500,
        peer_address=sa.peer[0],
        peer_port=sa.peer[1] if sa.udp_encapsulation else 500,
        udp_encapsulation=sa.udp_encapsulation,
        mode=event.mode,
        ike_version=sa.ike_version,
        encryption=ESP_KEYWORDS.get(event.encryption, event.encryption),
        integrity=ESP_KEYWORDS.get(event.integrity, event.integrity),
        pfs_group=entry.pfs_group,
        inbound=inbound,
        outbound=outbound,
        conn_id=sa.conn_id,
        age_seconds=int(now - sa.installed_at),
        path_mtu=sa.path_mtu,
        overhead=worst_overhead(sa.sa.outbound, sa.udp_encapsulation),
        media_mtu=INTERFACE_MTU,
        pmtu_remaining_seconds=(
            max(0, int(sa.pmtu_reset_at - now)) if sa.pmtu_reset_at is not None else 0
        ),
        df_policy=entry.df_bit,
        icmp_validation=entry.validate_icmp_errors,
        tfc_enabled=sa.tfc_at is not None,
        pre_frag_successes=stats["pre-frag-successes"],
        pre_frag_failures=stats["pre-frag-failures"],
        fragments_created=stats["fragments-created"],
        pmtus_sent=stats["pmtus-sent"],
        pmtus_received=stats["pmtus-received"],
        tfc_sent=stats["tfc-sent"],
        tfc_received=stats["tfc-received"],
        valid_icmp_errors=stats["valid-icmp-errors"],
        invalid_icmp_errors=stats["invalid-icmp-errors"],
        lifetime_seconds=event.lifetime_seconds,
        lifetime_kilobytes=event.lifetime_kilobytes,
    )


def sel_in(selectors: tuple[Selector, ...], child: Selector) -> bool:
    """The ACE whose selectors cover the child SA's (narrowed) selector."""
    return any(s.covers(child) for s in selectors)


def _with_seconds(view: EspDirectionView, seconds: int) -> EspDirectionView:
    return EspDirectionView(
        view.spi,
        view.packets,
        view.bytes,
        view.errors,
        view.remaining_kilobytes,
        seconds,
        view.replay_window,
        view.replay_bitmap,
        view.state,
    )


def _child_expiries(gateway: Gateway) -> dict[bytes, float | None]:
    """IKEv2 children's hard expiry by inbound SPI, in one pass (``show`` at 20,000 tunnels
    must not walk every IKE SA for every child SA)."""
    return {
        spi: child.expire_at
        for engine in gateway.engines.values()
        for ike in engine.sas.values()
        for spi, child in ike.children.items()
    }


def _ike_view(gateway: Gateway, nameif: str, ike: IkeSa, tunnel_id: int, now: float) -> IkeSaView:
    engine = gateway.engines[nameif]
    choice = ike.choice
    established = gateway.ike_established_at(ike)
    status = {"established": "READY", "deleted": "DELETE"}.get(ike.state, "IN-NEG")
    if ike.pending is not None and ike.pending.kind == "delete-ike":
        status = "DELETE"  # our Delete is out (clear, shutdown): gone when the peer answers
    children = tuple(
        ChildOfIke(
            _selector_text(c.selector.source, c.selector.source_ports),
            _selector_text(c.selector.destination, c.selector.destination_ports),
            int.from_bytes(c.spi_in, "big"),
            int.from_bytes(c.spi_out, "big"),
            ESP_KEYWORDS.get(c.encryption, c.encryption),
            ESP_KEYWORDS.get(c.integrity, c.integrity),
        )
        for c in ike.children.values()
    )
    local_port = 4500 if ike.nat_detected else engine.address[1]
    return IkeSaView(
        tunnel_id=tunnel_id,
        local_address=engine.address[0],
        local_port=local_port,
        peer_address=ike.peer[0],
        peer_port=ike.peer[1],
        spi_i=ike.spi_i,
        spi_r=ike.spi_r,
        role="Initiator" if ike.initiator else "Responder",
        status=status,
        encryption=choice.encryption if choice else "",
        integrity=choice.integrity if choice else "",
        prf=choice.prf if choice else "",
        dh_group=choice.group if choice else ike.group,
        lifetime_seconds=choice.lifetime_seconds if choice else 0,
        active_seconds=int(now - established) if established is not None else 0,
        nat_t=ike.nat_detected,
        children=children,
        tunnel_group=_tunnel_group(gateway, ike.peer[0]),
    )


def _tunnel_group(gateway: Gateway, peer: str) -> str | None:
    return peer if peer in gateway.policy.tunnel_groups else None


def _phase1_view(
    gateway: Gateway, local: tuple[str, int], sa: Phase1Sa, tunnel_id: int, now: float
) -> IkeSaView:
    """An IKEv1 (ISAKMP) SA for ``show crypto ikev1 sa`` / ``show crypto isakmp sa``."""
    policy = sa.choice.policy if sa.choice is not None else None
    children = tuple(
        ChildOfIke(
            _selector_text(c.selector.source, c.selector.source_ports),
            _selector_text(c.selector.destination, c.selector.destination_ports),
            int.from_bytes(c.spi_in, "big"),
            int.from_bytes(c.spi_out, "big"),
            ESP_KEYWORDS.get(c.encryption, c.encryption),
            ESP_KEYWORDS.get(c.integrity, c.integrity),
        )
        for c in sa.children.values()
    )
    return IkeSaView(
        tunnel_id=tunnel_id,
        local_address=local[0],
        local_port=local[1],
        peer_address=sa.peer[0],
        peer_port=sa.peer[1],
        spi_i=sa.cookie_i,
        spi_r=sa.cookie_r,
        role="Initiator" if sa.initiator else "Responder",
        status="READY" if sa.state.established else "IN-NEG",
        encryption=policy.encryption if policy else "",
        integrity=policy.hash if policy else "",
        prf=policy.hash if policy else "",
        dh_group=policy.group if policy else 0,
        lifetime_seconds=sa.choice.lifetime_seconds if sa.choice else 0,
        active_seconds=int(now - sa.established_at) if sa.established_at is not None else 0,
        nat_t=sa.nat_detected,
        ike_version=1,
        children=children,
        tunnel_group=_tunnel_group(gateway, sa.peer[0]),
    )


def _selector_text(addresses: Range, ports: Range) -> str:
    return f"{ipv4_text(addresses.low)}/{ports.low} - {ipv4_text(addresses.high)}/{ports.high}"


def snapshot(gateway: Gateway, now: float, wallclock: float = 0.0) -> GatewaySnapshot:
    """Everything the ``show`` commands print, at monotonic ``now`` (``wallclock``: the UNIX
    time of the same instant, for login times)."""
    expiries = _child_expiries(gateway)
    children = sorted(
        (_child_view(gateway, sa, now, expiries) for sa in gateway.installed.values()),
        key=lambda v: (v.interface, v.map_name, v.map_seq, v.conn_id),
    )
    ikes: list[IkeSaView] = []
    for nameif, engine in sorted(gateway.engines.items()):
        for ike in engine.sas.values():
            ikes.append(_ike_view(gateway, nameif, ike, len(ikes) + 1, now))
    for _nameif, v1 in sorted(gateway.engines_v1.items()):
        for phase1 in v1.sas.values():
            ikes.append(_phase1_view(gateway, v1.address, phase1, len(ikes) + 1, now))
    return GatewaySnapshot(
        hostname=gateway.policy.hostname,
        child_sas=tuple(children),
        ike_sas=tuple(ikes),
        drops=dict(gateway.drops),
        counters=dict(gateway.counters),
        taken_at=wallclock,
    )


__all__ = ["ESP_KEYWORDS", "snapshot"]
