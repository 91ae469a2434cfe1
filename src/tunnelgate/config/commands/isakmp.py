"""IKE policies (``crypto ikev1|ikev2 policy``) and the global ISAKMP/IKE commands."""

from __future__ import annotations

from tunnelgate.config import keywords as kw
from tunnelgate.config.checks import check
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import Ikev1Policy, Ikev2Policy, RunningConfig
from tunnelgate.config.model.isakmp import IsakmpSettings
from tunnelgate.config.modes import CONFIG, IKEV1_POLICY, IKEV2_POLICY
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
MAX_POLICIES = 20
LIFETIME = "<120-2147483647>"
WELL_KNOWN_TCP = {80: "HTTP", 443: "HTTPS"}
_DEFAULTS = IsakmpSettings()
_alt = kw.alternatives

# --------------------------------------------------------------------------- policies


def _policies(ctx: CommandContext, version: int) -> dict[int, Ikev1Policy] | dict[int, Ikev2Policy]:
    return ctx.config.ikev1_policies if version == 1 else ctx.config.ikev2_policies


def _enter_policy(ctx: CommandContext, args: Args, version: int) -> None:
    priority: int = args["priority"]
    policies = _policies(ctx, version)
    if priority not in policies:
        if len(policies) >= MAX_POLICIES:
            raise CommandError(
                f"IKEv{version} supports at most {MAX_POLICIES} policies; "
                f"remove one before adding policy {priority}",
                "priority",
            )
        if version == 1:
            ctx.config.ikev1_policies[priority] = Ikev1Policy(priority)
        else:
            ctx.config.ikev2_policies[priority] = Ikev2Policy(priority)
        _sort(ctx.config)
    ctx.enter(IKEV1_POLICY if version == 1 else IKEV2_POLICY, priority)


def _sort(config: RunningConfig) -> None:
    config.ikev1_policies = dict(sorted(config.ikev1_policies.items()))
    config.ikev2_policies = dict(sorted(config.ikev2_policies.items()))


def _remove_policy(ctx: CommandContext, args: Args, version: int) -> None:
    priority: int = args["priority"]
    policies = _policies(ctx, version)
    if priority not in policies:
        raise CommandError(f"IKEv{version} policy {priority} does not exist", "priority")
    del policies[priority]


@COMMANDS.command(
    CONFIG,
    "crypto ikev1 policy <1-65535>$priority",
    help="Configure an IKEv1 policy",
    crypto="Configure IPsec, ISAKMP, …",
    ikev1="Configure IKEv1",
    policy="Set IKE policy",
)
def ikev1_policy(ctx: CommandContext, args: Args) -> None:
    _enter_policy(ctx, args, 1)


@COMMANDS.command(
    CONFIG,
    "crypto ikev2 policy <1-65535>$priority",
    help="Configure an IKEv2 policy",
    ikev2="Configure IKEv2",
)
def ikev2_policy(ctx: CommandContext, args: Args) -> None:
    _enter_policy(ctx, args, 2)


@COMMANDS.command(CONFIG, "no crypto ikev1 policy <1-65535>$priority")
def no_ikev1_policy(ctx: CommandContext, args: Args) -> None:
    _remove_policy(ctx, args, 1)


@COMMANDS.command(CONFIG, "no crypto ikev2 policy <1-65535>$priority")
def no_ikev2_policy(ctx: CommandContext, args: Args) -> None:
    _remove_policy(ctx, args, 2)


def _v1(ctx: CommandContext) -> Ikev1Policy:
    policy = ctx.config.ikev1_policies.get(ctx.key)
    if policy is None:
        raise CommandError(f"IKEv1 policy {ctx.key} no longer exists")
    return policy


def _v2(ctx: CommandContext) -> Ikev2Policy:
    policy = ctx.config.ikev2_policies.get(ctx.key)
    if policy is None:
        raise CommandError(f"IKEv2 policy {ctx.key} no longer exists")
    return policy


@COMMANDS.command(
    IKEV1_POLICY,
    f"authentication {_alt(kw.IKEV1_AUTHENTICATION)}$value",
    authentication="Set authentication method",
)
def v1_authentication(ctx: CommandContext, args: Args) -> None:
    _v1(ctx).authentication = args["value"]


@COMMANDS.command(
    IKEV1_POLICY,
    f"encryption {_alt(kw.IKEV1_ENCRYPTION)}$value",
    encryption="Set encryption algorithm",
)
def v1_encryption(ctx: CommandContext, args: Args) -> None:
    _v1(ctx).encryption = args["value"]


