"""Operational commands of a live gateway, as a grammar table (sans-IO).

| command                                                  | answer                          |
|----------------------------------------------------------|---------------------------------|
| ``show crypto ipsec sa [peer A | map M] [detail]``        | the ASA layout (``show_sa``)    |
| ``show crypto ikev2 sa [detail]``                         | the ASA layout                  |
| ``show crypto ikev1 sa [detail]``                         | the ASA layout                  |
| ``show crypto isakmp sa [detail]``                        | IKEv1, then IKEv2               |
| ``show tunnelgate counters``                              | drops and counters (JSON)       |
| ``show ipsec stats``, ``show crypto isakmp stats``        | the ASA layouts (``show_stats``)|
| ``show vpn-sessiondb [detail] l2l``                       | the ASA layout                  |
| ``clear crypto ipsec sa [peer A | map M]``                | child SAs torn down (Delete)    |
| ``clear crypto ipsec sa counters``                        | show counters start from zero   |
| ``clear crypto ikev2|ikev1|isakmp sa [A]``                | IKE SAs deleted with children   |

Words may be abbreviated to a unique prefix, as on the ASA (the same grammar engine as the
configuration language, so errors carry the ASA's caret). Other lines go to ``fallback`` (the
configuration shell). With ``as_json`` the show commands return values: the snapshot's SA
views (filtered as the command says), the statistics layouts' fields, the sessiondb blocks'
fields; the configuration shell's ``show`` commands return their lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from tunnelgate.cli.layout_json import layout_values
from tunnelgate.cli.show_sa import (
    show_crypto_ikev1_sa,
    show_crypto_ikev2_sa,
    show_crypto_ipsec_sa,
    show_crypto_isakmp_sa,
)
from tunnelgate.cli.show_stats import (
    show_crypto_isakmp_stats,
    show_ipsec_stats,
    show_vpn_sessiondb_l2l,
    vpn_sessiondb_l2l_values,
)
from tunnelgate.config.grammar import Args, Candidate, CommandSpec, Match, ModeGrammar
from tunnelgate.daemon import view_json
from tunnelgate.gateway.snapshot import ChildSaView, GatewaySnapshot, IkeSaView

INVALID = "ERROR: % Invalid input detected at '^' marker.\n"


@dataclass(frozen=True, slots=True)
class Answer:
    ok: bool
    output: str
    prompt: str = ""


class Operations(Protocol):
    """What the commands need from the running gateway."""

    def snapshot(self, *, child_sas: bool = True, ike_sas: bool = True) -> GatewaySnapshot:
        """The gateway now; ``child_sas``/``ike_sas`` False: that part left empty (cheaper)."""
        ...

    def clear_ipsec(self, peer: str | None, map_name: str | None) -> int: ...
    def clear_ike(self, peer: str | None, version: int | None = None) -> int: ...
    def clear_counters(self) -> None: ...

    io_counters: Callable[[], dict[str, int]]  # the I/O shell's (``PacketIo.counters``)


Action = Callable[[Operations, Args, bool], Answer]


def _dump(value: object) -> str:
    """One line of JSON (``--json`` answers are for programs)."""
    return json.dumps(value, separators=(",", ":")) + "\n"


def _dump_views(views: Sequence[object]) -> str:
    """Snapshot views as one line of JSON (``view_json``: fast at 20,000 SAs)."""
    return view_json.dumps(views) + "\n"


def _selected_child_sas(snap: GatewaySnapshot, args: Args) -> list[ChildSaView]:
    """The child SAs ``peer A`` / ``map M`` selects."""
    peer, map_name = args.get("peer"), args.get("map")
    return [
        sa
        for sa in snap.child_sas
        if (peer is None or sa.peer_address == peer)
        and (map_name is None or sa.map_name == map_name)
    ]


def _ike_sas(snap: GatewaySnapshot, version: int) -> list[IkeSaView]:
    return [sa for sa in snap.ike_sas if sa.ike_version == version]


def _show_ipsec(ops: Operations, args: Args, as_json: bool) -> Answer:
    snap = ops.snapshot(ike_sas=False)
    if as_json:
        return Answer(True, _dump_views(_selected_child_sas(snap, args)))
    text = show_crypto_ipsec_sa(
        snap, peer=args.get("peer"), map_name=args.get("map"), detail="detail" in args
    )
    return Answer(True, text)


def _show_ike(ops: Operations, args: Args, as_json: bool) -> Answer:
    snap = ops.snapshot(child_sas=False)
    if as_json:
        return Answer(True, _dump_views(_ike_sas(snap, 2)))
    return Answer(True, show_crypto_ikev2_sa(snap, detail="detail" in args))


def _show_ikev1(ops: Operations, args: Args, as_json: bool) -> Answer:
    snap = ops.snapshot(child_sas=False)
    if as_json:
        return Answer(True, _dump_views(_ike_sas(snap, 1)))
    return Answer(True, show_crypto_ikev1_sa(snap, detail="detail" in args))


def _show_isakmp(ops: Operations, args: Args, as_json: bool) -> Answer:
    snap = ops.snapshot(child_sas=False)
    if as_json:
        return Answer(True, _dump_views(snap.ike_sas))
    return Answer(True, show_crypto_isakmp_sa(snap, detail="detail" in args))


def _counters(ops: Operations, args: Args, as_json: bool) -> Answer:
    return _stats_json(ops)


def _ipsec_stats(ops: Operations, args: Args, as_json: bool) -> Answer:
    text = show_ipsec_stats(ops.snapshot())
    return Answer(True, _dump(layout_values(text)) if as_json else text)


def _isakmp_stats(ops: Operations, args: Args, as_json: bool) -> Answer:
    text = show_crypto_isakmp_stats(ops.snapshot())
    return Answer(True, _dump(layout_values(text)) if as_json else text)


def _sessiondb(ops: Operations, args: Args, as_json: bool) -> Answer:
    snap = ops.snapshot()
    if as_json:
        return Answer(True, _dump(vpn_sessiondb_l2l_values(snap, detail="detail" in args)))
    return Answer(True, show_vpn_sessiondb_l2l(snap, detail="detail" in args))


def _clear_ipsec(ops: Operations, args: Args, as_json: bool) -> Answer:
    ops.clear_ipsec(args.get("peer"), args.get("map"))
    return Answer(True, "")


def _clear_ike(ops: Operations, args: Args, as_json: bool) -> Answer:
    ops.clear_ike(args.get("peer"), 2)
    return Answer(True, "")


def _clear_ikev1(ops: Operations, args: Args, as_json: bool) -> Answer:
    ops.clear_ike(args.get("peer"), 1)
    return Answer(True, "")


def _clear_isakmp(ops: Operations, args: Args, as_json: bool) -> Answer:
    ops.clear_ike(args.get("peer"), None)
    return Answer(True, "")


def _clear_counters(ops: Operations, args: Args, as_json: bool) -> Answer:
    ops.clear_counters()
    return Answer(True, "")


def _stats_json(ops: Operations) -> Answer:
    snap = ops.snapshot(child_sas=False, ike_sas=False)  # drops and counters only
    data = {
        "drops": snap.drops,
        "counters": snap.counters,
        "ike": snap.ike_drops,
        "io": ops.io_counters(),
    }
    return Answer(True, json.dumps(data, indent=1, sort_keys=True) + "\n")


_SELECT = "[{peer A.B.C.D$peer|map WORD$map}]"
ROWS: tuple[tuple[str, Action, str], ...] = (
    (f"show crypto ipsec sa {_SELECT} [detail]$detail", _show_ipsec, "IPsec SAs"),
    ("show crypto ikev2 sa [detail]$detail", _show_ike, "IKEv2 SAs"),
    ("show crypto isakmp sa [detail]$detail", _show_isakmp, "IKE SAs"),
    ("show crypto ikev1 sa [detail]$detail", _show_ikev1, "IKEv1 SAs"),
    ("show tunnelgate counters", _counters, "Data-path drops and counters"),
    ("show ipsec stats", _ipsec_stats, "IPsec global statistics"),
    ("show crypto isakmp stats", _isakmp_stats, "IKE global statistics"),
    ("show vpn-sessiondb [detail]$detail l2l", _sessiondb, "LAN-to-LAN sessions"),
    (f"clear crypto ipsec sa {_SELECT}", _clear_ipsec, "Tear down IPsec SAs"),
    ("clear crypto ipsec sa counters", _clear_counters, "Reset the IPsec SA counters"),
    ("clear crypto ikev2 sa [A.B.C.D$peer]", _clear_ike, "Delete IKEv2 SAs"),
    ("clear crypto ikev1 sa [A.B.C.D$peer]", _clear_ikev1, "Delete IKEv1 SAs"),
    ("clear crypto isakmp sa [A.B.C.D$peer]", _clear_isakmp, "Delete IKEv1 and IKEv2 SAs"),
)


KEYWORD_HELP: tuple[tuple[str, str], ...] = (
    ("show", "Show running system information"),
    ("clear", "Reset functions"),
    ("crypto", "Crypto information"),
    ("ipsec", "IPsec security associations"),
    ("ikev2", "IKEv2 security associations"),
    ("isakmp", "IKE security associations"),
    ("ikev1", "IKEv1 security associations"),
    ("sa", "Security associations"),
    ("peer", "Only the SAs with this peer"),
    ("map", "Only the SAs of this crypto map"),
    ("detail", "Detailed counters"),
    ("tunnelgate", "tunnelgate's own information"),
    ("counters", "Data-path drops and counters (JSON)"),
    ("stats", "Global statistics"),
    ("vpn-sessiondb", "VPN session database"),
    ("l2l", "LAN-to-LAN sessions"),
)


@cache
def grammar() -> ModeGrammar:
    table = ModeGrammar("operations")
    for syntax, action, help_text in ROWS:
        table.add(CommandSpec(syntax, action, help_text, KEYWORD_HELP))
    return table


def candidates(line: str) -> list[Candidate]:
    """What may follow ``line`` among the operational commands (for ``?`` and Tab)."""
    return grammar().candidates(line)


def execute(
    line: str,
    ops: Operations,
    *,
    as_json: bool = False,
    fallback: Callable[[str], Answer] | None = None,
) -> Answer:
    """Answer one operator line: an operational command, else ``fallback``."""
    match = grammar().match(line)
    if isinstance(match, Match):
        action: Action = match.command.action
        return action(ops, match.args, as_json)
    if fallback is not None:
        answer = fallback(line)
        if as_json and answer.ok and line.split()[:1] and "show".startswith(line.split()[0]):
            # the configuration shell's show commands (running-config, keys, certificates)
            # answer text: programs get its lines
            lines = answer.output.splitlines()
            return Answer(True, _dump({"command": line.strip(), "lines": lines}), answer.prompt)
        return answer
    return Answer(False, INVALID)


__all__ = ["Answer", "Operations", "candidates", "execute", "grammar"]
