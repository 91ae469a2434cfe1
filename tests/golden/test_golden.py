"""Golden files: each ``X.cfg`` loads strictly and renders exactly ``X.expected``.

The first line of ``X.cfg`` may be ``! show: WORDS`` to choose the ``show running-config``
filter (default: ``crypto``); ``! show: all`` renders the whole configuration.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tunnelgate.config.loader import load_config
from tunnelgate.config.render import show_running_config

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*.cfg"))


def _filter(text: str) -> list[str]:
    first = text.splitlines()[0] if text else ""
    if first.startswith("! show:"):
        words = first.removeprefix("! show:").split()
        return [] if words == ["all"] else words
    return ["crypto"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path) -> None:
    text = path.read_text()
    result = load_config(text, source=path.name)
    assert result.config is not None, "\n".join(d.render() for d in result.diagnostics)
    expected = path.with_suffix(".expected").read_text()
    assert show_running_config(result.config, _filter(text)) == expected


def test_there_are_golden_files() -> None:
    assert CASES