@COMMANDS.command(IKEV1_POLICY, f"hash {_alt(kw.IKEV1_HASH)}$value", hash="Set hash algorithm")
def v1_hash(ctx: CommandContext, args: Args) -> None:
    _v1(ctx).hash = args["value"]


@COMMANDS.command(
    IKEV1_POLICY, f"group {_alt(kw.IKEV1_GROUPS)}$value", group="Set the Diffie-Hellman group"
)
def v1_group(ctx: CommandContext, args: Args) -> None:
    _v1(ctx).group = int(args["value"])


@COMMANDS.command(IKEV1_POLICY, f"lifetime {LIFETIME}$value", lifetime="Set lifetime (seconds)")
def v1_lifetime(ctx: CommandContext, args: Args) -> None:
    _v1(ctx).lifetime_seconds = args["value"]


@COMMANDS.command(
    IKEV1_POLICY,
    "no {authentication [WORD]|encryption [WORD]|hash [WORD]|group [WORD]|lifetime [WORD]}$what",
)
def v1_reset(ctx: CommandContext, args: Args) -> None:
    policy = _v1(ctx)
    default = Ikev1Policy(policy.priority)
    attr = {"lifetime": "lifetime_seconds"}.get(args["what"], args["what"])
    setattr(policy, attr, getattr(default, attr))


_V2_LISTS = {
    "encryption": kw.IKEV2_ENCRYPTION,
    "integrity": kw.IKEV2_INTEGRITY,
    "prf": kw.IKEV2_PRF,
    "group": kw.IKEV2_GROUPS,
}


def _v2_values(args: Args, name: str) -> list[object]:
    values: list[str] = args["values"]
    converted: list[object] = [int(v) for v in values] if name == "group" else list(values)
    return kw.by_strength(converted, _V2_LISTS[name])


for _name, _words in _V2_LISTS.items():

    def _set_list(ctx: CommandContext, args: Args, name: str = _name) -> None:
        setattr(_v2(ctx), name, _v2_values(args, name))

    def _no_list(ctx: CommandContext, args: Args, name: str = _name) -> None:
        policy = _v2(ctx)
        current: list[object] = getattr(policy, name)
        if "values" in args:
            remove = set(_v2_values(args, name))
            kept = [v for v in current if v not in remove]
        else:
            kept = []
        setattr(policy, name, kept or getattr(Ikev2Policy(policy.priority), name))

    COMMANDS.command(IKEV2_POLICY, f"{_name} {_alt(_words)}$values...")(_set_list)
    COMMANDS.command(IKEV2_POLICY, f"no {_name} [{_alt(_words)}$values...]")(_no_list)


@COMMANDS.command(
    IKEV2_POLICY,
    f"lifetime seconds {LIFETIME}$value",
    lifetime="Set lifetime",
    seconds="Lifetime in seconds",
)
def v2_lifetime(ctx: CommandContext, args: Args) -> None:
    _v2(ctx).lifetime_seconds = args["value"]


@COMMANDS.command(IKEV2_POLICY, f"no lifetime [seconds [{LIFETIME}]]")
def v2_no_lifetime(ctx: CommandContext, args: Args) -> None:
    _v2(ctx).lifetime_seconds = Ikev2Policy(0).lifetime_seconds


# --------------------------------------------------------------------------- enable


def _enabled_list(ctx: CommandContext, version: str) -> list[str]:
    return (
        ctx.config.isakmp.ikev1_enabled if version == "ikev1" else ctx.config.isakmp.ikev2_enabled
    )


@COMMANDS.command(
    CONFIG, "crypto {ikev1|ikev2}$version enable WORD$ifname", enable="Enable IKE on an interface"
)
def enable(ctx: CommandContext, args: Args) -> None:
    enabled = _enabled_list(ctx, args["version"])
    if args["ifname"] not in enabled:
        enabled.append(args["ifname"])


@COMMANDS.command(CONFIG, "no crypto {ikev1|ikev2}$version enable WORD$ifname")
def no_enable(ctx: CommandContext, args: Args) -> None:
    enabled = _enabled_list(ctx, args["version"])
    if args["ifname"] not in enabled:
        raise CommandError(f"{args['version']} is not enabled on {args['ifname']}", "ifname")
    enabled.remove(args["ifname"])


# --------------------------------------------------------------------------- globals


def _flag(syntax: str, attr: str, help: str) -> None:
    """A global on/off command and its ``no`` form."""

    def on(ctx: CommandContext, args: Args) -> None:
        setattr(ctx.config.isakmp, attr, True)

    def off(ctx: CommandContext, args: Args) -> None:
        setattr(ctx.config.isakmp, attr, False)

    COMMANDS.command(CONFIG, syntax, help)(on)
    COMMANDS.command(CONFIG, f"no {syntax}")(off)


