"""Loading a configuration file: atomic by default, lenient on request.

Strict: every line is tried and every error listed; if any error remains (a refused
line or a failed whole-configuration check) the result carries no new configuration,
so nothing changes. Lenient (for whole real ASA configurations, mostly not crypto):
what is understood is applied, and every skipped line is reported with its number;
a skipped crypto line is a warning, never silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.config.checks import run_checks
from tunnelgate.config.diagnostics import Diagnostic, Severity
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.session import ConfigSession, is_comment

_CRYPTO_WORDS = ("crypto", "tunnel-group", "tunnel-group-map", "isakmp", "ikev1", "ikev2")


@dataclass(slots=True)
class LoadResult:
    """The outcome of a load. ``config`` is None when a strict load was refused."""

    config: RunningConfig | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lines_total: int = 0
    lines_applied: int = 0
    skipped_lines: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.config is not None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]


def _is_crypto(line: str) -> bool:
    words = line.split()
    if words and words[0].lower() == "no":
        words = words[1:]
    return bool(words) and words[0].lower() in _CRYPTO_WORDS


def load_config(
    text: str,
    *,
    source: str = "<input>",
    lenient: bool = False,
    base: RunningConfig | None = None,
) -> LoadResult:
    """Apply ``text`` to a copy of ``base`` (or to a factory configuration)."""
    config = base.clone() if base is not None else RunningConfig()
    session = ConfigSession(config)
    result = LoadResult(None)
    refused_block = False  # inside the indented lines of a refused top-level line
    for number, raw in enumerate(text.splitlines(), start=1):
        if is_comment(raw):
            continue
        result.lines_total += 1
        indented = raw[:1].isspace()
        if refused_block and indented:
            result.skipped_lines.append(number)
            continue
        outcome = session.execute(raw.rstrip())
        located = [d.located(source, number) for d in outcome.diagnostics]
        if outcome.applied:
            result.lines_applied += 1
            refused_block = False
            result.diagnostics.extend(located)
            continue
        refused_block = not indented
        result.skipped_lines.append(number)
        if lenient:
            if _is_crypto(raw):
                result.diagnostics.extend(
                    Diagnostic(
                        Severity.WARNING,
                        f"crypto line skipped: {d.message}",
                        d.line,
                        d.column,
                        d.detail,
                        source,
                        number,
                    )
                    for d in located
                )
        else:
            result.diagnostics.extend(located)
    checks = [d.located(source, None) for d in run_checks(config)]
    if lenient:
        checks = [
            d
            if not d.is_error
            else Diagnostic(
                Severity.WARNING, d.message, d.line, d.column, d.detail, d.source, d.line_no
            )
            for d in checks
        ]
        if result.skipped_lines:
            result.diagnostics.append(
                Diagnostic(
                    Severity.INFO,
                    f"{len(result.skipped_lines)} line(s) not understood and skipped: "
                    + _ranges(result.skipped_lines),
                    source=source,
                )
            )
    result.diagnostics.extend(checks)
    if lenient or not any(d.is_error for d in result.diagnostics):
        result.config = config
    return result


def _ranges(numbers: list[int]) -> str:
    """``1-3, 7, 9-10`` for a sorted list of line numbers."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(parts)
