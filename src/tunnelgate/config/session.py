"""Executing configuration lines against a running configuration, as the ASA's parser.

A line is matched in the current mode; when it is not a command of a sub-mode it is
tried in the enclosing modes, innermost first (a nested sub-mode's parent, then global
configuration), and running it there leaves the sub-mode (as the ASA does). ``exit``
returns to the enclosing mode. A refused command changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tunnelgate.config.commands import grammars
from tunnelgate.config.context import CommandContext, CommandError
from tunnelgate.config.diagnostics import INCOMPLETE, INVALID_INPUT, Diagnostic, Severity
from tunnelgate.config.grammar import Ambiguous, Incomplete, Match, MatchFailure
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.modes import CONFIG, Mode


@dataclass(frozen=True, slots=True)
class LineResult:
    """What one line did: its diagnostics and whether it was applied."""

    applied: bool
    diagnostics: tuple[Diagnostic, ...] = ()
    ignored: bool = False  # blank line, comment, or a line of a refused block


def is_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped[0] in "!:" or stripped.startswith("Cryptochecksum:")


class ConfigSession:
    """A configuration-mode cursor over one ``RunningConfig``."""

    def __init__(self, config: RunningConfig, mode: Mode = CONFIG, key: Any = None) -> None:
        self.config = config
        self.mode = mode
        self.key = key

    @property
    def prompt(self) -> str:
        return self.mode.prompt_for(self.config.hostname)

    def execute(self, line: str) -> LineResult:
        """Run one configuration line."""
        if is_comment(line):
            return LineResult(applied=False, ignored=True)
        text = line.strip()
        lowered = text.lower()
        if lowered == "exit" and self.mode.parent is not None:
            self.mode = self.mode.parent  # a nested mode shares its parent's key
            return LineResult(applied=True)
        if lowered == "exit" or lowered == "end":
            self.mode, self.key = CONFIG, None
            return LineResult(applied=True)
        table = grammars()
        result = table[self.mode].match(text)
        mode = self.mode
        # When the command word (after an optional ``no``) is no command of the sub-mode,
        # the line belongs to an enclosing mode (the parent sub-mode, then global
        # configuration), which leaves the sub-mode, as on the ASA. A sub-mode command with
        # a bad value stays a sub-mode error: ``host 300.0.0.1`` in an object is never taken
        # as ``hostname``. A line whose leading keywords a sub-mode shares with a global
        # command (``ipv6 route`` in an interface, which has ``ipv6 address``) belongs to the
        # enclosing mode when it matches there with those keywords typed in full.
        if not isinstance(result, Match) and self.mode is not CONFIG:
            failed_at = result.column
            command_word = failed_at <= _command_word_column(text)
            for outer in _enclosing(self.mode):
                found = table[outer].match(text)
                if isinstance(found, Match):
                    if command_word or _typed_keywords(text, failed_at, found.command.syntax):
                        result, mode = found, outer
                        break
                elif command_word and found.column > result.column:
                    result, mode = found, outer
        if not isinstance(result, Match):
            return LineResult(False, (_failure(mask_secrets(text), result),))
        shown = _masked(text, result)
        key = None if mode is CONFIG else self.key
        ctx = CommandContext(self.config, mode, key)
        try:
            result.command.action(ctx, result.args)
        except CommandError as exc:
            column = result.args.column(exc.arg) if exc.arg else 0
            diag = Diagnostic(
                Severity.ERROR,
                exc.message,
                line=shown,
                column=column if exc.caret else None,
            )
            return LineResult(False, (diag,))
        self.mode, self.key = mode, key
        if ctx.next_mode is not None:
            self.mode, self.key = ctx.next_mode
        diags = tuple(Diagnostic(sev, msg, line=shown) for sev, msg in ctx.messages)
        return LineResult(True, diags)


def _enclosing(mode: Mode) -> list[Mode]:
    """The modes a line of ``mode`` may belong to instead, innermost first."""
    out: list[Mode] = []
    outer = mode.parent
    while outer is not None:
        out.append(outer)
        outer = outer.parent
    return [*out, CONFIG]


def _command_word_column(text: str) -> int:
    """Where the command word starts: the first word, or the second after ``no``."""
    words = text.split()
    if len(words) > 1 and words[0].lower() == "no":
        return text.index(words[1], len(words[0]))
    return 0


def _typed_keywords(text: str, column: int, syntax: str) -> bool:
    """Whether the words of ``text`` before ``column`` are the leading keywords of the
    grammar ``syntax``, each typed in full."""
    before = text[:column].split()
    keywords = syntax.split()[: len(before)]
    return (
        bool(before)
        and len(keywords) == len(before)
        and all(word.lower() == keyword for word, keyword in zip(before, keywords, strict=True))
    )


SECRET_CAPTURE = "secret"  # grammars name every key capture ``$secret``
_MASK = "*****"


def _masked(text: str, match: Match) -> str:
    """``text`` with the captured secret replaced, same length, so carets stay aligned."""
    if SECRET_CAPTURE not in match.args:
        return text
    start = match.args.column(SECRET_CAPTURE)
    end = text.find(" ", start)
    end = len(text) if end < 0 else end
    if end == len(text):
        return text[:start] + _MASK
    return text[:start] + _MASK + " " * max(0, end - start - len(_MASK)) + text[end:]


def mask_secrets(text: str) -> str:
    """For a line that matched nothing: hide every token after a ``pre-shared-key`` keyword."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) >= 5 and "pre-shared-key".startswith(word.lower()):
            tail = [w if w.lower() in ("", "0", "8", "hex") else _MASK for w in words[i + 1 :]]
            return " ".join(words[: i + 1] + tail)
    return text


def _failure(text: str, failure: MatchFailure) -> Diagnostic:
    if isinstance(failure, Ambiguous):
        return Diagnostic(Severity.ERROR, f'% Ambiguous command: "{text}"', line=text)
    if isinstance(failure, Incomplete):
        return Diagnostic(
            Severity.ERROR,
            INCOMPLETE,
            line=text,
            column=failure.column,
            detail=failure.detail or None,
        )
    return Diagnostic(
        Severity.ERROR,
        INVALID_INPUT,
        line=text,
        column=failure.column,
        detail=failure.detail or None,
    )
