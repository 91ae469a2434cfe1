"""Protocol violations of a phase-1 peer, raised deep and turned into an informational
notify, an ``Ikev1SaFailed`` event and a counter at the engine's boundary (ARCHITECTURE.md
principle 5)."""

from __future__ import annotations

from tunnelgate.ike.v1.constants import NotifyMessageType


class Phase1Error(Exception):
    """The negotiation cannot go on: ``notify`` goes to the peer, ``reason`` to the log."""

    def __init__(self, notify: NotifyMessageType, reason: str) -> None:
        super().__init__(reason)
        self.notify = notify
        self.reason = reason
