"""Static (``crypto map``) and dynamic (``crypto dynamic-map``) crypto map entries.

Both kinds share one command table: every ``set`` command exists for
``crypto {map|dynamic-map} NAME SEQ``; ``ipsec-isakmp dynamic`` and ``interface`` are
static only. Any command on an entry creates it, as on the ASA.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from tunnelgate.config import consequences
from tunnelgate.config import keywords as kw
from tunnelgate.config.checks import check
from tunnelgate.config.commands.table import CommandTable
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import AccessList, Ace, CryptoMapEntry, RunningConfig, TfcPackets
from tunnelgate.config.modes import CONFIG
from tunnelgate.config.render_types import Block, RenderOptions

COMMANDS = CommandTable()
STATIC = "map"
DYNAMIC = "dynamic-map"
ACL_NAME_MAX = 241
MAX_PEERS = 10
# The spec gives 11 transform sets for static maps but "transform-set-name9" for dynamic
# maps; both share one command, so 11 applies to both (recorded in docs/decisions.md).
MAX_TRANSFORM_SETS = 11
MAX_PROPOSALS = 11
IKEV2_MODES = ("tunnel", "transport", "transport-require")
DF_BIT = ("clear-df", "copy-df", "set-df")
LIFETIME_SECONDS = "<120-2147483647>"
LIFETIME_KILOBYTES = "<10-2147483647>"
_PFS_WORDS = tuple(f"group{g}" for g in sorted((*kw.PFS_GROUPS, 7)))
_ENTRY = "crypto {map|dynamic-map}$kind WORD$name <1-65535>$seq"
_TYPO_ENTRY = "crypto map dynamic-map WORD$name <1-65535>$seq"  # spec's df-bit typo
_STATIC_ENTRY = "crypto map WORD$name <1-65535>$seq"
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_alt = kw.alternatives
_IKEV1_REFUSED = " and ".join(f"group{g}" for g in kw.PFS_GROUPS_REFUSED_WITH_IKEV1)

# --------------------------------------------------------------------------- targets


def _maps(config: RunningConfig, kind: str) -> dict[str, dict[int, CryptoMapEntry]]:
    return config.crypto_maps if kind == STATIC else config.dynamic_maps


def _label(kind: str, name: str, seq: int | None = None) -> str:
    return f"crypto {kind} {name}" + ("" if seq is None else f" {seq}")


@dataclass(slots=True)
class _Target:
    """The entry a command addresses; created only by ``commit`` after validation."""

    config: RunningConfig
    kind: str
    name: str
    seq: int
    entry: CryptoMapEntry | None

    @property
    def label(self) -> str:
        return _label(self.kind, self.name, self.seq)

    def view(self) -> CryptoMapEntry:
        """The entry as it is now (a blank one if it does not exist yet), for validation."""
        return self.entry if self.entry is not None else CryptoMapEntry(self.seq)

    def commit(self) -> CryptoMapEntry:
        if self.entry is not None:
            return self.entry
        maps = _maps(self.config, self.kind)
        entries = maps.setdefault(self.name, {})
        in_order = not entries or self.seq > next(reversed(entries))
        entries[self.seq] = self.entry = CryptoMapEntry(self.seq)
        if not in_order:  # keep seq order; appending in order (the usual case) costs nothing
            maps[self.name] = dict(sorted(entries.items()))
        return self.entry


def _target(ctx: CommandContext, args: Args, kind: str | None = None) -> _Target:
    """The addressed entry; refuses names used by the other kind of map."""
    kind = kind or args["kind"]
    name: str = args["name"]
    other = DYNAMIC if kind == STATIC else STATIC
    if name in _maps(ctx.config, other):
        raise CommandError(
            f"{_label(other, name)} already exists: a static and a dynamic crypto map "
            "cannot share a name",
            "name",
        )
    entry = _maps(ctx.config, kind).get(name, {}).get(args["seq"])
    return _Target(ctx.config, kind, name, args["seq"], entry)


def _settable(ctx: CommandContext, args: Args, kind: str | None = None) -> _Target:
    """A target that may take ``match``/``set`` commands (not an ``ipsec-isakmp dynamic``)."""
    target = _target(ctx, args, kind)
    if target.entry is not None and target.entry.dynamic_map is not None:
        raise CommandError(
            f"{target.label} is an 'ipsec-isakmp dynamic {target.entry.dynamic_map}' entry and "
            "takes no other settings; configure the dynamic map instead",
            "seq",
        )
    return target


def _existing(ctx: CommandContext, args: Args, kind: str | None = None) -> CryptoMapEntry:
    target = _target(ctx, args, kind)
    if target.entry is None:
        raise CommandError(f"{target.label} does not exist", "seq")
    return target.entry


Setter = Callable[[CommandContext, Args, _Target], None]
Resetter = Callable[[CommandContext, Args, CryptoMapEntry], None]


def _entry_command(suffix: str, help: str = "", **keyword_help: str) -> Callable[[Setter], Setter]:
    """Register ``crypto {map|dynamic-map} NAME SEQ <suffix>`` for a settable entry."""

    def register(setter: Setter) -> Setter:
        def action(ctx: CommandContext, args: Args) -> None:
            setter(ctx, args, _settable(ctx, args))

        COMMANDS.command(CONFIG, f"{_ENTRY} {suffix}", help, **keyword_help)(action)
        return setter

    return register


def _no_entry_command(suffix: str) -> Callable[[Resetter], Resetter]:
    """Register ``no crypto {map|dynamic-map} NAME SEQ <suffix>`` for an existing entry."""

    def register(resetter: Resetter) -> Resetter:
        def action(ctx: CommandContext, args: Args) -> None:
            resetter(ctx, args, _existing(ctx, args))

        COMMANDS.command(CONFIG, f"no {_ENTRY} {suffix}")(action)
        return resetter

    return register


# --------------------------------------------------------------------------- match address


@_entry_command(
    "match address WORD$acl",
    help="Assign an ACL to a crypto map entry",
    crypto="Configure IPsec, ISAKMP, …",
    map="Configure a crypto map",
    dynamic_map="Configure a dynamic crypto map",
    match="Match values of a packet",
    address="Match the addresses of an access list",
)
def match_address(ctx: CommandContext, args: Args, target: _Target) -> None:
    acl: str = args["acl"]
    if len(acl) > ACL_NAME_MAX:
        raise CommandError(f"an access-list name has at most {ACL_NAME_MAX} characters", "acl")
    target.commit().match_address = acl


@_no_entry_command("match address [WORD$acl]")
def no_match_address(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    acl = args.get("acl")
    if acl is not None and acl != entry.match_address:
        raise CommandError(f"access-list {acl} is not the match address of this entry", "acl")
    entry.match_address = None


# --------------------------------------------------------------------------- peers


def _peer(token: str) -> str:
    """An IP address (canonical form: RFC 5952 for IPv6) or a host name."""
    try:
        address = ipaddress.ip_address(token)
    except ValueError:
        pass
    else:
        if "%" in token:  # fe80::1%eth0: a zone names a link of this host, not a peer
            raise CommandError(
                f"{token} is not a valid peer IP address or host name: a peer address has no "
                "zone index",
                "peers",
            )
        return str(address)
    if token.replace(".", "").isdigit() or not _HOSTNAME.fullmatch(token):
        raise CommandError(f"{token} is not a valid peer IP address or host name", "peers")
    return token


@_entry_command(
    "set peer WORD$peers...",
    set="Set values for the entry",
    peer="Set the IPsec peer(s), IP address or host name",
)
def set_peer(ctx: CommandContext, args: Args, target: _Target) -> None:
    peers = list(target.view().peers)
    for peer in (_peer(p) for p in args["peers"]):
        if peer not in peers:
            peers.append(peer)
    if len(peers) > MAX_PEERS:
        raise CommandError(
            f"{target.label}: a crypto map entry takes at most {MAX_PEERS} peers "
            f"({len(peers)} requested)",
            "peers",
        )
    target.commit().peers = peers


@_no_entry_command("set peer [WORD$peers...]")
def no_set_peer(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    if "peers" not in args:
        entry.peers = []
        return
    remove = [_peer(p) for p in args["peers"]]
    missing = [p for p in remove if p not in entry.peers]
    if missing:
        raise CommandError(f"{', '.join(missing)} is not a peer of this entry", "peers")
    entry.peers = [p for p in entry.peers if p not in remove]


# --------------------------------------------------------------------------- transforms


def _names(args: Args, limit: int, what: str) -> list[str]:
    names = list(dict.fromkeys(args["names"]))
    if len(names) > limit:
        raise CommandError(f"a crypto map entry takes at most {limit} {what}s", "names")
    return names


@_entry_command(
    "set ikev1 transform-set WORD$names...",
    ikev1="IKEv1 settings",
    transform_set="IKEv1 transform sets, highest priority first",
)
def set_transform_sets(ctx: CommandContext, args: Args, target: _Target) -> None:
    names = _names(args, MAX_TRANSFORM_SETS, "transform set")
    group = target.view().pfs_group
    if group in kw.PFS_GROUPS_REFUSED_WITH_IKEV1:
        raise CommandError(
            f"{target.label} uses set pfs group{group}, which cannot be used with IKEv1 "
            f"({_IKEV1_REFUSED}); change the PFS group before adding IKEv1 transform sets",
            "names",
        )
    target.commit().ikev1_transform_sets = names


@_no_entry_command("set ikev1 transform-set [WORD$names...]")
def no_set_transform_sets(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    remove = set(args.get("names", entry.ikev1_transform_sets))
    entry.ikev1_transform_sets = [t for t in entry.ikev1_transform_sets if t not in remove]


@_entry_command(
    "set ikev2 ipsec-proposal WORD$names...",
    ikev2="IKEv2 settings",
    ipsec_proposal="IKEv2 IPsec proposals, highest priority first",
)
def set_proposals(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().ikev2_proposals = _names(args, MAX_PROPOSALS, "ipsec-proposal")


@_no_entry_command("set ikev2 ipsec-proposal [WORD$names...]")
def no_set_proposals(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    remove = set(args.get("names", entry.ikev2_proposals))
    entry.ikev2_proposals = [p for p in entry.ikev2_proposals if p not in remove]
    if consequences.drop_tfc_without_proposals(entry):
        ctx.warn(f"{_label(args['kind'], args['name'], entry.seq)}: {consequences.TFC_REMOVED}")


# --------------------------------------------------------------------------- pfs


@_entry_command(f"set pfs [{_alt(_PFS_WORDS)}$group]", pfs="Perfect forward secrecy (DH group)")
def set_pfs(ctx: CommandContext, args: Args, target: _Target) -> None:
    word: str | None = args.get("group")
    group = int(word[len("group") :]) if word else kw.PFS_DEFAULT_GROUP
    if group not in kw.PFS_GROUPS:
        raise CommandError(
            f"group{group} is no longer supported; choose one of "
            f"{', '.join(f'group{g}' for g in kw.PFS_GROUPS)}",
            "group",
        )
    if group in kw.PFS_GROUPS_REFUSED_WITH_IKEV1 and target.view().ikev1_transform_sets:
        raise CommandError(
            f"{target.label} has IKEv1 transform sets, and PFS group{group} cannot be used "
            f"with IKEv1 ({_IKEV1_REFUSED})",
            "group",
        )
    entry = target.commit()
    entry.pfs_group = group
    entry.pfs_bare = word is None


@_no_entry_command(f"set pfs [{_alt(_PFS_WORDS)}]")
def no_set_pfs(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.pfs_group = None
    entry.pfs_bare = False


# --------------------------------------------------------------------------- simple settings


@_entry_command(
    "set reverse-route [dynamic$dynamic]",
    reverse_route="Reverse route injection",
    dynamic="Routes follow the IPsec SAs",
)
def set_reverse_route(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().reverse_route = "dynamic" if "dynamic" in args else "static"


@_no_entry_command("set reverse-route [dynamic]")
def no_set_reverse_route(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.reverse_route = None


_LIFETIME = (
    f"set security-association lifetime {{seconds {LIFETIME_SECONDS}$seconds"
    f"|kilobytes {{{LIFETIME_KILOBYTES}$kilobytes|unlimited$kilobytes}}}}"
)


@_entry_command(
    _LIFETIME,
    security_association="SA parameters",
    lifetime="SA lifetime",
    seconds="Lifetime in seconds",
    kilobytes="Lifetime in kilobytes",
    unlimited="No traffic-volume limit",
)
def set_lifetime(ctx: CommandContext, args: Args, target: _Target) -> None:
    entry = target.commit()
    if "seconds" in args:
        entry.lifetime_seconds = args["seconds"]
    else:
        entry.lifetime_kilobytes = args["kilobytes"]


@_no_entry_command(
    f"set security-association lifetime [{{seconds [{LIFETIME_SECONDS}]"
    f"|kilobytes [{{{LIFETIME_KILOBYTES}|unlimited}}]}}$what]"
)
def no_set_lifetime(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    what = args.get("what")
    if what in (None, "seconds"):
        entry.lifetime_seconds = None
    if what in (None, "kilobytes"):
        entry.lifetime_kilobytes = None


@_entry_command(
    f"set ikev2 mode {_alt(IKEV2_MODES)}$mode",
    transport="Transport mode, falling back to tunnel mode",
    tunnel="Tunnel mode (default)",
    transport_require="Transport mode only",
)
def set_ikev2_mode(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().ikev2_mode = args["mode"]


@_no_entry_command(f"set ikev2 mode [{_alt(IKEV2_MODES)}]")
def no_set_ikev2_mode(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.ikev2_mode = "tunnel"


@_entry_command(
    "set validate-icmp-errors", validate_icmp_errors="Validate incoming ICMP error messages"
)
def set_validate_icmp_errors(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().validate_icmp_errors = True


@_no_entry_command("set validate-icmp-errors")
def no_set_validate_icmp_errors(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.validate_icmp_errors = False


@_entry_command(
    "set ikev1 phase1-mode {main|aggressive}$mode",
    "Phase 1 mode for IKEv1 tunnels this entry initiates",
    phase1_mode="main (default) or aggressive",
)
def set_phase1_mode(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().ikev1_phase1_mode = args["mode"]


@_no_entry_command("set ikev1 phase1-mode [{main|aggressive}]")
def no_set_phase1_mode(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.ikev1_phase1_mode = "main"


@_entry_command("set nat-t-disable", nat_t_disable="Disable NAT-T for this entry")
def set_nat_t_disable(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().nat_t_disable = True


@_no_entry_command("set nat-t-disable")
def no_set_nat_t_disable(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.nat_t_disable = False


# df-bit also exists in the spec's typo form ``crypto map dynamic-map NAME SEQ set df-bit``.
_DF = f"set df-bit {_alt(DF_BIT)}$df"


@_entry_command(
    _DF,
    df_bit="Do-not-fragment policy",
    clear_df="Ignore the DF bit",
    copy_df="Keep the DF bit",
    set_df="Set the DF bit",
)
def set_df_bit(ctx: CommandContext, args: Args, target: _Target) -> None:
    target.commit().df_bit = args["df"]


@COMMANDS.command(CONFIG, f"{_TYPO_ENTRY} {_DF}")
def set_df_bit_typo(ctx: CommandContext, args: Args) -> None:
    set_df_bit(ctx, args, _settable(ctx, args, DYNAMIC))


@_no_entry_command(f"set df-bit [{_alt(DF_BIT)}]")
def no_set_df_bit(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.df_bit = None


@COMMANDS.command(CONFIG, f"no {_TYPO_ENTRY} set df-bit [{_alt(DF_BIT)}]")
def no_set_df_bit_typo(ctx: CommandContext, args: Args) -> None:
    no_set_df_bit(ctx, args, _existing(ctx, args, DYNAMIC))


_TFC_VALUES = (
    "[burst {<1-16>$burst|auto$burst}] [payload-size {<64-1024>$payload_size|auto$payload_size}]"
    " [timeout {<10-60>$timeout|auto$timeout}]"
)


@_entry_command(
    f"set tfc-packets {_TFC_VALUES}",
    tfc_packets="Send dummy Traffic Flow Confidentiality packets",
    burst="Burst length in packets",
    payload_size="Payload size in bytes",
    timeout="Timeout in seconds",
    auto="Chosen by the system",
)
def set_tfc_packets(ctx: CommandContext, args: Args, target: _Target) -> None:
    if not target.view().ikev2_proposals:
        raise CommandError(
            f"{target.label} has no IKEv2 ipsec-proposal: set one before enabling TFC packets"
        )
    target.commit().tfc_packets = TfcPackets(
        args.get("burst", "auto"), args.get("payload_size", "auto"), args.get("timeout", "auto")
    )


@_no_entry_command(f"set tfc-packets {_TFC_VALUES}")
def no_set_tfc_packets(ctx: CommandContext, args: Args, entry: CryptoMapEntry) -> None:
    entry.tfc_packets = None


# --------------------------------------------------------------------------- static only


@COMMANDS.command(
    CONFIG,
    f"{_STATIC_ENTRY} ipsec-isakmp dynamic WORD$dynmap",
    ipsec_isakmp="Use IKE to establish the SAs",
    help="Add a dynamic crypto map set to a crypto map set",
)
def ipsec_isakmp_dynamic(ctx: CommandContext, args: Args) -> None:
    target = _target(ctx, args, STATIC)
    dynmap: str = args["dynmap"]
    if dynmap in ctx.config.crypto_maps:
        raise CommandError(f"{dynmap} is a static crypto map, not a dynamic-map", "dynmap")
    if target.entry is not None and target.entry != CryptoMapEntry(
        target.seq, dynamic_map=target.entry.dynamic_map
    ):
        raise CommandError(
            f"{target.label} already has its own settings; remove it "
            f"('no {target.label}') before making it an ipsec-isakmp dynamic entry",
            "seq",
        )
    target.commit().dynamic_map = dynmap


@COMMANDS.command(CONFIG, f"no {_STATIC_ENTRY} ipsec-isakmp dynamic [WORD$dynmap]")
def no_ipsec_isakmp_dynamic(ctx: CommandContext, args: Args) -> None:
    entry = _existing(ctx, args, STATIC)
    dynmap = args.get("dynmap")
    if entry.dynamic_map is None or dynmap not in (None, entry.dynamic_map):
        target = f"ipsec-isakmp dynamic {dynmap}" if dynmap else "ipsec-isakmp dynamic"
        raise CommandError(
            f"{_label(STATIC, args['name'], args['seq'])} is not an '{target}' entry",
            "dynmap" if dynmap else "seq",
        )
    _remove_entry(ctx, STATIC, args["name"], args["seq"])


@COMMANDS.command(
    CONFIG,
    "crypto map WORD$name interface WORD$ifname",
    interface="Apply the crypto map set to an interface",
)
def apply_interface(ctx: CommandContext, args: Args) -> None:
    name: str = args["name"]
    ifname: str = args["ifname"]
    if name not in ctx.config.crypto_maps:
        problem = "is a dynamic-map" if name in ctx.config.dynamic_maps else "has no entries"
        raise CommandError(
            f"crypto map {name} {problem}: only a defined static crypto map set can be "
            "applied to an interface",
            "name",
        )
    previous = ctx.config.crypto_map_interfaces.get(ifname)
    if previous is not None and previous != name:
        ctx.info(f"crypto map {previous} replaced by {name} on interface {ifname}")
    ctx.config.crypto_map_interfaces[ifname] = name


@COMMANDS.command(CONFIG, "no crypto map WORD$name interface WORD$ifname")
def no_apply_interface(ctx: CommandContext, args: Args) -> None:
    if ctx.config.crypto_map_interfaces.get(args["ifname"]) != args["name"]:
        raise CommandError(
            f"crypto map {args['name']} is not applied to interface {args['ifname']}", "ifname"
        )
    del ctx.config.crypto_map_interfaces[args["ifname"]]


# --------------------------------------------------------------------------- removal


def _unbind(ctx: CommandContext, name: str) -> None:
    bindings = ctx.config.crypto_map_interfaces
    for ifname in [i for i, m in bindings.items() if m == name]:
        del bindings[ifname]
        ctx.warn(f"crypto map {name} has no entries left and is removed from interface {ifname}")


def _remove_entry(ctx: CommandContext, kind: str, name: str, seq: int) -> None:
    maps = _maps(ctx.config, kind)
    del maps[name][seq]
    if not maps[name]:
        del maps[name]
        if kind == STATIC:
            _unbind(ctx, name)


@COMMANDS.command(CONFIG, f"no {_ENTRY}")
def no_entry(ctx: CommandContext, args: Args) -> None:
    _existing(ctx, args)
    _remove_entry(ctx, args["kind"], args["name"], args["seq"])


@COMMANDS.command(CONFIG, "no crypto {map|dynamic-map}$kind WORD$name")
def no_map_set(ctx: CommandContext, args: Args) -> None:
    kind: str = args["kind"]
    name: str = args["name"]
    maps = _maps(ctx.config, kind)
    if name not in maps:
        raise CommandError(f"{_label(kind, name)} does not exist", "name")
    del maps[name]
    if kind == STATIC:
        _unbind(ctx, name)


# --------------------------------------------------------------------------- render


def _entry_lines(kind: str, name: str, e: CryptoMapEntry, options: RenderOptions) -> list[str]:
    """The lines of one entry in the order of a real ASA's ``show running-config``."""
    head = _label(kind, name, e.seq)
    if e.dynamic_map is not None:
        return [f"{head} ipsec-isakmp dynamic {e.dynamic_map}"]
    lines: list[str] = []
    if e.match_address is not None:
        lines.append(f"match address {e.match_address}")
    if e.pfs_group is not None:
        # A real ASA shows ``set pfs`` as typed, and ``set pfs group2`` with its group
        # (ntc-templates cisco_asa_show_running-config_crypto_map.raw: ``set pfs group2``).
        bare = e.pfs_bare and e.pfs_group == kw.PFS_DEFAULT_GROUP
        lines.append("set pfs" if bare else f"set pfs group{e.pfs_group}")
    if e.peers:
        lines.append(f"set peer {' '.join(e.peers)} ")  # a real ASA ends this line with a space
    if e.ikev1_phase1_mode != "main" or options.all:
        lines.append(f"set ikev1 phase1-mode {e.ikev1_phase1_mode}")
    if e.ikev1_transform_sets:
        lines.append(f"set ikev1 transform-set {' '.join(e.ikev1_transform_sets)}")
    if e.ikev2_proposals:
        lines.append(f"set ikev2 ipsec-proposal {' '.join(e.ikev2_proposals)}")
    if e.ikev2_mode != "tunnel" or options.all:
        lines.append(f"set ikev2 mode {e.ikev2_mode}")
    if e.lifetime_seconds is not None:
        lines.append(f"set security-association lifetime seconds {e.lifetime_seconds}")
    if e.lifetime_kilobytes is not None:
        lines.append(f"set security-association lifetime kilobytes {e.lifetime_kilobytes}")
    if e.reverse_route is not None:
        lines.append("set reverse-route" + (" dynamic" if e.reverse_route == "dynamic" else ""))
    if e.nat_t_disable:
        lines.append("set nat-t-disable")
    if e.df_bit is not None:
        lines.append(f"set df-bit {e.df_bit}")
    if e.validate_icmp_errors:
        lines.append("set validate-icmp-errors")
    if e.tfc_packets is not None:
        tfc = e.tfc_packets
        lines.append(
            f"set tfc-packets burst {tfc.burst} payload-size {tfc.payload_size} "
            f"timeout {tfc.timeout}"
        )
    out = [f"{head} {line}" for line in lines] or [f"{head} set ikev2 mode tunnel"]
    if e.tfc_packets is None and options.all:
        out.append(f"no {head} set tfc-packets")
    return out


