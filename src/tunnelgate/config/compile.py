"""``compile``: a ``RunningConfig`` becomes the policy values every decision works on.

Names are resolved here (ACLs, objects and object-groups, transform sets, proposals,
dynamic maps, tunnel groups); what cannot be resolved is left out of the values, and the
whole-configuration checks have already warned about it.
"""

from __future__ import annotations

from tunnelgate.config.commands.access_list import ace_text
from tunnelgate.config.model import (
    AccessList,
    Ace,
    AddressSpec,
    CryptoMapEntry,
    PortSpec,
    Remark,
    RunningConfig,
    Secret,
    TfcPackets,
)
from tunnelgate.config.ports import ICMP_TYPES, PORTS, PROTOCOLS
from tunnelgate.pki.credentials import NO_CREDENTIALS, Credentials
from tunnelgate.policy.acl import Acl, Rule
from tunnelgate.policy.address import (
    address_int,
    ipv4_int,
    ipv6_int,
    network_range,
    prefix_range,
    same_family,
)
from tunnelgate.policy.crypto_map import (
    DYNAMIC,
    STATIC,
    CryptoMapSet,
    IpsecProposal,
    MapEntry,
    Tfc,
    TransformSet,
)
from tunnelgate.policy.gateway import GatewayPolicy, InterfaceAddress, StaticRoute, StaticRoute6
from tunnelgate.policy.ike import (
    CertificateRule,
    Ikev1Policy,
    Ikev2Policy,
    PreSharedKey,
    TunnelGroup,
    TunnelGroupMap,
)
from tunnelgate.policy.selector import (
    ALL_ADDRESSES,
    ALL_IPV6_ADDRESSES,
    ALL_PORTS,
    Range,
    Selector,
)

# --------------------------------------------------------------------------- ACLs


def _address_ranges(config: RunningConfig, spec: AddressSpec, depth: int = 0) -> list[Range]:
    """The ranges an ACE address denotes, IPv4 and IPv6 (D113): ``any`` both ``any4`` and
    ``any6`` (``compile_ace`` pairs each with the other side's family); FQDN objects none."""
    kind = spec.kind
    if kind == "any4":
        return [ALL_ADDRESSES]
    if kind == "any6":
        return [ALL_IPV6_ADDRESSES]
    if kind == "any":
        return [ALL_ADDRESSES, ALL_IPV6_ADDRESSES]
    if kind == "host" and spec.address is not None:
        a = address_int(spec.address)
        return [Range(a, a)]
    if kind == "subnet" and spec.address is not None and spec.mask is not None:
        return [_network(spec.address, spec.mask)]
    if kind == "interface":
        for iface in config.interfaces.values():
            if iface.nameif == spec.name and iface.ip_address is not None:
                a = ipv4_int(iface.ip_address)
                return [Range(a, a)]
        return []
    if kind == "object" and spec.name in config.network_objects:
        return _object_ranges(config, spec.name)
    if kind == "object-group" and spec.name in config.network_object_groups and depth < 16:
        out: list[Range] = []
        for member in config.network_object_groups[spec.name].members:
            if member.kind == "group":
                sub = AddressSpec("object-group", name=member.name)
            elif member.kind == "object":
                sub = AddressSpec("object", name=member.name)
            else:
                sub = AddressSpec(member.kind, member.address, member.mask)
            out.extend(_address_ranges(config, sub, depth + 1))
        return out
    return []


def _network(address: str, mask: str) -> Range:
    """``A MASK`` (IPv4) or ``X:X::X/LEN`` kept as address and prefix length (IPv6)."""
    if ":" in address:
        return Range(*network_range(ipv6_int(address), int(mask)))
    return Range(*prefix_range(ipv4_int(address), ipv4_int(mask)))


def _object_ranges(config: RunningConfig, name: str | None) -> list[Range]:
    obj = config.network_objects.get(name or "")
    if obj is None or obj.value is None:
        return []
    if obj.kind == "host":
        a = address_int(obj.value)
        return [Range(a, a)]
    if obj.kind == "subnet" and obj.value2 is not None:
        return [_network(obj.value, obj.value2)]
    if obj.kind == "range" and obj.value2 is not None:
        low, high = address_int(obj.value), address_int(obj.value2)
        return [Range(low, high)] if same_family(low, high) and low <= high else []
    return []  # fqdn: resolved at run time only


