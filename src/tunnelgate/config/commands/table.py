"""A command table: rows of (mode, grammar, action), registered by decorator."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tunnelgate.config.context import Action
from tunnelgate.config.grammar import CommandSpec
from tunnelgate.config.modes import Mode


class CommandTable:
    """The commands one family adds to the language."""

    def __init__(self) -> None:
        self.rows: list[tuple[Mode, CommandSpec]] = []

    def command(
        self, mode: Mode, syntax: str, /, help: str = "", **keyword_help: str
    ) -> Callable[[Action], Action]:
        """Register ``action`` for ``syntax`` in ``mode``; ``keyword_help`` feeds ``?``."""

        def register(action: Action) -> Action:
            kw = tuple((k.replace("_", "-"), v) for k, v in keyword_help.items())
            self.rows.append((mode, CommandSpec(syntax, action, help, kw)))
            return action

        return register

    def __iter__(self) -> Iterator[tuple[Mode, CommandSpec]]:
        return iter(self.rows)
