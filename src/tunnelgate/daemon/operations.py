"""What the control socket answers: ``show`` commands against a live gateway (sans-IO).

| command                                               | answer                          |
|-------------------------------------------------------|---------------------------------|
| ``show crypto ipsec sa [peer A | map M] [detail]``    | the ASA layout (``show_sa``)    |
| ``show crypto ikev2 sa [detail]``                     | the ASA layout                  |
| ``show crypto isakmp sa [detail]``                    | IKEv1 (none yet), then IKEv2    |
| ``show tunnelgate counters``                          | drops and counters (JSON)       |
| ``show running-config …`` and other shows             | the configuration shell         |

Words may be abbreviated to a unique prefix, as on the ASA. With ``json`` the SA commands
return the snapshot's values instead of the text layout.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass

from tunnelgate.cli.show_sa import show_crypto_ikev2_sa, show_crypto_ipsec_sa
from tunnelgate.gateway.snapshot import GatewaySnapshot

INVALID = "ERROR: % Invalid input detected at '^' marker.\n"
NO_IKEV1 = "There are no IKEv1 SAs\n"


@dataclass(frozen=True, slots=True)
class Answer:
    ok: bool
    output: str


def _expand(words: list[str], table: tuple[str, ...]) -> list[str] | None:
    """Match ``words`` against the fixed words of ``table``, unique prefixes allowed."""
    if len(words) < len(table):
        return None
    for word, want in zip(words, table, strict=False):
        if not want.startswith(word.lower()):
            return None
    return list(table) + words[len(table) :]


def _snapshot_json(snapshot: GatewaySnapshot, part: str) -> str:
    def encode(value: object) -> object:
        return value.hex() if isinstance(value, bytes) else str(value)

    data = dataclasses.asdict(snapshot)
    return json.dumps(data[part] if part else data, default=encode, indent=1) + "\n"


def _ipsec(snapshot: GatewaySnapshot, rest: list[str], as_json: bool) -> Answer:
    peer = map_name = None
    detail = False
    words = list(rest)
    while words:
        word = words.pop(0).lower()
        if "peer".startswith(word) and words:
            peer = words.pop(0)
        elif "map".startswith(word) and words:
            map_name = words.pop(0)
        elif "detail".startswith(word):
            detail = True
        else:
            return Answer(False, INVALID)
    if as_json:
        return Answer(True, _snapshot_json(snapshot, "child_sas"))
    return Answer(True, show_crypto_ipsec_sa(snapshot, peer=peer, map_name=map_name, detail=detail))


def _detail(rest: list[str]) -> bool | None:
    if not rest:
        return False
    if len(rest) == 1 and "detail".startswith(rest[0].lower()):
        return True
    return None


def execute(
    line: str,
    snapshot: Callable[[], GatewaySnapshot],
    *,
    as_json: bool = False,
    fallback: Callable[[str], Answer] | None = None,
) -> Answer:
    """Answer one operator command; ``fallback`` handles other ``show`` commands."""
    words = line.split()
    if not words or not "show".startswith(words[0].lower()) or len(words[0]) < 2:
        return Answer(False, INVALID)
    if (w := _expand(words, ("show", "crypto", "ipsec", "sa"))) is not None:
        return _ipsec(snapshot(), w[4:], as_json)
    tables: tuple[tuple[str, ...], ...] = (
        ("show", "crypto", "ikev2", "sa"),
        ("show", "crypto", "isakmp", "sa"),
    )
    for table in tables:
        if (w := _expand(words, table)) is not None:
            detail = _detail(w[4:])
            if detail is None:
                return Answer(False, INVALID)
            snap = snapshot()
            if as_json:
                return Answer(True, _snapshot_json(snap, "ike_sas"))
            text = show_crypto_ikev2_sa(snap, detail=detail)
            return Answer(True, (NO_IKEV1 + "\n" if table[2] == "isakmp" else "") + text)
    if _expand(words, ("show", "tunnelgate", "counters")) is not None:
        snap = snapshot()
        data = {"drops": snap.drops, "counters": snap.counters}
        return Answer(True, json.dumps(data, indent=1, sort_keys=True) + "\n")
    if fallback is not None:
        return fallback(line)
    return Answer(False, INVALID)


__all__ = ["Answer", "execute"]
