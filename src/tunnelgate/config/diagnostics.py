"""Diagnostics in the ASA's words: caret errors, warnings and info, with file and line."""

from __future__ import annotations

import enum
from dataclasses import dataclass

INVALID_INPUT = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command"


class Severity(enum.Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One message about one line (or about the configuration as a whole)."""

    severity: Severity
    message: str
    line: str | None = None  # the command text the message is about
    column: int | None = None  # caret position in ``line``; None: no caret
    detail: str | None = None  # a specific explanation under the ASA message
    source: str | None = None  # file name
    line_no: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def located(self, source: str | None, line_no: int | None) -> Diagnostic:
        return Diagnostic(
            self.severity, self.message, self.line, self.column, self.detail, source, line_no
        )

    def render(self) -> str:
        """The ASA rendering, prefixed with ``file:line:`` when known."""
        loc = ""
        if self.source is not None and self.line_no is not None:
            loc = f"{self.source}:{self.line_no}: "
        elif self.line_no is not None:
            loc = f"line {self.line_no}: "
        out: list[str] = []
        head = f"{self.severity.value}: {self.message}"
        if self.line is not None and self.column is not None:
            out.append(f"{loc}{self.line}")
            out.append(" " * (len(loc) + self.column) + "^")
            out.append(head)
        elif self.line is not None and loc:
            out.append(f"{loc}{self.line}")
            out.append(head)
        else:
            out.append(f"{loc}{head}")
        if self.detail:
            out.append(f"{self.severity.value}: {self.detail}")
        return "\n".join(out)


def error(message: str, **kw: object) -> Diagnostic:
    return Diagnostic(Severity.ERROR, message, **kw)  # type: ignore[arg-type]


def warning(message: str, **kw: object) -> Diagnostic:
    return Diagnostic(Severity.WARNING, message, **kw)  # type: ignore[arg-type]
