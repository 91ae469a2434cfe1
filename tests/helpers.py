"""Shared helpers for configuration tests."""

from __future__ import annotations

import textwrap

from tunnelgate.config.diagnostics import Diagnostic
from tunnelgate.config.loader import LoadResult, load_config
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render import show_running_config
from tunnelgate.config.session import ConfigSession


def load(text: str) -> RunningConfig:
    """Load a configuration that must be valid; fail with every diagnostic otherwise."""
    result = load_config(textwrap.dedent(text), source="test.cfg")
    assert result.config is not None, "\n".join(d.render() for d in result.diagnostics)
    return result.config


def load_result(text: str, *, lenient: bool = False) -> LoadResult:
    return load_config(textwrap.dedent(text), source="test.cfg", lenient=lenient)


def errors(text: str) -> list[Diagnostic]:
    """The errors of a configuration that must be refused."""
    result = load_result(text)
    assert result.config is None, "the configuration was accepted"
    return result.errors


def show(config: RunningConfig, *words: str, all: bool = False) -> str:
    return show_running_config(config, words, all=all)


def run(config: RunningConfig, *lines: str) -> list[Diagnostic]:
    """Execute lines interactively (from global config mode) and collect diagnostics."""
    session = ConfigSession(config)
    out: list[Diagnostic] = []
    for line in lines:
        out.extend(session.execute(line).diagnostics)
    return out


def roundtrip(config: RunningConfig) -> RunningConfig:
    """parse(render(config)) with secrets unmasked."""
    return load(show_running_config(config, mask=False))


def asa(text: str) -> str:
    """Expected ASA output written with a visible ``␠`` where the ASA prints a trailing space."""
    return text.replace("␠", " ")


def refused(config: RunningConfig, *lines: str) -> str:
    """Run ``lines`` in one session; the last must be refused with one error and change
    nothing. Returns the error message."""
    session = ConfigSession(config)
    for line in lines[:-1]:
        session.execute(line)
    before = config.clone()
    result = session.execute(lines[-1])
    assert config == before, "a refused command changed the configuration"
    assert not result.applied and len(result.diagnostics) == 1, result
    assert result.diagnostics[0].is_error
    return result.diagnostics[0].message
