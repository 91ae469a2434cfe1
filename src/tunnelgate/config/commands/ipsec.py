"""IKEv1 transform sets, IKEv2 IPsec proposals and the global ``crypto ipsec`` settings."""

from __future__ import annotations

from collections.abc import Iterable

from tunnelgate.config import consequences
from tunnelgate.config import keywords as kw
from tunnelgate.config.checks import check
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import IpsecProposal, RunningConfig, TransformSet
from tunnelgate.config.model.ipsec import IpsecSettings
from tunnelgate.config.modes import CONFIG, IPSEC_PROPOSAL
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
PROPOSAL_NAME_MAX = 64
LIFETIME_SECONDS = "<120-2147483647>"
LIFETIME_KILOBYTES = "<10-2147483647>"
PMTU_AGING = "<10-30>"
FRAGMENTATION = ("before-encryption", "after-encryption")
_DEFAULTS = IpsecSettings()
_alt = kw.alternatives
_V1_TRANSFORMS = _alt(kw.ESP_V1_ENCRYPTION + kw.ESP_V1_INTEGRITY)
_TS = "crypto ipsec ikev1 transform-set WORD$name"

# --------------------------------------------------------------------------- transform sets


def _split_transforms(values: list[str]) -> tuple[str, str | None]:
    """One encryption and at most one authentication, given in either order."""
    encryption = [v for v in values if v in kw.ESP_V1_ENCRYPTION]
    integrity = [v for v in values if v in kw.ESP_V1_INTEGRITY]
    if len(encryption) != 1 or len(integrity) > 1:
        raise CommandError(
            "a transform set takes exactly one encryption "
            f"({', '.join(kw.ESP_V1_ENCRYPTION)}) and at most one authentication "
            f"({', '.join(kw.ESP_V1_INTEGRITY)})",
            "transforms",
        )
    auth = integrity[0] if integrity else None
    if encryption[0] == "esp-null" and auth in (None, "esp-none"):
        raise CommandError(
            "esp-null needs an authentication (esp-md5-hmac or esp-sha-hmac): "
            "ESP with neither encryption nor integrity protects nothing (RFC 4303)",
            "transforms",
        )
    return encryption[0], auth


