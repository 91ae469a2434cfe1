"""Tunnel groups (``tunnel-group``) and certificate-to-group mapping (``tunnel-group-map``).

Decisions where the spec is silent or ambiguous:

- ``hex`` pre-shared keys: an even number (2-256) of hexadecimal digits, with or without a
  ``0x`` prefix; they are kept as lower-case digits without the prefix, which is how they are
  rendered back. Plain keys are 1-128 characters; ``0`` means plain and is not kept.
- ``DefaultL2LGroup`` and ``DefaultRAGroup`` exist on every ASA: their attributes can be set
  without a ``type`` line, and they always satisfy "the tunnel group must already exist".
- ``tunnel-group-map`` lines are rendered after the tunnel groups, as a real ASA does; this
  also lets a saved configuration reload, since the groups they name must already exist.
- Local IKEv2 authentication is one method: setting the certificate replaces the key and
  the other way round. Remote authentication may allow both.
"""

from __future__ import annotations

import ipaddress
import string

from tunnelgate.config import keywords as kw
from tunnelgate.config.checks import check
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import (
    IpsecAttributes,
    Keepalive,
    RunningConfig,
    Secret,
    TunnelGroup,
    TunnelGroupMap,
)
from tunnelgate.config.modes import CONFIG, TUNNEL_GENERAL, TUNNEL_IPSEC
from tunnelgate.config.render_types import MASK, Block, RenderOptions

COMMANDS = CommandTable()

TYPES = ("ipsec-l2l", "remote-access")
BUILTIN_GROUPS = {"DefaultL2LGroup": "ipsec-l2l", "DefaultRAGroup": "remote-access"}
MAP_POLICIES = ("rules", "ou", "ike-id", "peer-ip")  # canonical (rendering) order
PEER_ID_VALIDATE = ("req", "cert", "nocheck")
DEFAULT_GROUP_POLICY = "DfltGrpPolicy"
MAX_NAME = 64
MAX_KEY = 128
NON_IP_L2L_WARNING = (
    "For IKEv1, L2L tunnel-groups that have names which are not an IP address may only be "
    "used if the tunnel authentication method is Digital Certificates and/or The peer is "
    "configured to use Aggressive Mode"
)
_DEFAULT_MAP = TunnelGroupMap()
_DEFAULT_KEEPALIVE = Keepalive()
_alt = kw.alternatives

# --------------------------------------------------------------------------- names


def _canonical(name: str) -> str:
    """An IP address in its canonical spelling; any other name as typed."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def group_exists(config: RunningConfig, name: str) -> bool:
    """Configured, or one of the ASA's built-in groups."""
    return name in config.tunnel_groups or name in BUILTIN_GROUPS


def _references(config: RunningConfig, name: str) -> list[str]:
    """The ``tunnel-group-map`` lines that name tunnel group ``name``."""
    tg_map = config.tunnel_group_map
    out = []
    if tg_map.default_group == name:
        out.append(f"tunnel-group-map default-group {name}")
    out.extend(f"tunnel-group-map {m} {i} {g}" for (m, i), g in tg_map.rules.items() if g == name)
    return out


# --------------------------------------------------------------------------- tunnel-group


@COMMANDS.command(
    CONFIG,
    f"tunnel-group WORD$name type {_alt(TYPES)}$type",
    help="Create a tunnel group",
    tunnel_group="Configure a connection profile",
    type="Type of the tunnel group",
    ipsec_l2l="IPsec LAN-to-LAN",
    remote_access="Remote access",
)
def tunnel_group_type(ctx: CommandContext, args: Args) -> None:
    name, kind = _canonical(args["name"]), args["type"]
    if len(name) > MAX_NAME:
        raise CommandError(f"a tunnel-group name is at most {MAX_NAME} characters", "name")
    builtin = BUILTIN_GROUPS.get(name)
    if builtin is not None and builtin != kind:
        raise CommandError(
            f"tunnel-group {name} is built in with type {builtin}; its type cannot be changed",
            "type",
        )
    existing = ctx.config.tunnel_groups.get(name)
    if existing is not None:
        if existing.type != kind:
            raise CommandError(
                f"tunnel-group {name} is of type {existing.type} and its type cannot be "
                f"changed; remove it first with 'no tunnel-group {name}'",
                "type",
            )
        return
    if kind == "ipsec-l2l" and builtin is None and not _is_ip(name):
        ctx.warn(NON_IP_L2L_WARNING)
    ctx.config.tunnel_groups[name] = TunnelGroup(name, kind)