def render(config: RunningConfig, options: RenderOptions) -> list[Block]:
    """Dynamic maps, then each static map's entries followed by its ``interface`` lines.

    One block per entry, so that ``all``'s ``no … set tfc-packets`` line stays with it.
    """
    blocks: list[Block] = []
    for kind in (DYNAMIC, STATIC):
        for name, entries in _maps(config, kind).items():
            blocks.extend(
                Block(tuple(_entry_lines(kind, name, e, options))) for e in entries.values()
            )
            if kind == STATIC:
                blocks.extend(
                    Block.of(f"crypto map {name} interface {ifname}")
                    for ifname, bound in config.crypto_map_interfaces.items()
                    if bound == name
                )
    return blocks


# --------------------------------------------------------------------------- checks


def _all_entries(config: RunningConfig) -> list[tuple[str, str, CryptoMapEntry]]:
    return [
        (kind, name, entry)
        for kind in (STATIC, DYNAMIC)
        for name, entries in _maps(config, kind).items()
        for entry in entries.values()
    ]


def _warning(message: str) -> Diagnostic:
    return Diagnostic(Severity.WARNING, message)


@check
def check_incomplete(config: RunningConfig) -> list[Diagnostic]:
    """Static entries need an ACL, a peer and transforms; dynamic ones need transforms."""
    out: list[Diagnostic] = []
    for kind, name, e in _all_entries(config):
        if e.dynamic_map is not None:
            continue
        missing = []
        if kind == STATIC and not e.peers:
            missing.append("no peer")
        if kind == STATIC and e.match_address is None:
            missing.append("no match address")
        if not e.ikev1_transform_sets and not e.ikev2_proposals:
            missing.append("no transform-set or ipsec-proposal")
        if missing:
            out.append(
                _warning(
                    f"{_label(kind, name, e.seq)} is incomplete ({', '.join(missing)}): "
                    "traffic reaching it is dropped"
                )
            )
    return out


