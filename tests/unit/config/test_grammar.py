"""The grammar engine: abbreviations, ambiguity, ranges, carets, repetition, help."""

from __future__ import annotations

import pytest

from tunnelgate.config.grammar import (
    Ambiguous,
    CommandSpec,
    GrammarError,
    Incomplete,
    InvalidInput,
    Match,
    ModeGrammar,
)


def _noop(*_: object) -> None:
    return None


@pytest.fixture
def grammar() -> ModeGrammar:
    g = ModeGrammar("test")
    for syntax in (
        "crypto ikev1 policy <1-65535>$priority",
        "crypto ikev1 enable WORD$ifname",
        "crypto isakmp identity {address|hostname|key-id WORD$key|auto}$kind",
        "crypto map WORD$map <1-65535>$seq set peer A.B.C.D$peers...",
        "crypto map WORD$map <1-65535>$seq set pfs [{group1|group2}$group]",
        "crypto map WORD$map interface WORD$ifname",
        "access-list WORD$name remark LINE$text",
        "frag [mtu <68-1500>$mtu] [method {ietf|cisco}$method]",
    ):
        g.add(CommandSpec(syntax, _noop))
    return g


def _match(g: ModeGrammar, line: str) -> Match:
    result = g.match(line)
    assert isinstance(result, Match), result
    return result


def test_full_keywords_and_captures(grammar: ModeGrammar) -> None:
    m = _match(grammar, "crypto ikev1 policy 10")
    assert m.command.syntax.startswith("crypto ikev1 policy")
    assert m.args["priority"] == 10


def test_unique_prefix_abbreviations_and_case(grammar: ModeGrammar) -> None:
    assert _match(grammar, "CRY IKEV1 POL 7").args["priority"] == 7
    assert _match(grammar, "cr isa ident key-id Peer1").args.as_dict() == {
        "kind": "key-id",
        "key": "Peer1",
    }


def test_ambiguous_prefix_reports_the_token(grammar: ModeGrammar) -> None:
    result = grammar.match("crypto i")
    assert isinstance(result, Ambiguous)
    assert result.column == len("crypto ")


def test_out_of_range_number_gets_a_specific_detail(grammar: ModeGrammar) -> None:
    result = grammar.match("crypto ikev1 policy 70000")
    assert isinstance(result, InvalidInput)
    assert result.column == len("crypto ikev1 policy ")
    assert result.detail == "value must be between 1 and 65535"


def test_caret_goes_under_the_first_bad_token(grammar: ModeGrammar) -> None:
    result = grammar.match("crypto map M 10 set peer 1.2.3")
    assert isinstance(result, InvalidInput)
    assert result.column == len("crypto map M 10 set peer ")


def test_incomplete_command(grammar: ModeGrammar) -> None:
    result = grammar.match("crypto ikev1 policy")
    assert isinstance(result, Incomplete)


def test_repetition_collects_a_list(grammar: ModeGrammar) -> None:
    m = _match(grammar, "crypto map M 10 set peer 192.0.2.1 198.51.100.1")
    assert m.args["peers"] == ["192.0.2.1", "198.51.100.1"]


def test_optional_alternative_capture(grammar: ModeGrammar) -> None:
    assert "group" not in _match(grammar, "crypto map M 10 set pfs").args
    assert _match(grammar, "crypto map M 10 set pfs group1").args["group"] == "group1"


def test_optional_parts_in_any_subset(grammar: ModeGrammar) -> None:
    assert _match(grammar, "frag").args.as_dict() == {}
    assert _match(grammar, "frag method cisco").args.as_dict() == {"method": "cisco"}
    assert _match(grammar, "frag mtu 600 method ietf").args.as_dict() == {
        "mtu": 600,
        "method": "ietf",
    }


def test_line_keeps_the_rest_verbatim(grammar: ModeGrammar) -> None:
    m = _match(grammar, "access-list X remark  two  spaces here ")
    assert m.args["text"] == "two  spaces here"


def test_column_of_a_capture(grammar: ModeGrammar) -> None:
    m = _match(grammar, "crypto map  MAP interface outside")
    assert m.args.column("ifname") == len("crypto map  MAP interface ")


def test_candidates_for_help(grammar: ModeGrammar) -> None:
    words = [c.text for c in grammar.candidates("crypto ")]
    assert words == ["ikev1", "isakmp", "map"]
    assert [c.text for c in grammar.candidates("crypto ikev1 policy 5 ")] == ["<cr>"]
    assert [c.text for c in grammar.candidates("crypto ikev1 policy ")] == ["<1-65535>"]
    assert [c.text for c in grammar.candidates("crypto is")] == ["isakmp"]


def test_conflicting_grammars_are_a_programming_error() -> None:
    g = ModeGrammar("x")
    g.add(CommandSpec("a b", _noop))
    with pytest.raises(GrammarError):
        g.add(CommandSpec("a b", lambda *_: None))


@pytest.mark.parametrize("bad", ["a {b", "a [b", "$x a", "a UNKNOWNTYPE$x", "a <1-x>"])
def test_malformed_grammar_strings(bad: str) -> None:
    with pytest.raises(GrammarError):
        ModeGrammar("x").add(CommandSpec(bad, _noop))


def test_an_alternative_capture_takes_a_value_option_too() -> None:
    g = ModeGrammar("x")
    g.add(CommandSpec("life kilobytes {<10-99>|unlimited}$kb", _noop))
    assert _match(g, "life kilobytes 42").args["kb"] == 42
    assert _match(g, "life kilobytes unl").args["kb"] == "unlimited"
