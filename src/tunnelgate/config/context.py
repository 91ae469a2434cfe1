"""What a command action receives, and how it reports errors and messages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tunnelgate.config.diagnostics import Severity
from tunnelgate.config.grammar import Args
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.modes import Mode


class CommandError(Exception):
    """A command is refused; nothing was changed. ``arg`` names the token to put the caret on."""

    def __init__(self, message: str, arg: str | None = None, *, caret: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.arg = arg
        self.caret = caret or arg is not None


@dataclass(slots=True)
class CommandContext:
    """The state one command runs against. Actions validate fully before they mutate."""

    config: RunningConfig
    mode: Mode
    key: Any = None  # the sub-mode's object key (policy priority, proposal name, …)
    messages: list[tuple[Severity, str]] = field(default_factory=list)
    next_mode: tuple[Mode, Any] | None = None

    def warn(self, message: str) -> None:
        self.messages.append((Severity.WARNING, message))

    def info(self, message: str) -> None:
        self.messages.append((Severity.INFO, message))

    def enter(self, mode: Mode, key: Any) -> None:
        self.next_mode = (mode, key)


Action = Callable[[CommandContext, Args], None]