@check
def check_references(config: RunningConfig) -> list[Diagnostic]:
    """ACLs, transform sets, proposals and dynamic maps named by entries must exist."""
    out: list[Diagnostic] = []
    for kind, name, e in _all_entries(config):
        label = _label(kind, name, e.seq)
        if e.match_address is not None and e.match_address not in config.access_lists:
            out.append(_warning(f"{label}: access-list {e.match_address} does not exist"))
        for ts in e.ikev1_transform_sets:
            if ts not in config.ipsec.transform_sets:
                out.append(_warning(f"{label}: ikev1 transform-set {ts} does not exist"))
        for p in e.ikev2_proposals:
            proposal = config.ipsec.proposals.get(p)
            if proposal is None:
                out.append(_warning(f"{label}: ikev2 ipsec-proposal {p} does not exist"))
            elif not proposal.encryption:
                out.append(_warning(f"{label}: ikev2 ipsec-proposal {p} has no encryption"))
        if e.dynamic_map is not None and e.dynamic_map not in config.dynamic_maps:
            out.append(_warning(f"{label}: crypto dynamic-map {e.dynamic_map} does not exist"))
    return out


@check
def check_dynamic_last(config: RunningConfig) -> list[Diagnostic]:
    """``ipsec-isakmp dynamic`` entries should be the lowest priority of their set."""
    out: list[Diagnostic] = []
    for name, entries in config.crypto_maps.items():
        dynamic_seq: int | None = None
        for e in entries.values():
            if e.dynamic_map is not None:
                dynamic_seq = dynamic_seq or e.seq
            elif dynamic_seq is not None:
                out.append(
                    _warning(
                        f"crypto map {name} {e.seq} follows the ipsec-isakmp dynamic entry "
                        f"{dynamic_seq}: give dynamic entries the highest sequence numbers"
                    )
                )
    return out


