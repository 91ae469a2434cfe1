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
from tunnelgate.ike.v2.events import ChildSaEstablished
from tunnelgate.ike.v2.state import Child, IkeSa
from tunnelgate.policy.address import address_text, ipv4_text, prefix_length
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
    """IPv4: address and dotted mask; IPv6 (D113): address and prefix length, as the ASA
    prints ``(2001:db8:1::/64/0/0)`` (a host as /128)."""
    port = 0 if ports.low == ALL_PORTS.low and ports.high == ALL_PORTS.high else ports.low
    low, high = addresses.low, addresses.high
    if addresses.is_ipv6:
        length = prefix_length(low, high)
        mask = str(length) if length is not None else None
        return Ident(address_text(low), mask, protocol, port, None if mask else address_text(high))
    size = high - low + 1
    if size & (size - 1) == 0 and low & (size - 1) == 0:  # one prefix (range_to_prefixes)
        return Ident(ipv4_text(low), ipv4_text(~(size - 1) & 0xFFFFFFFF), protocol, port)
    return Ident(ipv4_text(low), None, protocol, port, ipv4_text(high))


_ZERO: tuple[int, int, dict[str, int]] = (0, 0, {})


def _direction(
    state: EspSaState,
    now: float,
    state_name: str,
    base: tuple[int, int, dict[str, int]],
    ike_remaining: int | None,
) -> EspDirectionView:
    """One direction's counters as they are now (less what ``clear … counters`` zeroed);
    ``ike_remaining``: IKE's clock for the time lifetime, when IKE keeps it."""
    counters = state.counters()
    kb, seconds = state.remaining(now)
    if ike_remaining is not None:
        seconds = ike_remaining
    replay = state.replay
    zeroed = base[2]
    errors = (
        tuple((r, n - zeroed.get(r, 0)) for r, n in counters.errors if n > zeroed.get(r, 0))
        if counters.errors
        else ()
    )
    return EspDirectionView(
        state.spi,
        counters.packets - base[0],
        counters.bytes - base[1],
        errors,
        kb,
        seconds,
        replay.window_size if replay is not None else 0,
        replay.bitmap if replay is not None else 0,
        state_name,
    )


def _child_view(
    gateway: Gateway, sa: InstalledSa, now: float, expiries: dict[bytes, float | None]
) -> ChildSaView:
    event, entry, sel = sa.established, sa.entry, sa.selector
    ike_remaining = None
    expire_at = expiries.get(event.spi_in)
    if expire_at is not None:  # time lifetimes are IKE's: show its clock
        ike_remaining = max(0, int(expire_at - now))
    child = sa.sa
    state = "rekeyed" if gateway.sad.is_retiring(child.inbound.spi) else "active"
    base = sa.counters_base
    inbound = _direction(child.inbound_state, now, state, base.get("inbound", _ZERO), ike_remaining)
    outbound = _direction(
        child.outbound_state, now, state, base.get("outbound", _ZERO), ike_remaining
    )
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
        overhead=worst_overhead(sa.sa.outbound, sa.udp_encapsulation, sa.outer_ipv6),
        media_mtu=INTERFACE_MTU,
        pmtu_remaining_seconds=(
            max(0, int(sa.pmtu_reset_at - now)) if sa.pmtu_reset_at is not None else 0
        ),
        df_policy=entry.df_bit,
        icmp_validation=entry.validate_icmp_errors,
        tfc_enabled=sa.tfc_at is not None,
        pre_frag_successes=stats.get("pre-frag-successes", 0),
        pre_frag_failures=stats.get("pre-frag-failures", 0),
        fragments_created=stats.get("fragments-created", 0),
        pmtus_sent=stats.get("pmtus-sent", 0),
        pmtus_received=stats.get("pmtus-received", 0),
        tfc_sent=stats.get("tfc-sent", 0),
        tfc_received=stats.get("tfc-received", 0),
        valid_icmp_errors=stats.get("valid-icmp-errors", 0),
        invalid_icmp_errors=stats.get("invalid-icmp-errors", 0),
        lifetime_seconds=event.lifetime_seconds,
        lifetime_kilobytes=event.lifetime_kilobytes,
    )


def sel_in(selectors: tuple[Selector, ...], child: Selector) -> bool:
    """The ACE whose selectors cover the child SA's (narrowed) selector."""
    return any(s.covers(child) for s in selectors)


