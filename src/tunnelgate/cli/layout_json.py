"""The values of an ASA ``Label: value`` statistics layout, for ``--json``.

``show ipsec stats`` and ``show crypto isakmp stats`` print counters as indented
``Label: value`` lines under section titles. Reading the JSON off the rendered text keeps
the two answers equal by construction: a program sees exactly the numbers an operator
reads. Keys are the labels in snake case (``Decapsulated fragments needing reassembly`` →
``decapsulated_fragments_needing_reassembly``); a line without a value that is underlined
with dashes, or followed by more indented lines, opens a section; numbers become integers.
"""

from __future__ import annotations

import re

Values = dict[str, object]

_NON_WORD = re.compile(r"[^a-z0-9]+")


def key_of(label: str) -> str:
    """``In P2 Exchange Rejects`` → ``in_p2_exchange_rejects``."""
    return _NON_WORD.sub("_", label.lower()).strip("_")


def _value(text: str) -> object:
    text = text.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def layout_values(text: str) -> Values:
    """The nested values of a ``Label: value`` layout (see the module docstring)."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    root: Values = {}
    stack: list[tuple[int, Values]] = [(-2, root)]
    for n, line in enumerate(lines):
        if set(line.strip()) == {"-"}:
            continue
        indent = _indent(line)
        nxt = lines[n + 1] if n + 1 < len(lines) else ""
        titled = bool(nxt) and set(nxt.strip()) == {"-"}
        if titled:  # a title: everything after it belongs to it
            del stack[1:]
            section: Values = {}
            root[key_of(line)] = section
            stack.append((-1, section))
            continue
        while len(stack) > 1 and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        label, colon, value = line.strip().partition(":")
        if colon and value.strip():
            parent[key_of(label)] = _value(value)
        elif nxt and _indent(nxt) > indent:
            section = {}
            parent[key_of(label)] = section
            stack.append((indent, section))
        else:
            parent[key_of(label)] = None
    return root


__all__ = ["Values", "key_of", "layout_values"]