def _permits_any(acl: AccessList) -> bool:
    def is_any(spec: object) -> bool:
        kind = getattr(spec, "kind", None)
        if kind in ("any", "any4", "any6"):
            return True
        return kind == "subnet" and getattr(spec, "mask", None) in ("0.0.0.0", "0")  # ::/0

    return any(
        isinstance(ace, Ace)
        and ace.action == "permit"
        and not ace.inactive
        and (is_any(ace.source) or is_any(ace.destination))
        for ace in acl.entries
    )


@check
def check_reverse_route(config: RunningConfig) -> list[Diagnostic]:
    """Dynamic RRI is for IKEv2 static maps; RRI with an ``any`` ACL hijacks routes."""
    out: list[Diagnostic] = []
    for kind, name, e in _all_entries(config):
        if e.reverse_route is None:
            continue
        label = _label(kind, name, e.seq)
        if e.reverse_route == "dynamic" and kind == DYNAMIC:
            out.append(
                _warning(
                    f"{label}: set reverse-route dynamic applies to IKEv2 static crypto maps only"
                )
            )
        elif e.reverse_route == "dynamic" and e.ikev1_transform_sets and not e.ikev2_proposals:
            out.append(
                _warning(
                    f"{label}: set reverse-route dynamic applies to IKEv2 static crypto maps only, "
                    "and this entry has only IKEv1 transform sets"
                )
            )
        acl = config.access_lists.get(e.match_address or "")
        if acl is not None and _permits_any(acl):
            out.append(
                _warning(
                    f"{label}: reverse route injection with access-list {acl.name}, which permits "
                    "any address: the injected route affects traffic using the default route"
                )
            )
    return out