@COMMANDS.command(CONFIG, "no tunnel-group WORD$name")
def no_tunnel_group(ctx: CommandContext, args: Args) -> None:
    name = _canonical(args["name"])
    if name not in ctx.config.tunnel_groups:
        if name in BUILTIN_GROUPS:
            return  # a built-in group without settings: nothing to reset
        raise CommandError(f"tunnel-group {name} does not exist", "name")
    if name not in BUILTIN_GROUPS and (refs := _references(ctx.config, name)):
        raise CommandError(
            f"tunnel-group {name} is in use by '{refs[0]}'; remove that line first", "name"
        )
    del ctx.config.tunnel_groups[name]


def _group(ctx: CommandContext, args: Args) -> TunnelGroup:
    """The group an attributes command names; built-in groups are created on first use."""
    name = _canonical(args["name"])
    group = ctx.config.tunnel_groups.get(name)
    if group is not None:
        return group
    if name in BUILTIN_GROUPS:
        group = TunnelGroup(name, BUILTIN_GROUPS[name])
        ctx.config.tunnel_groups[name] = group
        return group
    raise CommandError(
        f"tunnel-group {name} does not exist; create it first with "
        f"'tunnel-group {name} type {{ipsec-l2l|remote-access}}'",
        "name",
    )


@COMMANDS.command(
    CONFIG,
    "tunnel-group WORD$name general-attributes",
    general_attributes="Enter the general-attributes sub-mode",
)
def general_attributes(ctx: CommandContext, args: Args) -> None:
    ctx.enter(TUNNEL_GENERAL, _group(ctx, args).name)


@COMMANDS.command(
    CONFIG,
    "tunnel-group WORD$name ipsec-attributes",
    ipsec_attributes="Enter the ipsec-attributes sub-mode",
)
def ipsec_attributes(ctx: CommandContext, args: Args) -> None:
    ctx.enter(TUNNEL_IPSEC, _group(ctx, args).name)


@COMMANDS.command(CONFIG, "no tunnel-group WORD$name {general-attributes|ipsec-attributes}$which")
def no_attributes(ctx: CommandContext, args: Args) -> None:
    name = _canonical(args["name"])
    group = ctx.config.tunnel_groups.get(name)
    if group is None:
        if name in BUILTIN_GROUPS:
            return
        raise CommandError(f"tunnel-group {name} does not exist", "name")
    if args["which"] == "general-attributes":
        group.default_group_policy = None
    else:
        group.ipsec = IpsecAttributes()


def _current(ctx: CommandContext) -> TunnelGroup:
    group = ctx.config.tunnel_groups.get(ctx.key)
    if group is None:
        raise CommandError(f"tunnel-group {ctx.key} no longer exists")
    return group


# --------------------------------------------------------------------------- general-attributes


@COMMANDS.command(
    TUNNEL_GENERAL,
    "default-group-policy WORD$policy",
    default_group_policy="Set the default group policy",
)
def default_group_policy(ctx: CommandContext, args: Args) -> None:
    _current(ctx).default_group_policy = args["policy"]


@COMMANDS.command(TUNNEL_GENERAL, "no default-group-policy [WORD]")
def no_default_group_policy(ctx: CommandContext, args: Args) -> None:
    _current(ctx).default_group_policy = None


# --------------------------------------------------------------------------- keys


def _secret(ctx: CommandContext, args: Args) -> Secret:
    """Validate a pre-shared key; error messages never quote the key."""
    value: str = args["secret"]
    encoding = args.get("encoding")
    if encoding == "hex":
        digits = value[2:] if value[:2].lower() == "0x" else value
        if not digits or any(c not in string.hexdigits for c in digits):
            raise CommandError(
                "a hex pre-shared key must contain only hexadecimal digits", "secret"
            )
        if len(digits) % 2:
            raise CommandError(
                "a hex pre-shared key must have an even number of hexadecimal digits", "secret"
            )
        if len(digits) > 2 * MAX_KEY:
            raise CommandError(
                f"a hex pre-shared key is at most {2 * MAX_KEY} digits ({MAX_KEY} bytes)",
                "secret",
            )
        return Secret(digits.lower(), "hex")
    if encoding == "8":
        ctx.warn(
            "the pre-shared key is encrypted (8) but no master passphrase is configured: "
            "it is stored, but it cannot be decrypted and so cannot be used"
        )
        return Secret(value, "8")
    if len(value) > MAX_KEY:
        raise CommandError(
            f"a pre-shared key is 1 to {MAX_KEY} characters (this one has {len(value)})",
            "secret",
        )
    if value == MASK:
        ctx.warn(
            f"the pre-shared key is '{MASK}', the mask 'show running-config' prints: "
            "the real key was probably lost in a copy"
        )
    return Secret(value)


