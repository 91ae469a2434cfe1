"""Snapshot views (frozen dataclasses) as JSON for ``--json``, fast enough for 20,000 SAs.

``dataclasses.asdict`` deep-copies every value and ``json.dumps(indent=…)`` runs the pure-Python
encoder: 3 s for ``show crypto ipsec sa --json`` at 20,000 child SAs. Here a view becomes plain
values by reading its fields directly (field names cached per class) and the C encoder writes
them compactly (no indentation): one line of JSON, as programs want it.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Sequence

_SCALARS = frozenset({str, int, float, bool, type(None)})
# per view class: its field names and one getter reading them all (operator.attrgetter)
_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]:
    found = _FIELDS.get(cls)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        getter = operator.attrgetter(*names)
        read = getter if len(names) > 1 else (lambda view: (getter(view),))
        found = _FIELDS[cls] = (names, read)
    return found


def plain(value: object) -> object:
    """JSON-ready values: views as objects (their fields in order), tuples as lists, bytes as
    hex, anything else unknown as its text."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names, read = _fields_of(kind)
        return {
            name: field if type(field) in _SCALARS else plain(field)
            for name, field in zip(names, read(value), strict=True)
        }
    if isinstance(value, bool | int | float | str):  # subclasses (IntEnum, StrEnum)
        return value
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def dumps(views: Sequence[object]) -> str:
    """A list of views as one line of JSON."""
    return json.dumps([plain(v) for v in views], separators=(",", ":"))


__all__ = ["dumps", "plain"]
