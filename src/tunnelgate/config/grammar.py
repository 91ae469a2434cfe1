"""Command grammar strings compiled into one matching automaton per CLI mode.

One grammar string per command drives parsing, `?` help and completion (the FRR
``lib/command.h`` idea). The notation:

``keyword``            a literal, matched case-insensitively by any unique prefix
``<1-65535>$name``     an integer in a range, captured as ``name``
``A.B.C.D$name``       an IPv4 address or mask
``X:X::X$name``        an IPv6 address (any token with a colon: the command checks it)
``X:X::X/LEN$name``    an IPv6 prefix (any token with a colon and a slash, checked likewise)
``WORD$name``          any single token (case kept)
``LINE$name``          the rest of the line, verbatim
``TYPE$name``          any other value type registered in ``VALUE_TYPES``
``{a|b c|d}$name``     alternatives; a keyword chosen inside is captured as ``name``
``[a b]``              an optional sequence
``X...``               one or more repetitions of X (captures become lists)

Grammars are compiled (Glushkov construction, no epsilon moves) into token
nodes. Leading runs of plain tokens are shared between commands of one mode, so
dispatch walks a trie instead of trying every command in turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "VALUE_TYPES",
    "Ambiguous",
    "Args",
    "Candidate",
    "CommandSpec",
    "GrammarError",
    "Incomplete",
    "InvalidInput",
    "Match",
    "MatchFailure",
    "ModeGrammar",
    "ValueType",
    "tokenize",
]


class GrammarError(Exception):
    """A grammar string in a command table is malformed (a programming error)."""


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class ValueType:
    """A kind of value a placeholder accepts: how to convert it and how to describe it."""

    name: str
    convert: Callable[[str], Any]  # raises ValueError when the token does not fit
    help: str
    specificity: int  # higher is tried first when several placeholders fit


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _ipv4(token: str) -> str:
    """A dotted-quad IPv4 address or mask (no leading zeros, as the ASA prints them)."""
    if _IPV4.fullmatch(token) is None:
        raise ValueError(token)
    return token


def _ipv6(token: str) -> str:
    """A token meant as an IPv6 address: it has a colon and no slash. The command checks the
    text, so that bad IPv6 text gets its own message rather than "Invalid input"."""
    if ":" not in token or "/" in token:
        raise ValueError(token)
    return token


def _ipv6_prefix(token: str) -> str:
    """A token meant as ``X:X::X/LEN`` (checked by the command, as ``_ipv6``)."""
    if ":" not in token or "/" not in token:
        raise ValueError(token)
    return token


def _word(token: str) -> str:
    return token


VALUE_TYPES: dict[str, ValueType] = {
    "A.B.C.D": ValueType("A.B.C.D", _ipv4, "IPv4 address or mask", 3),
    "X:X::X": ValueType("X:X::X", _ipv6, "IPv6 address", 3),
    "X:X::X/LEN": ValueType("X:X::X/LEN", _ipv6_prefix, "IPv6 prefix X:X::X/<0-128>", 3),
    "WORD": ValueType("WORD", _word, "a name", 1),
    "LINE": ValueType("LINE", _word, "text to the end of the line", 0),
}


@dataclass(frozen=True, slots=True)
class _Range:
    low: int
    high: int

    def convert(self, token: str) -> int:
        if not token.isdigit():
            raise ValueError(token)
        value = int(token)
        if not self.low <= value <= self.high:
            raise OverflowError(token)
        return value


# --------------------------------------------------------------------------- grammar AST


@dataclass(slots=True)
class _Token:
    keyword: str | None
    value_type: ValueType | None
    range_: _Range | None
    capture: str | None
    multi: bool = False


@dataclass(slots=True)
class _Seq:
    items: list[_Item]


@dataclass(slots=True)
class _Alt:
    options: list[_Seq]


@dataclass(slots=True)
class _Opt:
    body: _Seq


@dataclass(slots=True)
class _Repeat:
    body: _Item


_Item = _Token | _Seq | _Alt | _Opt | _Repeat

_LEX = re.compile(r"\s*(\.\.\.|[{}\[\]|]|\$[A-Za-z_][A-Za-z0-9_]*|[^\s{}\[\]|$]+)")


def _lex(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _LEX.match(text, pos)
        if m is None or m.end() == pos:
            raise GrammarError(f"cannot read grammar {text!r} at {pos}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _GrammarParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _lex(text)
        self.pos = 0

    def parse(self) -> _Seq:
        seq = self._seq(stop=())
        if self.pos != len(self.tokens):
            raise GrammarError(f"unbalanced grammar {self.text!r}")
        return seq

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _seq(self, stop: tuple[str, ...]) -> _Seq:
        items: list[_Item] = []
        while (tok := self._peek()) is not None and tok not in stop:
            items.append(self._item())
        return _Seq(items)

    def _item(self) -> _Item:
        tok = self.tokens[self.pos]
        self.pos += 1
        item: _Item
        if tok == "{":
            options = [self._seq(stop=("|", "}"))]
            while self._peek() == "|":
                self.pos += 1
                options.append(self._seq(stop=("|", "}")))
            self._expect("}")
            item = _Alt(options)
        elif tok == "[":
            body = self._seq(stop=("]",))
            self._expect("]")
            item = _Opt(body)
        elif tok in ("}", "]", "|", "...") or tok.startswith("$"):
            raise GrammarError(f"unexpected {tok!r} in {self.text!r}")
        else:
            item = self._leaf(tok)
        capture = None
        if (nxt := self._peek()) is not None and nxt.startswith("$"):
            capture = nxt[1:]
            self.pos += 1
        if capture is not None:
            _set_capture(item, capture)
        if self._peek() == "...":
            self.pos += 1
            _set_multi(item)
            item = _Repeat(item)
        return item

    def _expect(self, tok: str) -> None:
        if self._peek() != tok:
            raise GrammarError(f"expected {tok!r} in {self.text!r}")
        self.pos += 1

    def _leaf(self, tok: str) -> _Token:
        if tok.startswith("<") and tok.endswith(">"):
            low, _, high = tok[1:-1].partition("-")
            if not (low.isdigit() and high.isdigit()):
                raise GrammarError(f"bad range {tok!r} in {self.text!r}")
            rng = _Range(int(low), int(high))
            return _Token(None, None, rng, None)
        if tok in VALUE_TYPES:
            return _Token(None, VALUE_TYPES[tok], None, None)
        if tok.isupper() and tok.replace("_", "").replace("-", "").isalpha():
            raise GrammarError(f"unknown value type {tok!r} in {self.text!r}")
        return _Token(tok.lower(), None, None, None)


def _set_capture(item: _Item, name: str) -> None:
    if isinstance(item, _Token):
        item.capture = name
    elif isinstance(item, _Alt):
        # A one-token option (keyword or value) gives its value; in a longer option the
        # keywords name the choice.
        for option in item.options:
            single = len(option.items) == 1
            for sub in option.items:
                if (
                    isinstance(sub, _Token)
                    and sub.capture is None
                    and (single or sub.keyword is not None)
                ):
                    sub.capture = name
    elif isinstance(item, _Opt):
        for sub in item.body.items:
            if isinstance(sub, _Token) and sub.capture is None:
                sub.capture = name
    else:
        raise GrammarError(f"cannot capture {item!r}")


def _set_multi(item: _Item) -> None:
    if isinstance(item, _Token):
        item.multi = True
    elif isinstance(item, _Seq):
        for sub in item.items:
            _set_multi(sub)
    elif isinstance(item, _Alt):
        for option in item.options:
            _set_multi(option)
    elif isinstance(item, _Opt):
        _set_multi(item.body)
    else:
        _set_multi(item.body)


# --------------------------------------------------------------------------- automaton


class _Node:
    """One token position of the automaton: a keyword or a placeholder."""

    __slots__ = (
        "accepts",
        "capture",
        "follow",
        "index",
        "keyword",
        "multi",
        "range_",
        "shared",
        "value_type",
    )

    def __init__(self, token: _Token | None, shared: bool = False) -> None:
        self.keyword = token.keyword if token else None
        self.value_type = token.value_type if token else None
        self.range_ = token.range_ if token else None
        self.capture = token.capture if token else None
        self.multi = token.multi if token else False
        self.shared = shared
        self.follow: list[_Node] = []
        self.accepts: CommandSpec | None = None
        self.index: _FollowIndex | None = None

    def signature(self) -> tuple[Any, ...]:
        return (self.keyword, self.value_type, self.range_, self.capture, self.multi)

    def describe(self) -> str:
        if self.keyword is not None:
            return self.keyword
        if self.range_ is not None:
            return f"<{self.range_.low}-{self.range_.high}>"
        assert self.value_type is not None
        return self.value_type.name

    def convert(self, token: str) -> Any:
        if self.range_ is not None:
            return self.range_.convert(token)
        assert self.value_type is not None
        return self.value_type.convert(token)

    @property
    def specificity(self) -> int:
        if self.range_ is not None:
            return 4
        assert self.value_type is not None
        return self.value_type.specificity


class _FollowIndex:
    """The successors of a node, indexed for fast dispatch on the next token."""

    __slots__ = ("exact", "initials", "keywords", "values")

    def __init__(self, nodes: Iterable[_Node]) -> None:
        self.exact: dict[str, list[_Node]] = {}
        self.keywords: list[_Node] = []
        self.values: list[_Node] = []
        self.initials: set[str] = set()  # first letters of the keywords, to skip prefix scans
        for node in nodes:
            if node.keyword is not None:
                self.exact.setdefault(node.keyword, []).append(node)
                self.keywords.append(node)
                self.initials.add(node.keyword[0])
            else:
                self.values.append(node)
        self.values.sort(key=lambda n: -n.specificity)


@dataclass(slots=True)
class _Fragment:
    first: list[_Node]
    last: list[_Node]
    nullable: bool


def _build(item: _Item) -> _Fragment:
    if isinstance(item, _Token):
        node = _Node(item)
        return _Fragment([node], [node], False)
    if isinstance(item, _Seq):
        frag = _Fragment([], [], True)
        for sub in item.items:
            nxt = _build(sub)
            for node in frag.last:
                node.follow.extend(nxt.first)
            first = frag.first + nxt.first if frag.nullable else frag.first
            last = nxt.last + frag.last if nxt.nullable else nxt.last
            frag = _Fragment(first, last, frag.nullable and nxt.nullable)
        return frag
    if isinstance(item, _Alt):
        frags = [_build(option) for option in item.options]
        return _Fragment(
            [n for f in frags for n in f.first],
            [n for f in frags for n in f.last],
            any(f.nullable for f in frags),
        )
    if isinstance(item, _Opt):
        frag = _build(item.body)
        return _Fragment(frag.first, frag.last, True)
    frag = _build(item.body)
    for node in frag.last:
        node.follow.extend(frag.first)
    return frag


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One row of a command table: its grammar, what it does, and its help text."""

    syntax: str
    action: Callable[..., Any]
    help: str = ""
    keyword_help: tuple[tuple[str, str], ...] = ()


