"""What the IKEv1 engine tells its owner: small frozen past-tense values.

Phase 1 has its own events; IPsec SAs (quick mode) are reported with the IKEv2 engine's
``ChildSaEstablished`` / ``ChildSaFailed`` / ``ChildSaDeleted`` and a dead peer with
``PeerUnreachable``, so that the gateway installs and removes them the same way (ESP keywords
of the data path, keys initiator→responder first; ``ike_spi_i``/``ike_spi_r`` are the cookies).
"""

from __future__ import annotations

from dataclasses import dataclass

from tunnelgate.ike.v2.events import (
    ChildSaDeleted,
    ChildSaEstablished,
    ChildSaFailed,
    PeerUnreachable,
)


@dataclass(frozen=True, slots=True)
class Ikev1SaEstablished:
    """Main mode finished: the ISAKMP SA (phase 1) is authenticated on this side."""

    cookie_i: bytes
    cookie_r: bytes
    peer: tuple[str, int]
    initiator: bool
    algorithms: str  # e.g. "aes-256/sha/group 5/pre-share"
    lifetime_seconds: int
    local_address: tuple[str, int] = ("", 0)  # our address the ISAKMP SA uses (D115)


@dataclass(frozen=True, slots=True)
class Ikev1SaFailed:
    """Phase 1 failed: the notify sent or received (IANA name, "" when none) and a sentence
    for the log."""

    peer: tuple[str, int]
    notify: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ikev1SaDeleted:
    """An established ISAKMP SA is gone (lifetime, delete, dead peer, initial contact)."""

    cookie_i: bytes
    cookie_r: bytes
    peer: tuple[str, int]
    reason: str


Ikev1Event = (
    Ikev1SaEstablished
    | Ikev1SaFailed
    | Ikev1SaDeleted
    | ChildSaEstablished
    | ChildSaFailed
    | ChildSaDeleted
    | PeerUnreachable
)

__all__ = [
    "ChildSaDeleted",
    "ChildSaEstablished",
    "ChildSaFailed",
    "Ikev1Event",
    "Ikev1SaDeleted",
    "Ikev1SaEstablished",
    "Ikev1SaFailed",
    "PeerUnreachable",
]
