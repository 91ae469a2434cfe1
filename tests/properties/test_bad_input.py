"""Arbitrary input never raises: it always ends as the language's own diagnostics."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tunnelgate.cli.shell import Shell
from tunnelgate.config.commands import grammars
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import RunningConfig


def _vocabulary() -> list[str]:
    """Every keyword of every mode, plus values that fit and values that do not."""
    words: set[str] = set()
    for grammar in grammars().values():
        for spec in grammar.commands:
            for token in spec.syntax.replace("{", " ").replace("}", " ").replace("[", " ").split():
                for part in token.replace("]", " ").replace("|", " ").split():
                    if "$" in part:
                        part = part.split("$")[0]
                    if part and part[0].islower():
                        words.add(part)
    values = [
        "0",
        "1",
        "10",
        "65535",
        "65536",
        "-1",
        "192.0.2.1",
        "255.255.255.0",
        "999.1.1.1",
        "outside",
        "MAP",
        "x" * 300,
        "aes",
        "no",
        "!",
        "",
        "\t",
        "\u00e9",
        "0x1f",
    ]
    return sorted(words) + values


VOCAB = _vocabulary()
lines = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12).map(" ".join)
indented = st.tuples(st.sampled_from(["", " ", "  "]), lines).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_loads_to_diagnostics(text: str) -> None:
    result = load_config(text, source="fuzz.cfg")
    assert result.config is not None or result.errors
    for diag in result.diagnostics:
        assert diag.render()


@settings(max_examples=400, deadline=None)
@given(st.lists(indented, max_size=30).map("\n".join), st.booleans())
def test_grammar_shaped_input_loads_to_diagnostics(text: str, lenient: bool) -> None:
    result = load_config(text, source="fuzz.cfg", lenient=lenient)
    if not lenient:
        assert (result.config is None) == bool(result.errors)
    for diag in result.diagnostics:
        assert diag.render()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(lines, st.text(max_size=40)), max_size=25))
def test_shell_never_raises(commands: list[str]) -> None:
    shell = Shell(RunningConfig(), privileged=True)
    shell.execute("configure terminal")
    for command in commands:
        output = shell.execute(command)
        assert isinstance(output.text, str)
    assert shell.prompt.endswith(("#", ">"))


@settings(max_examples=200, deadline=None)
@given(st.lists(indented, max_size=20).map("\n".join))
def test_a_refused_file_leaves_the_base_untouched(text: str) -> None:
    base = RunningConfig()
    snapshot = repr(base)
    result = load_config(text, base=base)
    assert repr(base) == snapshot
    if result.config is not None:
        assert result.config is not base