@COMMANDS.command(
    CONFIG,
    f"{_TS} {_V1_TRANSFORMS}$transforms... [mode transport$mode]",
    help="Define an IKEv1 transform set",
    ipsec="Configure transform-set, IPsec SA lifetime and PMTU aging reset timer",
    ikev1="Set IKEv1 settings",
    transform_set="Define transform and settings",
    transport="Transport mode encapsulation",
)
def transform_set(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    encryption, integrity = _split_transforms(args["transforms"])
    sets = ctx.config.ipsec.transform_sets
    existing = sets.get(name)
    mode = args.get("mode") or (existing.mode if existing else "tunnel")
    sets[name] = TransformSet(name, encryption, integrity, mode)


@COMMANDS.command(CONFIG, f"{_TS} mode transport")
def transform_set_mode(ctx: CommandContext, args: Args) -> None:
    existing = ctx.config.ipsec.transform_sets.get(args["name"])
    if existing is None:
        raise CommandError(
            f"transform-set {args['name']} does not exist; define its transforms first", "name"
        )
    existing.mode = "transport"


@COMMANDS.command(CONFIG, f"no {_TS} mode transport")
def no_transform_set_mode(ctx: CommandContext, args: Args) -> None:
    existing = ctx.config.ipsec.transform_sets.get(args["name"])
    if existing is None:
        raise CommandError(f"transform-set {args['name']} does not exist", "name")
    existing.mode = "tunnel"


@COMMANDS.command(CONFIG, f"no {_TS} [{_V1_TRANSFORMS}...]")
def no_transform_set(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if name not in ctx.config.ipsec.transform_sets:
        raise CommandError(f"transform-set {name} does not exist", "name")
    del ctx.config.ipsec.transform_sets[name]
    for message in consequences.transform_set_removed(ctx.config, name):
        ctx.warn(message)


# --------------------------------------------------------------------------- ipsec proposals

_PROPOSAL = "crypto ipsec ikev2 ipsec-proposal WORD$name"
_ESP_LISTS: dict[str, tuple[str, ...]] = {
    "encryption": kw.ESP_V2_ENCRYPTION,
    "integrity": kw.ESP_V2_INTEGRITY,
}


@COMMANDS.command(
    CONFIG,
    _PROPOSAL,
    help="Configure an IKEv2 IPsec proposal",
    ikev2="Set IKEv2 settings",
    ipsec_proposal="Configure an IPsec proposal",
)
def ipsec_proposal(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if len(name) > PROPOSAL_NAME_MAX:
        raise CommandError(
            f"an ipsec-proposal name has 1 to {PROPOSAL_NAME_MAX} characters", "name"
        )
    ctx.config.ipsec.proposals.setdefault(name, IpsecProposal(name))
    ctx.enter(IPSEC_PROPOSAL, name)


@COMMANDS.command(CONFIG, f"no {_PROPOSAL}")
def no_ipsec_proposal(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    if name not in ctx.config.ipsec.proposals:
        raise CommandError(f"ipsec-proposal {name} does not exist", "name")
    del ctx.config.ipsec.proposals[name]
    for message in consequences.proposal_removed(ctx.config, name):
        ctx.warn(message)


def _proposal(ctx: CommandContext) -> IpsecProposal:
    proposal = ctx.config.ipsec.proposals.get(ctx.key)
    if proposal is None:
        raise CommandError(f"ipsec-proposal {ctx.key} no longer exists")
    return proposal


def _ordered(values: Iterable[str], order: tuple[str, ...]) -> list[str]:
    return [str(v) for v in kw.by_strength(values, order)]


for _what, _words in _ESP_LISTS.items():

    def _set_list(ctx: CommandContext, args: Args, what: str = _what) -> None:
        setattr(_proposal(ctx), what, _ordered(args["values"], _ESP_LISTS[what]))

    def _no_list(ctx: CommandContext, args: Args, what: str = _what) -> None:
        proposal = _proposal(ctx)
        current: list[str] = getattr(proposal, what)
        remove = set(args.get("values", current))
        kept = [v for v in current if v not in remove]
        setattr(proposal, what, kept)
        if what == "encryption" and current and not kept:
            for message in consequences.proposal_removed(ctx.config, proposal.name):
                ctx.warn(message)

    COMMANDS.command(
        IPSEC_PROPOSAL,
        f"protocol esp {_what} {_alt(_words)}$values...",
        protocol="Select the protocol",
        esp="Encapsulating Security Payload",
        encryption="Encryption algorithms, most secure first",
        integrity="Integrity algorithms, most secure first",
    )(_set_list)
    COMMANDS.command(IPSEC_PROPOSAL, f"no protocol esp {_what} [{_alt(_words)}$values...]")(
        _no_list
    )

# --------------------------------------------------------------------------- global settings

_SA = "crypto ipsec security-association"


@COMMANDS.command(
    CONFIG,
    f"{_SA} lifetime "
    f"{{seconds {LIFETIME_SECONDS}$seconds"
    f"|kilobytes {{{LIFETIME_KILOBYTES}|unlimited}}$kilobytes}}",
    help="Set the global IPsec SA lifetimes",
    security_association="Configure the global IPsec SA parameters",
    lifetime="Set the SA lifetime",
    seconds="Lifetime in seconds",
    kilobytes="Lifetime in kilobytes",
)
def sa_lifetime(ctx: CommandContext, args: Args) -> None:
    if "seconds" in args:
        ctx.config.ipsec.lifetime_seconds = args["seconds"]
    else:
        ctx.config.ipsec.lifetime_kilobytes = args["kilobytes"]


@COMMANDS.command(
    CONFIG,
    f"no {_SA} lifetime "
    f"[{{seconds [{LIFETIME_SECONDS}]|kilobytes [{{{LIFETIME_KILOBYTES}|unlimited}}]}}$what]",
)
def no_sa_lifetime(ctx: CommandContext, args: Args) -> None:
    what = args.get("what")
    if what in (None, "seconds"):
        ctx.config.ipsec.lifetime_seconds = _DEFAULTS.lifetime_seconds
    if what in (None, "kilobytes"):
        ctx.config.ipsec.lifetime_kilobytes = _DEFAULTS.lifetime_kilobytes


@COMMANDS.command(
    CONFIG,
    f"{_SA} pmtu-aging {{infinite|{PMTU_AGING}$minutes}}",
    pmtu_aging="PMTU aging reset interval (minutes)",
    infinite="Never reset the PMTU",
)
def pmtu_aging(ctx: CommandContext, args: Args) -> None:
    ctx.config.ipsec.pmtu_aging_minutes = args.get("minutes")


@COMMANDS.command(CONFIG, f"no {_SA} pmtu-aging [{{infinite|{PMTU_AGING}}}]")
def no_pmtu_aging(ctx: CommandContext, args: Args) -> None:
    ctx.config.ipsec.pmtu_aging_minutes = _DEFAULTS.pmtu_aging_minutes


@COMMANDS.command(
    CONFIG,
    f"crypto ipsec fragmentation {_alt(FRAGMENTATION)}$policy [WORD$ifname]",
    fragmentation="Set the IPsec fragmentation policy",
    before_encryption="Fragment before encryption",
    after_encryption="Fragment after encryption",
)
def fragmentation(ctx: CommandContext, args: Args) -> None:
    ipsec = ctx.config.ipsec
    if "ifname" in args:
        ipsec.fragmentation_interfaces[args["ifname"]] = args["policy"]
    else:
        ipsec.fragmentation = args["policy"]


@COMMANDS.command(CONFIG, f"no crypto ipsec fragmentation {_alt(FRAGMENTATION)} [WORD$ifname]")
def no_fragmentation(ctx: CommandContext, args: Args) -> None:
    ipsec = ctx.config.ipsec
    if "ifname" not in args:
        ipsec.fragmentation = _DEFAULTS.fragmentation
        return
    if args["ifname"] not in ipsec.fragmentation_interfaces:
        raise CommandError(f"no fragmentation policy is set for {args['ifname']}", "ifname")
    del ipsec.fragmentation_interfaces[args["ifname"]]


def _inner_routing_lookup(value: bool) -> None:
    def action(ctx: CommandContext, args: Args) -> None:
        ctx.config.ipsec.inner_routing_lookup = value

    prefix = "" if value else "no "
    help = "Per-packet routing lookups for IPsec inner packets"
    for syntax in ("crypto ipsec inner-routing-lookup", "ipsec inner-routing-lookup"):
        COMMANDS.command(CONFIG, prefix + syntax, help, inner_routing_lookup=help)(action)


_inner_routing_lookup(True)
_inner_routing_lookup(False)

# --------------------------------------------------------------------------- render


def _transform_set_blocks(ts: TransformSet) -> list[Block]:
    transforms = ts.encryption + (f" {ts.integrity}" if ts.integrity else "")
    # A real ASA ends the transform line with a space; ntc-templates' parser relies on it.
    blocks = [Block.of(f"crypto ipsec ikev1 transform-set {ts.name} {transforms} ")]
    if ts.mode == "transport":
        blocks.append(Block.of(f"crypto ipsec ikev1 transform-set {ts.name} mode transport"))
    return blocks


def _proposal_block(proposal: IpsecProposal) -> Block:
    children = [
        f"protocol esp {what} {' '.join(values)}"
        for what, values in (("encryption", proposal.encryption), ("integrity", proposal.integrity))
        if values
    ]
    return Block.of(f"crypto ipsec ikev2 ipsec-proposal {proposal.name}", *children)


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Transform sets, proposals, then the global SA, fragmentation and routing lines.

    Defaults (lifetimes, ``pmtu-aging infinite``) appear only with ``all``, as in the
    spec's ``show run crypto ipsec`` example and the ASA 9.x lifetimes.
    """
    ipsec = config.ipsec
    blocks: list[Block] = []
    for ts in ipsec.transform_sets.values():
        blocks.extend(_transform_set_blocks(ts))
    blocks.extend(_proposal_block(p) for p in ipsec.proposals.values())
    if ipsec.lifetime_seconds != _DEFAULTS.lifetime_seconds or options.all:
        blocks.append(Block.of(f"{_SA} lifetime seconds {ipsec.lifetime_seconds}"))
    if ipsec.lifetime_kilobytes != _DEFAULTS.lifetime_kilobytes or options.all:
        blocks.append(Block.of(f"{_SA} lifetime kilobytes {ipsec.lifetime_kilobytes}"))
    aging = ipsec.pmtu_aging_minutes
    if aging is not None or options.all:
        blocks.append(Block.of(f"{_SA} pmtu-aging {'infinite' if aging is None else aging}"))
    if ipsec.fragmentation != _DEFAULTS.fragmentation or options.all:
        blocks.append(Block.of(f"crypto ipsec fragmentation {ipsec.fragmentation}"))
    blocks.extend(
        Block.of(f"crypto ipsec fragmentation {policy} {ifname}")
        for ifname, policy in ipsec.fragmentation_interfaces.items()
    )
    if ipsec.inner_routing_lookup:
        blocks.append(Block.of("crypto ipsec inner-routing-lookup"))
    elif options.all:
        # Kept inside the previous block so that ``show run all crypto ipsec`` shows it.
        last = blocks.pop()
        blocks.append(Block((*last.lines, "no crypto ipsec inner-routing-lookup")))
    return blocks


# --------------------------------------------------------------------------- checks


@check
def check_proposal_integrity(config: RunningConfig) -> list[Diagnostic]:
    """AES-GCM/GMAC demands null integrity; other encryptions demand a real one."""
    out: list[Diagnostic] = []
    for proposal in config.ipsec.proposals.values():
        if not proposal.encryption:
            continue
        label = f"crypto ipsec ikev2 ipsec-proposal {proposal.name}"
        non_aead = [e for e in proposal.encryption if e not in kw.ESP_V2_AEAD]
        real = [i for i in proposal.integrity if i != "null"]
        if not non_aead and real:
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{label}: AES-GCM/GMAC encryption requires integrity null, "
                    f"but integrity includes {', '.join(real)}",
                )
            )
        elif non_aead and proposal.integrity and not real:
            out.append(
                Diagnostic(
                    Severity.ERROR,
                    f"{label}: integrity null can be used only with AES-GCM/GMAC encryption, "
                    f"but encryption includes {', '.join(non_aead)}",
                )
            )
        elif non_aead and not proposal.integrity:
            out.append(
                Diagnostic(
                    Severity.WARNING,
                    f"{label}: encryption {', '.join(non_aead)} needs an integrity algorithm, "
                    "and none is configured: the proposal cannot be negotiated with it",
                )
            )
    return out


@check
def check_fragmentation_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """A per-interface fragmentation policy names an interface that does not exist."""
    if not config.interfaces:
        return []
    return [
        Diagnostic(
            Severity.WARNING,
            f"crypto ipsec fragmentation {policy} {ifname}: no interface has 'nameif {ifname}'",
        )
        for ifname, policy in config.ipsec.fragmentation_interfaces.items()
        if not config.nameif_exists(ifname)
    ]