def _port_ranges(protocol: str, spec: PortSpec | None) -> list[Range]:
    if spec is None:
        return [ALL_PORTS]
    p = spec.low
    if spec.op == "eq":
        return [Range(p, p)]
    if spec.op == "lt":
        return [Range(0, p - 1)] if p > 0 else []
    if spec.op == "gt":
        return [Range(p + 1, 65535)] if p < 65535 else []
    if spec.op == "neq":
        return [r for r in (Range(0, p - 1), Range(p + 1, 65535)) if r.low <= r.high]
    if spec.op == "range" and spec.high is not None:
        return [Range(p, spec.high)]
    return []  # service object-groups are not part of this language yet


def _protocol_number(name: str) -> int:
    return PROTOCOLS[name] if name in PROTOCOLS else int(name)


def _icmp_number(name: str | None) -> int | None:
    if name is None:
        return None
    return ICMP_TYPES[name] if name in ICMP_TYPES else int(name)


def compile_ace(config: RunningConfig, ace: Ace, acl: str, line: int) -> Rule:
    """One ACE as a rule; object references are expanded into several selectors."""
    protocol = _protocol_number(ace.protocol)
    sources = _address_ranges(config, ace.source)
    destinations = _address_ranges(config, ace.destination) if ace.destination else [ALL_ADDRESSES]
    has_ports = ace.protocol in PORTS
    sports = _port_ranges(ace.protocol, ace.source_port) if has_ports else [ALL_PORTS]
    dports = _port_ranges(ace.protocol, ace.destination_port) if has_ports else [ALL_PORTS]
    icmp = _icmp_number(ace.icmp_type)
    if ace.destination is None:  # a standard ACE matches (IPv4) destinations only
        sources = [ALL_ADDRESSES]
        destinations = [r for r in _address_ranges(config, ace.source) if not r.is_ipv6]
    elif ace.source.kind == "any" and ace.destination.kind == "any":
        sources = destinations = [ALL_ADDRESSES]  # ``any any``: IPv4 only (D113)
    # one family per selector: ``any`` takes the other side's, other mixtures match nothing
    selectors = tuple(
        Selector(protocol, s, d, sp, dp, icmp)
        for s in sources
        for d in destinations
        if s.is_ipv6 == d.is_ipv6
        for sp in sports
        for dp in dports
    )
    return Rule(ace.action, selectors, acl, line, ace_text(ace))


def compile_acl(config: RunningConfig, acl: AccessList) -> Acl:
    """Active ACEs with their ASA line numbers (remarks and inactive lines keep counting)."""
    rules = [
        compile_ace(config, entry, acl.name, line)
        for line, entry in enumerate(acl.entries, start=1)
        if not isinstance(entry, Remark) and not entry.inactive
    ]
    return Acl(acl.name, tuple(rules))


# --------------------------------------------------------------------------- crypto maps