def _ipsec(ctx: CommandContext) -> IpsecAttributes:
    return _current(ctx).ipsec


_PSK = "pre-shared-key [{0|8|hex}$encoding] WORD$secret"


@COMMANDS.command(
    TUNNEL_IPSEC,
    "ikev1 pre-shared-key WORD$secret",
    ikev1="IKEv1 attributes",
    pre_shared_key="Pre-shared key",
)
def ikev1_psk(ctx: CommandContext, args: Args) -> None:
    secret = _secret(ctx, args)
    _ipsec(ctx).ikev1_pre_shared_key = secret


@COMMANDS.command(
    TUNNEL_IPSEC,
    f"ikev2 local-authentication {_PSK}",
    ikev2="IKEv2 attributes",
    local_authentication="Local authentication method",
    hex="The key in hexadecimal",
)
def ikev2_local_psk(ctx: CommandContext, args: Args) -> None:
    ipsec = _ipsec(ctx)
    secret = _secret(ctx, args)
    if ipsec.ikev2_local_certificate is not None:
        ctx.info(f"replaces ikev2 local-authentication certificate {ipsec.ikev2_local_certificate}")
        ipsec.ikev2_local_certificate = None
    ipsec.ikev2_local_pre_shared_key = secret


@COMMANDS.command(
    TUNNEL_IPSEC,
    f"ikev2 remote-authentication {_PSK}",
    remote_authentication="Remote authentication methods",
)
def ikev2_remote_psk(ctx: CommandContext, args: Args) -> None:
    ipsec = _ipsec(ctx)
    ipsec.ikev2_remote_pre_shared_key = _secret(ctx, args)


@COMMANDS.command(
    TUNNEL_IPSEC,
    "ikev2 local-authentication certificate WORD$trustpoint",
    certificate="Certificate authentication",
)
def ikev2_local_certificate(ctx: CommandContext, args: Args) -> None:
    ipsec = _ipsec(ctx)
    if ipsec.ikev2_local_pre_shared_key is not None:
        ctx.info("replaces ikev2 local-authentication pre-shared-key")
        ipsec.ikev2_local_pre_shared_key = None
    ipsec.ikev2_local_certificate = args["trustpoint"]


@COMMANDS.command(TUNNEL_IPSEC, "ikev2 remote-authentication certificate")
def ikev2_remote_certificate(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).ikev2_remote_certificate = True


@COMMANDS.command(
    TUNNEL_IPSEC,
    "ikev1 trust-point WORD$trustpoint",
    trust_point="Trustpoint for IKEv1 certificate authentication",
)
def ikev1_trust_point(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).ikev1_trust_point = args["trustpoint"]


@COMMANDS.command(
    TUNNEL_IPSEC,
    f"peer-id-validate {_alt(PEER_ID_VALIDATE)}$value",
    peer_id_validate="Validate the peer identity against its certificate",
)
def peer_id_validate(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).peer_id_validate = args["value"]


@COMMANDS.command(
    TUNNEL_IPSEC,
    "isakmp keepalive threshold <10-3600>$threshold retry <2-10>$retry",
    isakmp="ISAKMP attributes",
    keepalive="Dead peer detection",
    threshold="Seconds of idle before probing",
    retry="Seconds between probes",
)
def keepalive(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).keepalive = Keepalive(True, args["threshold"], args["retry"])


@COMMANDS.command(TUNNEL_IPSEC, "isakmp keepalive disable", disable="Disable keepalives")
def keepalive_disable(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).keepalive = Keepalive(enabled=False)


@COMMANDS.command(TUNNEL_IPSEC, "no ikev1 pre-shared-key [WORD]")
def no_ikev1_psk(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).ikev1_pre_shared_key = None


@COMMANDS.command(
    TUNNEL_IPSEC, "no ikev2 local-authentication [{pre-shared-key [LINE]|certificate [WORD]}$what]"
)
def no_ikev2_local(ctx: CommandContext, args: Args) -> None:
    ipsec, what = _ipsec(ctx), args.get("what")
    if what in (None, "pre-shared-key"):
        ipsec.ikev2_local_pre_shared_key = None
    if what in (None, "certificate"):
        ipsec.ikev2_local_certificate = None