class Args:
    """Values captured while matching one line, with the token index of each."""

    __slots__ = ("_positions", "_spans", "_values", "line")

    def __init__(
        self,
        values: dict[str, Any],
        positions: dict[str, int],
        line: str,
    ) -> None:
        self._values = values
        self._positions = positions
        self.line = line
        self._spans: list[tuple[int, int]] | None = None  # computed for carets only

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name, default)

    def column(self, name: str) -> int:
        """Character offset of the (first) token that gave ``name``, for carets."""
        index = self._positions.get(name)
        if self._spans is None:
            self._spans = tokenize(self.line)[1]
        if index is None or index >= len(self._spans):
            return 0
        return self._spans[index][0]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Args({self._values!r})"


@dataclass(frozen=True, slots=True)
class Match:
    """A line matched a command."""

    command: CommandSpec
    args: Args


@dataclass(frozen=True, slots=True)
class MatchFailure:
    """Why a line matched no command; ``column`` is where the caret goes."""

    column: int
    detail: str = ""


class InvalidInput(MatchFailure):
    """The token at ``column`` fits nothing the grammar allows there."""


class Incomplete(MatchFailure):
    """The line ended where the grammar needs more."""


class Ambiguous(MatchFailure):
    """An abbreviation fits several keywords."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """What may come next on a line: a keyword or a placeholder, with its help."""

    text: str
    help: str
    is_keyword: bool


def tokenize(line: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Split a line on white space, keeping each token's character span."""
    tokens = line.split()
    spans: list[tuple[int, int]] = []
    pos = 0
    for tok in tokens:
        start = line.index(tok, pos)
        pos = start + len(tok)
        spans.append((start, pos))
    return tokens, spans


