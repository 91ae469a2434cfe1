"""``tunnelgate cli``'s own decision: which typed lines end the client."""

from __future__ import annotations

import pytest

from tunnelgate.cli.attach import leaves


@pytest.mark.parametrize(
    ("line", "prompt", "ends"),
    [
        ("quit", "gw-a#", True),
        ("logout", "gw-a>", True),
        ("exit", "gw-a#", True),
        ("exit", "gw-a(config)#", False),  # leaves the sub-mode in the daemon
        ("show crypto ipsec sa", "gw-a#", False),
        ("quit", "", False),  # ends a crypto ca paste, not the client
        ("exit", "", False),
    ],
)
def test_which_lines_end_the_client(line: str, prompt: str, ends: bool) -> None:
    assert leaves(line, prompt) is ends