@check
def check_ikev2_peers(config: RunningConfig) -> list[Diagnostic]:
    """Several peers (site-to-site redundancy) is an IKEv1 feature."""
    return [
        _warning(
            f"{_label(kind, name, e.seq)}: several peers with IKEv2 proposals: peer redundancy "
            "is not supported with IKEv2 (only IKEv1 uses the backup peers)"
        )
        for kind, name, e in _all_entries(config)
        if len(e.peers) > 1 and e.ikev2_proposals
    ]


@check
def check_tfc_packets(config: RunningConfig) -> list[Diagnostic]:
    """TFC packets need an IKEv2 proposal (one may have been removed since)."""
    return [
        _warning(f"{_label(kind, name, e.seq)}: set tfc-packets needs an IKEv2 ipsec-proposal")
        for kind, name, e in _all_entries(config)
        if e.tfc_packets is not None and not e.ikev2_proposals
    ]


@check
def check_map_interfaces(config: RunningConfig) -> list[Diagnostic]:
    """A crypto map applied to a name that no interface carries."""
    if not config.interfaces:
        return []
    return [
        _warning(f"crypto map {name} interface {ifname}: no interface has 'nameif {ifname}'")
        for ifname, name in config.crypto_map_interfaces.items()
        if not config.nameif_exists(ifname)
    ]


