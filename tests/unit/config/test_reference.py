"""docs/configuration.md is generated from the command tables and must stay current."""

from __future__ import annotations

from pathlib import Path

from tunnelgate.config.reference import reference

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_committed_reference_is_current() -> None:
    assert DOC.read_text() == reference(), (
        "docs/configuration.md is stale: run "
        "`.venv/bin/python -m tunnelgate.config.reference > docs/configuration.md`"
    )
