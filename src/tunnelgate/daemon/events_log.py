"""Events as one JSON object per line, for the daemon's log (keys are never written)."""

from __future__ import annotations

import json
from typing import Any

SECRET_FIELDS = frozenset({"keys", "local_psk", "remote_psk"})


def event_record(event: object, now: float) -> dict[str, Any]:
    """A JSON-able dict of a frozen event's fields, secrets left out."""
    out: dict[str, Any] = {"t": round(now, 3), "event": type(event).__name__}
    for name in getattr(event, "__slots__", ()):
        if name in SECRET_FIELDS:
            continue
        value = getattr(event, name)
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, str | int | float | bool | type(None) | list):
            value = value.describe() if hasattr(value, "describe") else str(value)
        out[name] = value
    return out


def event_line(event: object, now: float) -> str:
    return json.dumps(event_record(event, now), sort_keys=False)


__all__ = ["SECRET_FIELDS", "event_line", "event_record"]
