"""Whole-configuration checks run after a load: references and consistency rules.

Each family contributes functions ``(config) -> list[Diagnostic]``; a check never
mutates. Errors make a file invalid; warnings are reported and the file loads.
"""

from __future__ import annotations

from collections.abc import Callable

from tunnelgate.config.diagnostics import Diagnostic
from tunnelgate.config.model import RunningConfig

Check = Callable[[RunningConfig], list[Diagnostic]]

CHECKS: list[Check] = []


def check(func: Check) -> Check:
    """Register a whole-configuration check."""
    CHECKS.append(func)
    return func


def run_checks(config: RunningConfig) -> list[Diagnostic]:
    # Import the families so that their checks are registered.
    from tunnelgate.config import commands  # noqa: F401

    out: list[Diagnostic] = []
    for func in CHECKS:
        out.extend(func(config))
    return out