def _map_entry(
    config: RunningConfig,
    acls: dict[str, Acl],
    map_name: str,
    seq: int,
    entry: CryptoMapEntry,
    kind: str,
    dynamic: tuple[str, int] | None = None,
) -> MapEntry:
    ipsec = config.ipsec
    transform_sets = tuple(
        TransformSet(ts.name, ts.encryption, ts.integrity, ts.mode)
        for name in entry.ikev1_transform_sets
        if (ts := ipsec.transform_sets.get(name)) is not None
    )
    proposals = tuple(
        IpsecProposal(p.name, tuple(p.encryption), tuple(p.integrity))
        for name in entry.ikev2_proposals
        if (p := ipsec.proposals.get(name)) is not None and p.encryption
    )
    kilobytes = entry.lifetime_kilobytes
    if kilobytes is None:
        kilobytes = ipsec.lifetime_kilobytes
    acl = acls.get(entry.match_address) if entry.match_address else None
    incomplete = None
    if kind == STATIC:
        missing = [what for what, ok in (("match address", acl), ("peer", entry.peers)) if not ok]
        if missing:
            incomplete = "no " + " and no ".join(missing)
    return MapEntry(
        map=map_name,
        seq=seq,
        kind=kind,
        dynamic_map=dynamic[0] if dynamic else None,
        dynamic_seq=dynamic[1] if dynamic else None,
        acl=acl,
        peers=tuple(entry.peers),
        transform_sets=transform_sets,
        proposals=proposals,
        pfs_group=entry.pfs_group,
        lifetime_seconds=entry.lifetime_seconds or ipsec.lifetime_seconds,
        lifetime_kilobytes=None if kilobytes == "unlimited" else int(kilobytes),
        ikev2_mode=entry.ikev2_mode,
        reverse_route=entry.reverse_route,
        ikev1_phase1_mode=entry.ikev1_phase1_mode,
        incomplete=incomplete,
        df_bit=entry.df_bit or "copy-df",
        validate_icmp_errors=entry.validate_icmp_errors,
        tfc=_tfc(entry.tfc_packets) if entry.tfc_packets is not None else None,
    )


def _tfc(tfc: TfcPackets) -> Tfc:
    def value(v: int | str) -> int | None:
        return None if v == "auto" else int(v)

    return Tfc(value(tfc.burst), value(tfc.payload_size), value(tfc.timeout))


def compile_crypto_map(
    config: RunningConfig, acls: dict[str, Acl], name: str, interface: str | None
) -> CryptoMapSet:
    """Static entries by seq, then the entries of the dynamic maps they reference."""
    statics: list[MapEntry] = []
    dynamics: list[MapEntry] = []
    for seq, entry in sorted(config.crypto_maps.get(name, {}).items()):
        if entry.dynamic_map is None:
            statics.append(_map_entry(config, acls, name, seq, entry, STATIC))
            continue
        for dseq, dentry in sorted(config.dynamic_maps.get(entry.dynamic_map, {}).items()):
            dynamics.append(
                _map_entry(config, acls, name, seq, dentry, DYNAMIC, (entry.dynamic_map, dseq))
            )
    return CryptoMapSet(name, interface, tuple(statics + dynamics))


# --------------------------------------------------------------------------- IKE and groups


def _psk(secret: Secret | None) -> PreSharedKey | None:
    if secret is None or secret.encoding == "8":
        return None  # an encrypted key needs the ASA's master passphrase
    if secret.encoding == "hex":
        return PreSharedKey(bytes.fromhex(secret.value.removeprefix("0x")))
    return PreSharedKey(secret.value.encode())


def _tunnel_groups(config: RunningConfig) -> dict[str, TunnelGroup]:
    out = {}
    for name, tg in config.tunnel_groups.items():
        a = tg.ipsec
        out[name] = TunnelGroup(
            name=name,
            type=tg.type,
            ikev1_psk=_psk(a.ikev1_pre_shared_key),
            ikev1_trust_point=a.ikev1_trust_point,
            ikev2_local_psk=_psk(a.ikev2_local_pre_shared_key),
            ikev2_local_certificate=a.ikev2_local_certificate,
            ikev2_remote_psk=_psk(a.ikev2_remote_pre_shared_key),
            ikev2_remote_certificate=a.ikev2_remote_certificate,
            peer_id_validate=a.peer_id_validate,
            keepalive=(
                (a.keepalive.threshold_seconds, a.keepalive.retry_seconds)
                if a.keepalive.enabled
                else None
            ),
        )
    return out


def _tunnel_group_map(config: RunningConfig) -> TunnelGroupMap:
    tgm = config.tunnel_group_map
    maps = {
        name: tuple(
            (
                seq,
                tuple(
                    CertificateRule(r.field_name, r.attribute, r.operator, r.value) for r in rules
                ),
            )
            for seq, rules in sorted(entries.items())
        )
        for name, entries in config.certificate_maps.items()
    }
    rules = tuple((m, i, g) for (m, i), g in sorted(tgm.rules.items(), key=lambda kv: kv[0][1]))
    return TunnelGroupMap(tuple(tgm.enabled), tgm.default_group, rules, maps)


