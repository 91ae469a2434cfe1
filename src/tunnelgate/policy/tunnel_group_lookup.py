"""Which tunnel group a connecting peer belongs to.

- Pre-shared key, IKEv1 main mode: the group named after the peer's address (the identity
  is encrypted and the key is needed before it arrives).
- Pre-shared key, IKEv1 aggressive mode and IKEv2: the group named after the IKE identity
  (address, FQDN or key-id), then the one named after the peer's address.
- Certificates: ``tunnel-group-map`` in the spec's order — rules (certificate maps), ou,
  ike-id, peer-ip (each when enabled), then the ``default-group``.
- Finally ``DefaultL2LGroup``.

The group found must be able to authenticate the peer that way (a key for this IKE
version; for IKEv2 certificates ``ikev2 remote-authentication certificate``), or the
answer is AUTHENTICATION_FAILED: a group once found is not skipped for the next one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tunnelgate.policy.gateway import DEFAULT_L2L_GROUP, GatewayPolicy
from tunnelgate.policy.ike import CertificateRule, TunnelGroup, TunnelGroupMap
from tunnelgate.policy.refusal import AUTHENTICATION_FAILED, Refusal

DEFAULT_RA_GROUP = "DefaultRAGroup"
BUILTIN_GROUPS = {DEFAULT_L2L_GROUP: "ipsec-l2l", DEFAULT_RA_GROUP: "remote-access"}

# ``tunnel-group-map enable`` policies in the order they are tried, and the ASA's default
MAP_POLICIES = ("rules", "ou", "ike-id", "peer-ip")
DEFAULT_MAP_ENABLED = ("ou", "ike-id", "peer-ip")

# How a group was found (for logs)
BY_PEER_ADDRESS = "peer-address"
BY_IKE_ID = "ike-id"
BY_CERTIFICATE_MAP = "certificate-map"
BY_OU = "ou"
BY_DEFAULT_GROUP = "default-group"
BY_DEFAULT_L2L = "default-l2l"

PSK, CERT = "psk", "cert"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """The parts of a peer certificate group matching reads: DNs as (attribute, value)
    pairs in certificate order, attribute names lower-case (``cn``, ``ou``, ``o``)."""

    subject: tuple[tuple[str, str], ...]
    issuer: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, subject: str, issuer: str = "") -> CertificateInfo:
        """From DN text ``cn=peer,ou=Sales,o=Example`` (no escaped commas)."""
        return cls(_parse_dn(subject), _parse_dn(issuer))

    def dn(self, field_name: str) -> tuple[tuple[str, str], ...]:
        return self.subject if field_name == "subject-name" else self.issuer


def _parse_dn(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for part in text.split(","):
        if part.strip():
            attribute, _, value = part.partition("=")
            out.append((attribute.strip().lower(), value.strip()))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class TunnelGroupMatch:
    group: TunnelGroup
    how: str  # one of the BY_* names
    detail: str  # what matched, for the log line


# --------------------------------------------------------------------------- certificate maps

# ``crypto ca certificate map`` operators; values compare case-insensitively
OPERATORS: dict[str, Callable[[Sequence[str], str], bool]] = {
    "eq": lambda values, wanted: any(v == wanted for v in values),
    "ne": lambda values, wanted: not any(v == wanted for v in values),
    "co": lambda values, wanted: any(wanted in v for v in values),
    "nc": lambda values, wanted: not any(wanted in v for v in values),
}


# certificate map attribute names that mean the same DN attribute (stateOrProvinceName is
# ``sp`` in the ASA's rule syntax, ``st`` in certificates as shown)
ATTRIBUTE_ALIASES = {"sp": "st"}


def rule_holds(rule: CertificateRule, certificate: CertificateInfo) -> bool:
    """One rule line. With ``attr``, the values of that attribute (a DN can repeat one: any
    value may satisfy eq/co, none may for ne/nc); without, the whole DN as ``a=v,b=w``."""
    dn = certificate.dn(rule.field_name)
    if rule.attribute is None:
        values = [",".join(f"{a}={v}" for a, v in dn)]
    else:
        wanted = ATTRIBUTE_ALIASES.get(rule.attribute.lower(), rule.attribute.lower())
        values = [v for a, v in dn if ATTRIBUTE_ALIASES.get(a, a) == wanted]
    return OPERATORS[rule.operator]([v.lower() for v in values], rule.value.lower())


def entry_matches(rules: Sequence[CertificateRule], certificate: CertificateInfo) -> bool:
    """All rules of one certificate map entry hold (AND); an entry without rules matches
    nothing."""
    return bool(rules) and all(rule_holds(r, certificate) for r in rules)


def _map_entry(tg_map: TunnelGroupMap, name: str, index: int) -> Sequence[CertificateRule]:
    for seq, rules in tg_map.certificate_maps.get(name, ()):
        if seq == index:
            return rules
    return ()


# --------------------------------------------------------------------------- lookup


def _group(gateway: GatewayPolicy, name: str | None) -> TunnelGroup | None:
    """A configured group, or a built-in one with its defaults."""
    if name is None:
        return None
    if name in gateway.tunnel_groups:
        return gateway.tunnel_groups[name]
    try:
        canonical = str(ipaddress.ip_address(name))
    except ValueError:
        canonical = name
    if canonical in gateway.tunnel_groups:
        return gateway.tunnel_groups[canonical]
    if name in BUILTIN_GROUPS:
        return TunnelGroup(name, BUILTIN_GROUPS[name])
    return None


def _identity_name(ike_id: str | None) -> str | None:
    """The group name an IKE identity denotes: an address, an FQDN, a key-id; a DN none."""
    if ike_id is None or "=" in ike_id:
        return None
    return ike_id


@dataclass(frozen=True, slots=True)
class _Request:
    gateway: GatewayPolicy
    peer_address: str
    ike_id: str | None
    certificate: CertificateInfo | None


_Step = Callable[[_Request], TunnelGroupMatch | None]


def _by_peer_address(request: _Request) -> TunnelGroupMatch | None:
    group = _group(request.gateway, request.peer_address)
    if group is None:
        return None
    return TunnelGroupMatch(group, BY_PEER_ADDRESS, f"peer address {request.peer_address}")


def _by_ike_id(request: _Request) -> TunnelGroupMatch | None:
    group = _group(request.gateway, _identity_name(request.ike_id))
    if group is None:
        return None
    return TunnelGroupMatch(group, BY_IKE_ID, f"IKE identity {request.ike_id}")


def _by_rules(request: _Request) -> TunnelGroupMatch | None:
    tg_map = request.gateway.tunnel_group_map
    if tg_map is None or request.certificate is None:
        return None
    for name, index, group_name in tg_map.rules:
        if entry_matches(_map_entry(tg_map, name, index), request.certificate):
            group = _group(request.gateway, group_name)
            if group is not None:
                return TunnelGroupMatch(
                    group, BY_CERTIFICATE_MAP, f"tunnel-group-map {name} {index} {group_name}"
                )
    return None


def _by_ou(request: _Request) -> TunnelGroupMatch | None:
    if request.certificate is None:
        return None
    ou = next((v for a, v in request.certificate.subject if a == "ou"), None)
    group = _group(request.gateway, ou)
    if group is None:
        return None
    return TunnelGroupMatch(group, BY_OU, f"subject OU {ou}")


_CERTIFICATE_POLICIES: dict[str, _Step] = {
    "rules": _by_rules,
    "ou": _by_ou,
    "ike-id": _by_ike_id,
    "peer-ip": _by_peer_address,
}


def _by_default_group(request: _Request) -> TunnelGroupMatch | None:
    tg_map = request.gateway.tunnel_group_map
    name = tg_map.default_group if tg_map is not None else None
    group = _group(request.gateway, name)
    if group is None:
        return None
    return TunnelGroupMatch(group, BY_DEFAULT_GROUP, f"tunnel-group-map default-group {name}")


def _by_default_l2l(request: _Request) -> TunnelGroupMatch | None:
    group = _group(request.gateway, DEFAULT_L2L_GROUP)
    assert group is not None
    return TunnelGroupMatch(group, BY_DEFAULT_L2L, "no other group matched")


def _steps(gateway: GatewayPolicy, version: int, auth: str, aggressive: bool) -> list[_Step]:
    if auth == CERT:
        tg_map = gateway.tunnel_group_map
        enabled = tg_map.enabled if tg_map is not None else DEFAULT_MAP_ENABLED
        steps = [_CERTIFICATE_POLICIES[p] for p in MAP_POLICIES if p in enabled]
        return [*steps, _by_default_group, _by_default_l2l]
    if version == 1 and not aggressive:
        return [_by_peer_address, _by_default_l2l]
    return [_by_ike_id, _by_peer_address, _by_default_l2l]


def _cannot_authenticate(group: TunnelGroup, version: int, auth: str) -> str | None:
    if auth == PSK and version == 1 and group.ikev1_psk is None:
        return "has no ikev1 pre-shared-key"
    if auth == PSK and version == 2 and group.ikev2_remote_psk is None:
        return "has no ikev2 remote-authentication pre-shared-key"
    if auth == CERT and version == 2 and not group.ikev2_remote_certificate:
        return "does not accept ikev2 remote-authentication certificate"
    return None


def find_tunnel_group(
    gateway: GatewayPolicy,
    *,
    peer_address: str,
    version: int,
    auth: str,
    aggressive: bool = False,
    ike_id: str | None = None,
    certificate: CertificateInfo | None = None,
) -> TunnelGroupMatch | Refusal:
    """The tunnel group of a connecting peer and how it was found."""
    if version not in (1, 2) or auth not in (PSK, CERT) or (aggressive and version != 1):
        raise ValueError(f"version {version}, auth {auth!r}, aggressive {aggressive}")
    request = _Request(gateway, peer_address, ike_id, certificate)
    for step in _steps(gateway, version, auth, aggressive):
        match = step(request)
        if match is None:
            continue
        problem = _cannot_authenticate(match.group, version, auth)
        if problem is not None:
            return Refusal(
                AUTHENTICATION_FAILED,
                f"tunnel-group {match.group.name} (found by {match.how}: {match.detail}) {problem}",
            )
        return match
    raise AssertionError("the DefaultL2LGroup step always matches")


__all__ = [
    "BUILTIN_GROUPS",
    "BY_CERTIFICATE_MAP",
    "BY_DEFAULT_GROUP",
    "BY_DEFAULT_L2L",
    "BY_IKE_ID",
    "BY_OU",
    "BY_PEER_ADDRESS",
    "CERT",
    "DEFAULT_MAP_ENABLED",
    "DEFAULT_RA_GROUP",
    "MAP_POLICIES",
    "OPERATORS",
    "PSK",
    "CertificateInfo",
    "TunnelGroupMatch",
    "entry_matches",
    "find_tunnel_group",
    "rule_holds",
]