def _is_ipv6_peer(peer: str) -> bool:
    return ":" in peer  # peers are kept canonical: a host name has no colon


@check
def check_ipv6_peers_have_an_ipv6_interface(config: RunningConfig) -> list[Diagnostic]:
    """A crypto map reaches an IPv6 peer from the IPv6 address of its interface (D114)."""
    out: list[Diagnostic] = []
    for ifname, name in config.crypto_map_interfaces.items():
        iface = next((i for i in config.interfaces.values() if i.nameif == ifname), None)
        if iface is None or iface.ipv6_address is not None:
            continue  # a missing nameif has its own warning
        for seq, entry in sorted(config.crypto_maps.get(name, {}).items()):
            labelled = [(_label(STATIC, name, seq), entry)]
            if entry.dynamic_map is not None:
                labelled = [
                    (f"{_label(DYNAMIC, entry.dynamic_map, dseq)} (crypto map {name} {seq})", d)
                    for dseq, d in sorted(config.dynamic_maps.get(entry.dynamic_map, {}).items())
                ]
            for label, e in labelled:
                out.extend(
                    _warning(
                        f"{label}: peer {peer} is IPv6 but interface {iface.hardware} "
                        f"(nameif {ifname}), where crypto map {name} is applied, has no "
                        "'ipv6 address': the tunnel cannot be set up"
                    )
                    for peer in e.peers
                    if _is_ipv6_peer(peer)
                )
    return out