def compile_config(
    config: RunningConfig, credentials: Credentials = NO_CREDENTIALS
) -> GatewayPolicy:
    """The whole configuration as policy values; ``credentials``: the trustpoints' keys and
    certificates (``pki.loading.credentials_for``), which live outside the configuration."""
    acls = {name: compile_acl(config, acl) for name, acl in config.access_lists.items()}
    interfaces = {
        i.nameif: InterfaceAddress(
            i.nameif,
            ipv4_int(i.ip_address) if i.ip_address else None,
            ipv4_int(i.netmask) if i.netmask else None,
            ipv6_int(i.ipv6_address) if i.ipv6_address else None,
            i.ipv6_prefix_length if i.ipv6_address else None,
        )
        for i in config.interfaces.values()
        if i.nameif is not None and not i.shutdown
    }
    routes = tuple(
        StaticRoute(
            r.interface, ipv4_int(r.network), ipv4_int(r.mask), ipv4_int(r.gateway), r.distance
        )
        for r in config.routes
    )
    ipv6_routes = tuple(
        StaticRoute6(
            r.interface, ipv6_int(r.network), r.prefix_length, ipv6_int(r.gateway), r.distance
        )
        for r in config.ipv6_routes
    )
    bound = {
        ifname: compile_crypto_map(config, acls, name, ifname)
        for ifname, name in config.crypto_map_interfaces.items()
    }
    unbound = {
        name: compile_crypto_map(config, acls, name, None)
        for name in config.crypto_maps
        if name not in config.crypto_map_interfaces.values()
    }
    ipsec = config.ipsec
    return GatewayPolicy(
        hostname=config.hostname,
        domain_name=config.domain_name,
        interfaces=interfaces,
        routes=routes,
        ipv6_routes=ipv6_routes,
        crypto_maps=bound,
        unbound_maps=unbound,
        ikev1_policies=tuple(
            Ikev1Policy(
                p.priority, p.authentication, p.encryption, p.hash, p.group, p.lifetime_seconds
            )
            for p in config.ikev1_policies.values()
        ),
        ikev2_policies=tuple(
            Ikev2Policy(
                p.priority,
                tuple(p.encryption),
                tuple(p.integrity),
                tuple(p.prf),
                tuple(p.group),
                p.lifetime_seconds,
            )
            for p in config.ikev2_policies.values()
        ),
        ikev1_enabled=frozenset(config.isakmp.ikev1_enabled),
        ikev2_enabled=frozenset(config.isakmp.ikev2_enabled),
        ikev1_aggressive_mode=not config.isakmp.ikev1_am_disable,
        identity=config.isakmp.identity,
        identity_key_id=config.isakmp.identity_key_id,
        nat_traversal=config.isakmp.nat_traversal,
        ikev2_fragmentation=config.isakmp.ikev2_fragmentation,
        ikev2_notify_invalid_selectors=config.isakmp.ikev2_notify_invalid_selectors,
        ikev2_fragmentation_mtu=config.isakmp.ikev2_fragmentation_mtu,
        tunnel_groups=_tunnel_groups(config),
        tunnel_group_map=_tunnel_group_map(config),
        ipsec_lifetime_seconds=ipsec.lifetime_seconds,
        ipsec_lifetime_kilobytes=(
            None if ipsec.lifetime_kilobytes == "unlimited" else int(ipsec.lifetime_kilobytes)
        ),
        nat_keepalive_seconds=config.isakmp.nat_keepalive_seconds,
        permit_vpn=config.sysopt_permit_vpn,
        access_groups_in={
            g.interface: acls[g.acl]
            for g in config.access_groups
            if g.direction == "in" and g.acl in acls
        },
        fragmentation=ipsec.fragmentation,
        fragmentation_interfaces=dict(ipsec.fragmentation_interfaces),
        pmtu_aging_minutes=ipsec.pmtu_aging_minutes,
        inner_routing_lookup=ipsec.inner_routing_lookup,
        credentials=credentials,
    )


__all__ = ["compile_ace", "compile_acl", "compile_config", "compile_crypto_map"]