@COMMANDS.command(
    TUNNEL_IPSEC, "no ikev2 remote-authentication [{pre-shared-key [LINE]|certificate}$what]"
)
def no_ikev2_remote(ctx: CommandContext, args: Args) -> None:
    ipsec, what = _ipsec(ctx), args.get("what")
    if what in (None, "pre-shared-key"):
        ipsec.ikev2_remote_pre_shared_key = None
    if what in (None, "certificate"):
        ipsec.ikev2_remote_certificate = False


@COMMANDS.command(TUNNEL_IPSEC, "no ikev1 trust-point [WORD]")
def no_ikev1_trust_point(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).ikev1_trust_point = None


@COMMANDS.command(TUNNEL_IPSEC, f"no peer-id-validate [{_alt(PEER_ID_VALIDATE)}]")
def no_peer_id_validate(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).peer_id_validate = "req"


@COMMANDS.command(TUNNEL_IPSEC, "no isakmp keepalive [LINE]")
def no_keepalive(ctx: CommandContext, args: Args) -> None:
    _ipsec(ctx).keepalive = Keepalive()


# --------------------------------------------------------------------------- tunnel-group-map

_POLICY = f"{_alt(MAP_POLICIES)}$policy"


def _set_policy(ctx: CommandContext, policy: str, enabled: bool) -> None:
    current = set(ctx.config.tunnel_group_map.enabled)
    if enabled:
        current.add(policy)
    else:
        current.discard(policy)
    ctx.config.tunnel_group_map.enabled = [p for p in MAP_POLICIES if p in current]


def _ignored_index(ctx: CommandContext, args: Args) -> None:
    if "index" in args:
        ctx.warn(
            f"the rule index {args['index']} has no effect on 'tunnel-group-map enable' "
            "and is not kept"
        )


@COMMANDS.command(
    CONFIG,
    f"tunnel-group-map [<1-65535>$index] enable {_POLICY}",
    help="Enable a policy for mapping certificates to tunnel groups",
    tunnel_group_map="Map certificate-based sessions to tunnel groups",
    rules="Use the certificate map associations",
    ou="Use the OU of the subject DN",
    ike_id="Use the phase 1 ISAKMP ID",
    peer_ip="Use the peer IP address",
)
def map_enable(ctx: CommandContext, args: Args) -> None:
    _ignored_index(ctx, args)
    _set_policy(ctx, args["policy"], True)


@COMMANDS.command(CONFIG, f"no tunnel-group-map [<1-65535>$index] enable {_POLICY}")
def map_disable(ctx: CommandContext, args: Args) -> None:
    _ignored_index(ctx, args)
    _set_policy(ctx, args["policy"], False)


@COMMANDS.command(
    CONFIG,
    "tunnel-group-map [<1-65535>$index] default-group WORD$group",
    help="Tunnel group for certificate sessions no policy maps",
    default_group="Tunnel group used when no policy finds one",
)
def map_default_group(ctx: CommandContext, args: Args) -> None:
    group = _canonical(args["group"])
    if not group_exists(ctx.config, group):
        raise CommandError(
            f"tunnel-group {group} does not exist; the default group must be an existing "
            "tunnel group",
            "group",
        )
    ctx.config.tunnel_group_map.default_group = group
    ctx.config.tunnel_group_map.default_group_rule_index = args.get("index")


@COMMANDS.command(CONFIG, "no tunnel-group-map [<1-65535>] default-group [WORD$group]")
def no_map_default_group(ctx: CommandContext, args: Args) -> None:
    tg_map = ctx.config.tunnel_group_map
    if "group" in args and _canonical(args["group"]) != tg_map.default_group:
        raise CommandError(f"{args['group']} is not the tunnel-group-map default group", "group")
    tg_map.default_group = None
    tg_map.default_group_rule_index = None


@COMMANDS.command(
    CONFIG,
    "tunnel-group-map WORD$map <1-65535>$index WORD$group",
    help="Associate a certificate map rule with a tunnel group",
)
def map_rule(ctx: CommandContext, args: Args) -> None:
    key = (args["map"], args["index"])
    group = _canonical(args["group"])
    if not group_exists(ctx.config, group):
        raise CommandError(f"tunnel-group {group} does not exist", "group")
    current = ctx.config.tunnel_group_map.rules.get(key)
    if current is not None and current != group:
        raise CommandError(
            f"certificate map {key[0]} index {key[1]} is already associated with tunnel-group "
            f"{current}; a map index can be referenced only once (remove it first with "
            f"'no tunnel-group-map {key[0]} {key[1]}')",
            "index",
        )
    ctx.config.tunnel_group_map.rules[key] = group


