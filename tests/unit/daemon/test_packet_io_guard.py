"""A bug in one reader or timer callback is counted and logged, and the daemon goes on."""

from __future__ import annotations

import json

from tests.protocol.test_gateway_pair import HQ, gateway
from tunnelgate.daemon.packet_io import PacketIo


def test_a_failing_callback_is_counted_logged_and_survived() -> None:
    lines: list[str] = []
    io = PacketIo(gateway(HQ, 1), "tgtest0", log=lines.append)

    def broken() -> None:
        raise KeyError("boom")

    io._guarded(broken)
    io._guarded(broken)
    assert io.errors["internal-KeyError"] == 2
    events = [json.loads(line) for line in lines]
    assert events[-1] == {
        "event": "InternalError",
        "where": "broken",
        "error": "KeyError: 'boom'",
        "count": 2,
    }
    calls: list[int] = []
    io._guarded(lambda: calls.append(1))  # the next callback runs normally
    assert calls == [1]
