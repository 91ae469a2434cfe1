"""Values shared by every family renderer."""

from __future__ import annotations

from dataclasses import dataclass

MASK = "*****"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """``all``: show defaults too (``show running-config all``); ``mask``: hide secrets."""

    all: bool = False
    mask: bool = True


@dataclass(frozen=True, slots=True)
class Block:
    """One top-level command and its indented sub-mode lines."""

    lines: tuple[str, ...]

    @staticmethod
    def of(head: str, *children: str) -> Block:
        return Block((head, *(f" {c}" for c in children)))