_flag("crypto ikev1 am-disable", "ikev1_am_disable", "Disable IKEv1 aggressive mode")
_flag(
    "crypto ikev2 notify invalid-selectors",
    "ikev2_notify_invalid_selectors",
    "Send INVALID_SELECTORS notifications",
)
_flag("crypto isakmp reload-wait", "reload_wait", "Wait for sessions to end before reloading")
_flag("crypto isakmp disconnect-notify", "disconnect_notify", "Notify peers before disconnecting")


@COMMANDS.command(
    CONFIG,
    "crypto isakmp identity {address|hostname|key-id WORD$key_id|auto}$kind",
    identity="Set the phase 1 identity",
)
def identity(ctx: CommandContext, args: Args) -> None:
    ctx.config.isakmp.identity = args["kind"]
    ctx.config.isakmp.identity_key_id = args.get("key_id")


@COMMANDS.command(CONFIG, "no crypto isakmp identity [{address|hostname|key-id WORD|auto}]")
def no_identity(ctx: CommandContext, args: Args) -> None:
    ctx.config.isakmp.identity = "auto"
    ctx.config.isakmp.identity_key_id = None


@COMMANDS.command(
    CONFIG,
    "crypto ikev2 fragmentation [mtu <68-1500>$mtu] [preferred-method {ietf|cisco}$method]",
    fragmentation="IKEv2 fragmentation",
)
def fragmentation(ctx: CommandContext, args: Args) -> None:
    isakmp = ctx.config.isakmp
    isakmp.ikev2_fragmentation = True
    if "mtu" in args:
        isakmp.ikev2_fragmentation_mtu = args["mtu"]
    if "method" in args:
        isakmp.ikev2_fragmentation_method = args["method"]


@COMMANDS.command(
    CONFIG,
    "no crypto ikev2 fragmentation [mtu <68-1500>$mtu] [preferred-method {ietf|cisco}$method]",
)
def no_fragmentation(ctx: CommandContext, args: Args) -> None:
    isakmp = ctx.config.isakmp
    if "mtu" not in args and "method" not in args:
        # Off: the MTU and method are reset too (the rendered ``no`` line cannot keep them),
        # as ``no crypto isakmp nat-traversal`` resets its keepalive.
        isakmp.ikev2_fragmentation = False
        isakmp.ikev2_fragmentation_mtu = None
        isakmp.ikev2_fragmentation_method = "ietf"
        return
    if "mtu" in args:
        isakmp.ikev2_fragmentation_mtu = None
    if "method" in args:
        isakmp.ikev2_fragmentation_method = "ietf"


@COMMANDS.command(
    CONFIG,
    "crypto isakmp nat-traversal [<10-3600>$seconds]",
    nat_traversal="Enable NAT traversal (keepalive seconds)",
)
def nat_traversal(ctx: CommandContext, args: Args) -> None:
    ctx.config.isakmp.nat_traversal = True
    ctx.config.isakmp.nat_keepalive_seconds = args.get("seconds", _DEFAULTS.nat_keepalive_seconds)


@COMMANDS.command(CONFIG, "no crypto isakmp nat-traversal [<10-3600>]")
def no_nat_traversal(ctx: CommandContext, args: Args) -> None:
    ctx.config.isakmp.nat_traversal = False
    ctx.config.isakmp.nat_keepalive_seconds = _DEFAULTS.nat_keepalive_seconds


@COMMANDS.command(
    CONFIG,
    "crypto ikev1 ipsec-over-tcp [port <1-65535>$ports...]",
    ipsec_over_tcp="IPsec over TCP (up to 10 ports)",
)
def ipsec_over_tcp(ctx: CommandContext, args: Args) -> None:
    ports: list[int] = list(dict.fromkeys(args.get("ports", [10000])))
    if len(ports) > 10:
        raise CommandError("at most 10 ports can be given for IPsec over TCP", "ports")
    for port in ports:
        if port in WELL_KNOWN_TCP:
            ctx.warn(
                f"port {port} is used by {WELL_KNOWN_TCP[port]}: {WELL_KNOWN_TCP[port]} "
                "management will no longer work on the public interface; move it to another port"
            )
    ctx.config.isakmp.ipsec_over_tcp = True
    ctx.config.isakmp.ipsec_over_tcp_ports = ports


@COMMANDS.command(CONFIG, "no crypto ikev1 ipsec-over-tcp [port <1-65535>...]")
def no_ipsec_over_tcp(ctx: CommandContext, args: Args) -> None:
    ctx.config.isakmp.ipsec_over_tcp = False
    ctx.config.isakmp.ipsec_over_tcp_ports = list(_DEFAULTS.ipsec_over_tcp_ports)


