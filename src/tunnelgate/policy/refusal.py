"""Refusal: the value every negotiation rule returns when it says no."""

from __future__ import annotations

from dataclasses import dataclass

# IANA notify names (RFC 7296 §3.10.1; IKEv1: RFC 2408 §3.14.1, same meaning)
NO_PROPOSAL_CHOSEN = "NO_PROPOSAL_CHOSEN"
TS_UNACCEPTABLE = "TS_UNACCEPTABLE"
INVALID_KE_PAYLOAD = "INVALID_KE_PAYLOAD"
INVALID_ID_INFORMATION = "INVALID_ID_INFORMATION"
AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"

NOTIFY_NAMES = frozenset(
    {
        NO_PROPOSAL_CHOSEN,
        TS_UNACCEPTABLE,
        INVALID_KE_PAYLOAD,
        INVALID_ID_INFORMATION,
        AUTHENTICATION_FAILED,
    }
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A "no": the notify to send the peer and the reason an operator reads in the log.

    ``group`` is set only for ``INVALID_KE_PAYLOAD``: the DH group the responder wants
    (RFC 7296 §1.2, the notification data).
    """

    notify: str
    reason: str
    group: int | None = None

    def __post_init__(self) -> None:
        if self.notify not in NOTIFY_NAMES:
            raise ValueError(f"unknown notify {self.notify!r}")
