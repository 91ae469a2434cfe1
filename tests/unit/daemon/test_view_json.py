"""``daemon/view_json.py``: snapshot views written as one line of JSON with the same values as
``plain(asdict(view))`` (the ``--json`` answers of ``show crypto ipsec sa`` / ``ikev2 sa`` at
20,000 tunnels), and the snapshot's parts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum

from tests.unit.cli.test_show_sa import IKE, SA1, SA2
from tests.unit.daemon.test_session import Setup
from tunnelgate.daemon import view_json
from tunnelgate.gateway.snapshot import ChildOfIke, EspDirectionView, Ident
from tunnelgate.gateway.views import snapshot


def reference(views: Sequence[object]) -> object:
    """The values ``asdict`` gives (what ``operations`` wrote before), read back."""
    return json.loads(json.dumps([view_json.plain(dataclasses.asdict(v)) for v in views]))


def written(views: Sequence[object]) -> object:
    text = view_json.dumps(views)
    assert "\n" not in text  # one line
    return json.loads(text)


def test_hand_made_views_match_the_standard_encoder() -> None:
    odd = dataclasses.replace(
        SA2,
        acl='A "quoted" \\ é ☃ \n',
        dynamic_map="DYN",
        dynamic_seq=7,
        pfs_group=None,
        lifetime_kilobytes=None,
        local_ident=Ident("10.0.0.1", None, 6, 443, "10.0.0.9"),
    )
    for views in ([SA1], [SA1, odd], [IKE], [], [IKE, dataclasses.replace(IKE, children=())]):
        assert written(views) == reference(views)


class Colour(Enum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


@dataclass(frozen=True, slots=True)
class Oddities:
    """Values unlike their annotations, and kinds the views do not use (yet)."""

    flag: int  # a bool where an int is declared
    level: int  # an IntEnum
    colour: object
    raw: bytes
    ratio: float
    table: dict[int, tuple[str, ...]]
    nested: list[ChildOfIke]
    empty: dict[str, int]
    maybe: str | None = None


def test_unusual_values_match() -> None:
    child = ChildOfIke("a/0 - b/65535", "c/0 - d/65535", 1, 2, "esp-aes", "esp-null")
    views = [
        Oddities(True, Level.HIGH, Colour.RED, b"\x01\xff", 0.5, {1: ("x", "y")}, [child], {}),
        Oddities(0, 4, None, b"", 2.0, {}, [], {"k": 1}, "set"),
    ]
    assert written(views) == reference(views)
    wrong = dataclasses.replace(IKE, encryption=5)  # type: ignore[arg-type]
    assert written([wrong]) == reference([wrong])


def test_a_live_gateway_snapshot_and_its_parts() -> None:
    s = Setup()
    s.up()
    snap = s.live.snapshot()
    assert len(snap.child_sas) == 1 and len(snap.ike_sas) == 1
    assert written(snap.child_sas) == reference(snap.child_sas)
    assert written(snap.ike_sas) == reference(snap.ike_sas)
    now = s.wire.now
    ike_only = snapshot(s.live.gateway, now, child_sas=False)
    child_only = snapshot(s.live.gateway, now, ike_sas=False)
    assert ike_only.child_sas == () and ike_only.ike_sas == snapshot(s.live.gateway, now).ike_sas
    assert child_only.ike_sas == () and child_only.child_sas == snap.child_sas
    answer = s.session.handle("show crypto ipsec sa", as_json=True)
    assert json.loads(answer.output) == reference(snap.child_sas)


def test_direction_errors_are_written_as_lists() -> None:
    errors = EspDirectionView(1, 2, 3, (("replay", 2), ("icv-failed", 1)), None, None, 64, 5)
    view = dataclasses.replace(SA1, inbound=errors)
    assert written([view]) == reference([view])