@COMMANDS.command(CONFIG, "no tunnel-group-map WORD$map <1-65535>$index [WORD$group]")
def no_map_rule(ctx: CommandContext, args: Args) -> None:
    key = (args["map"], args["index"])
    rules = ctx.config.tunnel_group_map.rules
    if key not in rules:
        raise CommandError(f"tunnel-group-map {key[0]} {key[1]} does not exist", "index")
    if "group" in args and _canonical(args["group"]) != rules[key]:
        raise CommandError(
            f"tunnel-group-map {key[0]} {key[1]} is associated with {rules[key]}", "group"
        )
    del rules[key]


# --------------------------------------------------------------------------- render


def _psk_line(prefix: str, secret: Secret, options: RenderOptions) -> str:
    if options.mask:
        return f"{prefix} pre-shared-key {MASK}"
    encoding = f"{secret.encoding} " if secret.encoding else ""
    return f"{prefix} pre-shared-key {encoding}{secret.value}"


def _ipsec_lines(ipsec: IpsecAttributes, options: RenderOptions) -> list[str]:
    """Sub-mode lines in a real ASA's order (see /work/research/asa-formats.md §4.2)."""
    lines: list[str] = []
    if ipsec.ikev1_pre_shared_key is not None:
        lines.append(_psk_line("ikev1", ipsec.ikev1_pre_shared_key, options))
    if ipsec.peer_id_validate != "req" or options.all:
        lines.append(f"peer-id-validate {ipsec.peer_id_validate}")
    if ipsec.ikev1_trust_point is not None:
        lines.append(f"ikev1 trust-point {ipsec.ikev1_trust_point}")
    elif options.all:
        lines.append("no ikev1 trust-point")
    ka = ipsec.keepalive
    if not ka.enabled:
        lines.append("isakmp keepalive disable")
    elif ka != _DEFAULT_KEEPALIVE or options.all:
        lines.append(f"isakmp keepalive threshold {ka.threshold_seconds} retry {ka.retry_seconds}")
    remote = "ikev2 remote-authentication"
    if ipsec.ikev2_remote_pre_shared_key is not None:
        lines.append(_psk_line(remote, ipsec.ikev2_remote_pre_shared_key, options))
    if ipsec.ikev2_remote_certificate:
        lines.append(f"{remote} certificate")
    if (
        options.all
        and ipsec.ikev2_remote_pre_shared_key is None
        and not (ipsec.ikev2_remote_certificate)
    ):
        lines.append(f"no {remote}")
    local = "ikev2 local-authentication"
    if ipsec.ikev2_local_pre_shared_key is not None:
        lines.append(_psk_line(local, ipsec.ikev2_local_pre_shared_key, options))
    elif ipsec.ikev2_local_certificate is not None:
        lines.append(f"{local} certificate {ipsec.ikev2_local_certificate}")
    elif options.all:
        lines.append(f"no {local}")
    return lines


def _group_blocks(group: TunnelGroup, options: RenderOptions) -> list[Block]:
    name = group.name
    general = []
    if group.default_group_policy is not None:
        general.append(f"default-group-policy {group.default_group_policy}")
    elif options.all:
        general.append(f"default-group-policy {DEFAULT_GROUP_POLICY}")
    ipsec = _ipsec_lines(group.ipsec, options)
    blocks = []
    # A built-in group has no type line on an ASA; keep one only when nothing else shows it.
    if name not in BUILTIN_GROUPS or not (general or ipsec):
        blocks.append(Block.of(f"tunnel-group {name} type {group.type}"))
    if general:
        blocks.append(Block.of(f"tunnel-group {name} general-attributes", *general))
    if ipsec:
        blocks.append(Block.of(f"tunnel-group {name} ipsec-attributes", *ipsec))
    return blocks


