"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tunnelgate.lab import Lab


@pytest.fixture
def make_lab(tmp_path: Path) -> Iterator[list[Lab]]:
    """Labs a test brings up (``test_lab_tunnel.up``); each is taken down afterwards."""
    labs: list[Lab] = []
    yield labs
    for lab in labs:
        lab.down()
