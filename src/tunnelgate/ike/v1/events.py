"""What the IKEv1 engine tells its owner: small frozen past-tense values."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ikev1SaEstablished:
    """Main mode finished: the ISAKMP SA (phase 1) is authenticated on this side."""

    cookie_i: bytes
    cookie_r: bytes
    peer: tuple[str, int]
    initiator: bool
    algorithms: str  # e.g. "aes-256/sha/group 5/pre-share"
    lifetime_seconds: int


@dataclass(frozen=True, slots=True)
class Ikev1SaFailed:
    """Phase 1 failed: the notify sent or received (IANA name, "" when none) and a sentence
    for the log."""

    peer: tuple[str, int]
    notify: str
    reason: str


@dataclass(frozen=True, slots=True)
class Ikev1SaDeleted:
    """An established ISAKMP SA is gone (its lifetime ended)."""

    cookie_i: bytes
    cookie_r: bytes
    peer: tuple[str, int]
    reason: str


Ikev1Event = Ikev1SaEstablished | Ikev1SaFailed | Ikev1SaDeleted