def _child_expiries(gateway: Gateway) -> dict[bytes, float | None]:
    """IKEv2 children's hard expiry by inbound SPI, in one pass (``show`` at 20,000 tunnels
    must not walk every IKE SA for every child SA)."""
    return {
        spi: child.expire_at
        for engine in gateway.engines.values()
        for ike in engine.sas.values()
        for spi, child in ike.children.items()
    }


_IKE_STATUS = {"established": "READY", "deleted": "DELETE"}


def _ike_view(
    gateway: Gateway, address: tuple[str, int], ike: IkeSa, tunnel_id: int, now: float
) -> IkeSaView:
    choice = ike.choice
    established = gateway.ike_established_at(ike)
    status = _IKE_STATUS.get(ike.state, "IN-NEG")
    if ike.pending is not None and ike.pending.kind == "delete-ike":
        status = "DELETE"  # our Delete is out (clear, shutdown): gone when the peer answers
    children = tuple(_child_of_ike(c) for c in ike.children.values())
    local_port = 4500 if ike.nat_detected else address[1]
    return IkeSaView(
        tunnel_id=tunnel_id,
        local_address=address[0],
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
    children = tuple(_child_of_ike(c) for c in sa.children.values())
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


def _child_of_ike(child: Child | ChildSaEstablished) -> ChildOfIke:
    sel = child.selector
    return ChildOfIke(
        _selector_text(sel.source, sel.source_ports),
        _selector_text(sel.destination, sel.destination_ports),
        int.from_bytes(child.spi_in, "big"),
        int.from_bytes(child.spi_out, "big"),
        ESP_KEYWORDS.get(child.encryption, child.encryption),
        ESP_KEYWORDS.get(child.integrity, child.integrity),
    )


def _selector_text(addresses: Range, ports: Range) -> str:
    low, high = address_text(addresses.low), address_text(addresses.high)
    return f"{low}/{ports.low} - {high}/{ports.high}"


def snapshot(
    gateway: Gateway,
    now: float,
    wallclock: float = 0.0,
    *,
    child_sas: bool = True,
    ike_sas: bool = True,
) -> GatewaySnapshot:
    """Everything the ``show`` commands print, at monotonic ``now`` (``wallclock``: the UNIX
    time of the same instant, for login times). ``child_sas`` / ``ike_sas`` False leave that
    part empty: a command that prints only IKE SAs need not read 20,000 child SAs' counters."""
    return GatewaySnapshot(
        hostname=gateway.policy.hostname,
        child_sas=child_sa_views(gateway, now) if child_sas else (),
        ike_sas=ike_sa_views(gateway, now) if ike_sas else (),
        drops=dict(gateway.drops),
        counters=dict(gateway.counters),
        taken_at=wallclock,
        ike_drops=ike_drops(gateway),
    )


def ike_drops(gateway: Gateway) -> dict[str, int]:
    """The IKE engines' drop counters, summed over interfaces, by ``ikev2 REASON``."""
    out: dict[str, int] = {}
    for version, engines in ((2, gateway.engines), (1, gateway.engines_v1)):
        for engine in engines.values():
            for reason, n in engine.drops.items():
                key = f"ikev{version} {reason}"
                out[key] = out.get(key, 0) + n
    return out


def child_sa_views(gateway: Gateway, now: float) -> tuple[ChildSaView, ...]:
    """The installed child SAs, by interface, crypto map entry and connection id."""
    expiries = _child_expiries(gateway)
    views = [_child_view(gateway, sa, now, expiries) for sa in gateway.installed.values()]
    views.sort(key=lambda v: (v.interface, v.map_name, v.map_seq, v.conn_id))
    return tuple(views)


def ike_sa_views(gateway: Gateway, now: float) -> tuple[IkeSaView, ...]:
    """The IKEv2 SAs by interface, then the IKEv1 (ISAKMP) SAs; tunnel ids count from 1."""
    ikes: list[IkeSaView] = []
    for _nameif, engine in sorted(gateway.engines.items()):
        for ike in engine.sas.values():
            address = ike.local_address or engine.address  # IPv4 or IPv6 (D115)
            ikes.append(_ike_view(gateway, address, ike, len(ikes) + 1, now))
    for _nameif, v1 in sorted(gateway.engines_v1.items()):
        for phase1 in v1.sas.values():
            address = phase1.local_address or v1.address
            ikes.append(_phase1_view(gateway, address, phase1, len(ikes) + 1, now))
    return tuple(ikes)


__all__ = ["ESP_KEYWORDS", "child_sa_views", "ike_sa_views", "snapshot"]