# --------------------------------------------------------------------------- render


def _join(values: list[object]) -> str:
    return " ".join(str(v) for v in values)


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """IKEv2 policies and settings, IKEv1 settings and policies, ``crypto isakmp`` lines."""
    isakmp = config.isakmp
    blocks: list[Block] = []
    if isakmp.identity != "auto" or options.all:
        suffix = f" {isakmp.identity_key_id}" if isakmp.identity == "key-id" else ""
        blocks.append(Block.of(f"crypto isakmp identity {isakmp.identity}{suffix}"))
    if not isakmp.nat_traversal:
        blocks.append(Block.of("no crypto isakmp nat-traversal"))
    elif isakmp.nat_keepalive_seconds != _DEFAULTS.nat_keepalive_seconds or options.all:
        blocks.append(Block.of(f"crypto isakmp nat-traversal {isakmp.nat_keepalive_seconds}"))
    if isakmp.reload_wait:
        blocks.append(Block.of("crypto isakmp reload-wait"))
    if isakmp.disconnect_notify:
        blocks.append(Block.of("crypto isakmp disconnect-notify"))
    for p2 in config.ikev2_policies.values():
        blocks.append(
            Block.of(
                f"crypto ikev2 policy {p2.priority}",
                f"encryption {_join(list(p2.encryption))}",
                f"integrity {_join(list(p2.integrity))}",
                f"group {_join(list(p2.group))}",
                f"prf {_join(list(p2.prf))}",
                f"lifetime seconds {p2.lifetime_seconds}",
            )
        )
    if isakmp.ikev2_notify_invalid_selectors:
        blocks.append(Block.of("crypto ikev2 notify invalid-selectors"))
    elif options.all:
        blocks.append(Block.of("no crypto ikev2 notify invalid-selectors"))
    if not isakmp.ikev2_fragmentation:
        blocks.append(Block.of("no crypto ikev2 fragmentation"))
    else:
        parts = []
        if isakmp.ikev2_fragmentation_mtu is not None or options.all:
            parts.append(f"mtu {isakmp.ikev2_fragmentation_mtu or 576}")
        if isakmp.ikev2_fragmentation_method != "ietf" or options.all:
            parts.append(f"preferred-method {isakmp.ikev2_fragmentation_method}")
        if parts:
            blocks.append(Block.of("crypto ikev2 fragmentation " + " ".join(parts)))
    blocks.extend(Block.of(f"crypto ikev2 enable {i}") for i in isakmp.ikev2_enabled)
    blocks.extend(Block.of(f"crypto ikev1 enable {i}") for i in isakmp.ikev1_enabled)
    if isakmp.ikev1_am_disable:
        blocks.append(Block.of("crypto ikev1 am-disable"))
    if isakmp.ipsec_over_tcp:
        blocks.append(
            Block.of(f"crypto ikev1 ipsec-over-tcp port {_join(list(isakmp.ipsec_over_tcp_ports))}")
        )
    for p1 in config.ikev1_policies.values():
        blocks.append(
            Block.of(
                f"crypto ikev1 policy {p1.priority}",
                f"authentication {p1.authentication}",
                f"encryption {p1.encryption}",
                f"hash {p1.hash}",
                f"group {p1.group}",
                f"lifetime {p1.lifetime_seconds}",
            )
        )
    return blocks


# --------------------------------------------------------------------------- checks


@check
def check_ikev2_null_integrity(config: RunningConfig) -> list[Diagnostic]:
    """IKEv2 integrity null is allowed only beside AES-GCM encryption."""
    out = []
    for policy in config.ikev2_policies.values():
        non_aead = [e for e in policy.encryption if e not in kw.IKEV2_AEAD]
        if non_aead and policy.integrity == ["null"]:
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    f"crypto ikev2 policy {policy.priority}: integrity null can be used only "
                    f"with AES-GCM encryption, but encryption includes {', '.join(non_aead)}",
                )
            )
    return out


@check
def check_ike_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """IKE enabled on a name that no interface carries."""
    out = []
    for version, names in (
        ("ikev1", config.isakmp.ikev1_enabled),
        ("ikev2", config.isakmp.ikev2_enabled),
    ):
        for name in names:
            if config.interfaces and not config.nameif_exists(name):
                out.append(
                    Diagnostic(
                        Severity.WARNING,
                        f"crypto {version} enable {name}: no interface has 'nameif {name}'",
                    )
                )
    return out