def _map_blocks(tg_map: TunnelGroupMap, options: RenderOptions) -> list[Block]:
    blocks = []
    for policy in MAP_POLICIES:
        enabled, default = policy in tg_map.enabled, policy in _DEFAULT_MAP.enabled
        if enabled and (not default or options.all):
            blocks.append(Block.of(f"tunnel-group-map enable {policy}"))
        elif not enabled and (default or options.all):
            blocks.append(Block.of(f"no tunnel-group-map enable {policy}"))
    if tg_map.default_group is not None:
        index = tg_map.default_group_rule_index
        prefix = f"tunnel-group-map {index} " if index is not None else "tunnel-group-map "
        blocks.append(Block.of(f"{prefix}default-group {tg_map.default_group}"))
    blocks.extend(
        Block.of(f"tunnel-group-map {m} {i} {g}") for (m, i), g in sorted(tg_map.rules.items())
    )
    return blocks


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Tunnel groups in creation order, then the ``tunnel-group-map`` lines."""
    blocks = [b for g in config.tunnel_groups.values() for b in _group_blocks(g, options)]
    return blocks + _map_blocks(config.tunnel_group_map, options)


# --------------------------------------------------------------------------- checks


def _warning(message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, message)


@check
def check_trustpoint_references(config: RunningConfig) -> list[Diagnostic]:
    """Certificate authentication naming a trustpoint that is not defined."""
    out = []
    for group in config.tunnel_groups.values():
        refs = (
            ("ikev1 trust-point", group.ipsec.ikev1_trust_point),
            ("ikev2 local-authentication certificate", group.ipsec.ikev2_local_certificate),
        )
        for what, name in refs:
            if name is not None and name not in config.trustpoints:
                out.append(
                    _warning(
                        f"tunnel-group {group.name} ipsec-attributes: {what} {name}: "
                        f"no 'crypto ca trustpoint {name}' is defined"
                    )
                )
    return out


def _has_authentication(ipsec: IpsecAttributes) -> bool:
    return any(
        (
            ipsec.ikev1_pre_shared_key,
            ipsec.ikev1_trust_point,
            ipsec.ikev2_local_pre_shared_key,
            ipsec.ikev2_local_certificate,
            ipsec.ikev2_remote_pre_shared_key,
            ipsec.ikev2_remote_certificate,
        )
    )


@check
def check_l2l_authentication(config: RunningConfig) -> list[Diagnostic]:
    """A LAN-to-LAN group that can authenticate no peer."""
    return [
        _warning(
            f"tunnel-group {group.name} (ipsec-l2l) has no authentication: configure a "
            "pre-shared key or a certificate in its ipsec-attributes"
        )
        for group in config.tunnel_groups.values()
        if group.type == "ipsec-l2l" and not _has_authentication(group.ipsec)
    ]


@check
def check_ikev2_psk_sides(config: RunningConfig) -> list[Diagnostic]:
    """An IKEv2 key for one direction while the other direction has no method at all."""
    out = []
    for group in config.tunnel_groups.values():
        ipsec = group.ipsec
        local = ipsec.ikev2_local_pre_shared_key or ipsec.ikev2_local_certificate
        remote = ipsec.ikev2_remote_pre_shared_key or ipsec.ikev2_remote_certificate
        if ipsec.ikev2_local_pre_shared_key is not None and not remote:
            out.append(
                _warning(
                    f"tunnel-group {group.name}: ikev2 local-authentication pre-shared-key is set "
                    "but remote-authentication is not: IKEv2 cannot authenticate the peer"
                )
            )
        if ipsec.ikev2_remote_pre_shared_key is not None and not local:
            out.append(
                _warning(
                    f"tunnel-group {group.name}: ikev2 remote-authentication pre-shared-key is set "
                    "but local-authentication is not: IKEv2 cannot authenticate this gateway"
                )
            )
    return out


@check
def check_map_rules(config: RunningConfig) -> list[Diagnostic]:
    """Associations with missing certificate map entries, or rules that are not enabled."""
    tg_map = config.tunnel_group_map
    out = []
    for (name, index), group in tg_map.rules.items():
        entries = config.certificate_maps.get(name)
        if entries is None:
            out.append(
                _warning(
                    f"tunnel-group-map {name} {index} {group}: "
                    f"certificate map {name} does not exist"
                )
            )
        elif index not in entries:
            out.append(
                _warning(
                    f"tunnel-group-map {name} {index} {group}: certificate map {name} has no "
                    f"entry {index}"
                )
            )
    if tg_map.rules and "rules" not in tg_map.enabled:
        out.append(
            _warning(
                "tunnel-group-map associations are configured but not used: "
                "enable them with 'tunnel-group-map enable rules'"
            )
        )
    return out