@dataclass(slots=True)
class ModeGrammar:
    """Every command of one CLI mode compiled into one automaton."""

    name: str
    commands: list[CommandSpec] = field(default_factory=list)
    _root: _Node = field(default_factory=lambda: _Node(None))
    _compiled: bool = False

    def add(self, spec: CommandSpec) -> None:
        tree = _GrammarParser(spec.syntax).parse()
        items = list(tree.items)
        node = self._root
        # Share the leading run of plain tokens with commands already added.
        while items and isinstance(items[0], _Token):
            token = items.pop(0)
            assert isinstance(token, _Token)
            probe = _Node(token, shared=True)
            existing = next(
                (n for n in node.follow if n.shared and n.signature() == probe.signature()),
                None,
            )
            if existing is None:
                node.follow.append(probe)
                existing = probe
            node = existing
        rest = _build(_Seq(items))
        node.follow.extend(rest.first)
        ends = [*rest.last, node] if rest.nullable else rest.last
        if node is self._root and rest.nullable:
            raise GrammarError(f"empty grammar {spec.syntax!r}")
        for end in ends:
            if end.accepts is not None and end.accepts is not spec:
                raise GrammarError(
                    f"{spec.syntax!r} and {end.accepts.syntax!r} accept the same input"
                )
            end.accepts = spec
        self.commands.append(spec)
        self._compiled = False

    def extend(self, specs: Iterable[CommandSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def _compile(self) -> None:
        seen: set[int] = set()
        stack = [self._root]
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            node.index = _FollowIndex(node.follow)
            stack.extend(node.follow)
        self._compiled = True

    # ------------------------------------------------------------------ matching

    def match(self, line: str) -> Match | MatchFailure:
        """Match one line (already stripped of a leading ``no`` if the caller wants)."""
        if not self._compiled:
            self._compile()
        tokens = line.split()
        if not tokens:
            return Incomplete(0)
        fail = _Failure()
        found = self._dfs(self._root, tokens, 0, None, fail, line)
        if found is not None:
            spec, chain = found
            return Match(spec, _materialize(chain, line))
        reached, kind, detail = fail.pos, fail.kind, fail.detail
        spans = tokenize(line)[1]
        column = spans[reached][0] if reached < len(spans) else len(line.rstrip())
        if kind == 2:
            return Ambiguous(column, detail)
        if reached >= len(tokens):
            return Incomplete(column, detail)
        return InvalidInput(column, detail)

    def _dfs(
        self,
        node: _Node,
        tokens: Sequence[str],
        pos: int,
        chain: _Chain | None,
        fail: _Failure,
        line: str,
    ) -> tuple[CommandSpec, _Chain | None] | None:
        if pos == len(tokens):
            if node.accepts is not None:
                return node.accepts, chain
            if pos >= fail.pos:
                fail.pos, fail.kind = pos, 0
            return None
        if pos > fail.pos:
            fail.pos, fail.kind, fail.detail = pos, -1, ""
        index = node.index
        assert index is not None
        token = tokens[pos]
        lowered = token.lower()
        candidates = index.exact.get(lowered)
        if candidates is None and lowered[0] not in index.initials:
            candidates = []
        elif candidates is None:
            partial = [n for n in index.keywords if n.keyword.startswith(lowered)]  # type: ignore[union-attr]
            words = {n.keyword for n in partial}
            if len(words) > 1 and not any(v for v in index.values if _fits(v, token)):
                if pos >= fail.pos:
                    fail.pos, fail.kind, fail.detail = pos, 2, token
                return None
            candidates = partial
        for nxt in candidates:
            value = nxt.keyword
            found = self._dfs(nxt, tokens, pos + 1, _push(chain, nxt, value, pos), fail, line)
            if found is not None:
                return found
        for nxt in index.values:
            if nxt.value_type is VALUE_TYPES["LINE"]:
                rest = line[tokenize(line)[1][pos][0] :].rstrip()
                if nxt.accepts is not None:
                    return nxt.accepts, _push(chain, nxt, rest, pos)
                continue
            try:
                value = nxt.convert(token)
            except OverflowError:
                rng = nxt.range_
                if rng is not None and pos >= fail.pos:
                    fail.pos, fail.kind = pos, 1
                    fail.detail = f"value must be between {rng.low} and {rng.high}"
                continue
            except ValueError:
                continue
            found = self._dfs(nxt, tokens, pos + 1, _push(chain, nxt, value, pos), fail, line)
            if found is not None:
                return found
        return None

    # ------------------------------------------------------------------ help

    def candidates(self, line: str) -> list[Candidate]:
        """What may follow the complete tokens of ``line`` (for ``?`` and completion).

        A trailing partial token (no space after it) filters the keywords by prefix.
        """
        if not self._compiled:
            self._compile()
        tokens, _spans = tokenize(line)
        partial = ""
        if tokens and not line[-1:].isspace():
            partial = tokens.pop().lower()
        frontier = [self._root]
        for token in tokens:
            frontier = self._step(frontier, token)
            if not frontier:
                return []
        out: dict[str, Candidate] = {}
        ends = False
        for node in frontier:
            assert node.index is not None
            for nxt in node.follow:
                if nxt.keyword is not None:
                    if nxt.keyword.startswith(partial):
                        help_text = self._keyword_help(nxt)
                        out.setdefault(nxt.keyword, Candidate(nxt.keyword, help_text, True))
                elif not partial or _fits(nxt, partial):
                    text = nxt.describe()
                    vt_help = nxt.value_type.help if nxt.value_type else "a number"
                    out.setdefault(text, Candidate(text, vt_help, False))
            if node.accepts is not None and node is not self._root:
                ends = True
        result = sorted(out.values(), key=lambda c: (not c.is_keyword, c.text))
        if ends and not partial:
            result.append(Candidate("<cr>", "", False))
        return result

    def _step(self, frontier: list[_Node], token: str) -> list[_Node]:
        nxt_nodes: list[_Node] = []
        lowered = token.lower()
        for node in frontier:
            index = node.index
            assert index is not None
            exact = index.exact.get(lowered)
            if exact:
                nxt_nodes.extend(exact)
                continue
            nxt_nodes.extend(
                n
                for n in index.keywords
                if n.keyword.startswith(lowered)  # type: ignore[union-attr]
            )
            nxt_nodes.extend(n for n in index.values if _fits(n, token))
        return nxt_nodes

    def _keyword_help(self, node: _Node) -> str:
        for spec in self.commands:
            for word, text in spec.keyword_help:
                if word == node.keyword:
                    return text
        return ""


class _Failure:
    """The furthest point any path reached: token index, kind (-1 invalid, 0 incomplete,
    1 out of range, 2 ambiguous) and a detail."""

    __slots__ = ("detail", "kind", "pos")

    def __init__(self) -> None:
        self.pos = 0
        self.kind = -1
        self.detail = ""


def _fits(node: _Node, token: str) -> bool:
    if node.value_type is VALUE_TYPES["LINE"]:
        return True
    try:
        node.convert(token)
    except (ValueError, OverflowError):
        return False
    return True


_Chain = tuple[Any, ...]


def _push(chain: _Chain | None, node: _Node, value: Any, pos: int) -> _Chain | None:
    if node.capture is None:
        return chain
    return (node.capture, value, pos, node.multi, chain)


def _materialize(chain: _Chain | None, line: str) -> Args:
    values: dict[str, Any] = {}
    positions: dict[str, int] = {}
    items = []
    while chain is not None:
        name, value, pos, multi, chain = chain
        items.append((name, value, pos, multi))
    for name, value, pos, multi in reversed(items):
        if multi:
            values.setdefault(name, []).append(value)
            positions.setdefault(name, pos)
        else:
            values[name] = value
            positions[name] = pos
    return Args(values, positions, line)
