"""The command reference in Markdown, generated from the command tables.

``python -m tunnelgate.config.reference > docs/configuration.md``; a test keeps the
committed file equal to this output, so the docs cannot drift from the grammar.
"""

from __future__ import annotations

from tunnelgate.config.commands import grammars
from tunnelgate.config.modes import ALL_MODES

_INTRO = """\
# Configuration command reference

Generated from the command tables by `python -m tunnelgate.config.reference`; do not edit.

Notation: `keyword` (any unique prefix, any case), `<1-65535>` a number in that range,
`A.B.C.D` an IPv4 address or mask, `X:X::X` an IPv6 address, `X:X::X/LEN` an IPv6 prefix,
`WORD` a name (case kept), `LINE` the rest of the line,
`{a|b}` one of, `[x]` optional, `X...` one or more. `$name` marks the value's name in the code.
Every command also has the `no` form listed beside it where the ASA has one.
"""


def reference() -> str:
    out = [_INTRO]
    tables = grammars()
    for mode in ALL_MODES:
        specs = tables[mode].commands
        if not specs:
            continue
        out.append(f"\n## Mode `{mode.prompt_for('hostname')}`\n")
        out.append("| command | what it does |")
        out.append("|---|---|")
        for spec in sorted(specs, key=lambda s: s.syntax.removeprefix("no ")):
            syntax = spec.syntax.replace("|", "\\|")
            out.append(f"| `{syntax}` | {spec.help} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
