"""Rekeying the ISAKMP SA (phase 1) before its lifetime ends.

The side that initiated an ISAKMP SA starts a new main mode (aggressive mode when the old SA
was one) with the peer at 85-95 % of the lifetime (the jitter comes from the random source,
as IKEv2 does). IPsec SAs do not belong to an ISAKMP SA in IKEv1: once the new one is
established they move to it (``children``, queued quick modes) so that their deletes and DPD
keep working, and the old ISAKMP SA is deleted (Delete payload, ``Ikev1SaDeleted(reason=
"rekeyed")``). INITIAL-CONTACT is not sent for the new SA (the old one is still up then).

The responder takes a new ISAKMP SA with a peer that has one already as a rekey: when the
peer deletes the old one (or its lifetime ends) its IPsec SAs move to the newest established
ISAKMP SA with the peer (``informational._sa_gone``) and only the old one goes
(``reason="rekeyed"``); no IPsec SA is torn down.
"""

from __future__ import annotations

import logging

from tunnelgate.ike.v1.state import Phase1Sa, RandomSource

log = logging.getLogger("tunnelgate.ike")

REKEY_MARGIN = (0.05, 0.15)  # rekey when 5-15 % of the lifetime is left


class Phase1Rekey:
    """Phase-1 rekeying; mixed into ``Ikev1Engine`` (which owns the methods declared here)."""

    sas: dict[tuple[bytes, str], Phase1Sa]

    random: RandomSource

    def _new_cookie(self) -> bytes:
        raise NotImplementedError  # the engine's

    def _send_mm1(self, sa: Phase1Sa, now: float) -> None:
        raise NotImplementedError  # main mode's

    def _send_am1(self, sa: Phase1Sa, now: float) -> None:
        raise NotImplementedError  # aggressive mode's

    def delete_sa(self, sa: Phase1Sa, now: float, reason: str = "deleted locally") -> None:
        raise NotImplementedError  # informational's

    def _arm_rekey(self, sa: Phase1Sa, lifetime_seconds: int, now: float) -> None:
        """The initiator of an ISAKMP SA rekeys it at 85-95 % of its lifetime."""
        if sa.initiator:
            low, high = REKEY_MARGIN
            fraction = int.from_bytes(self.random(2), "big") / 0xFFFF
            sa.rekey_at = now + lifetime_seconds * (1 - (low + (high - low) * fraction))

    def rekey_sa(self, old: Phase1Sa, now: float) -> Phase1Sa:
        """Start a new phase 1 with the peer of ``old`` (same mode, same key)."""
        old.rekey_at = None
        sa = Phase1Sa(
            True,
            old.peer,
            self._new_cookie(),
            psk=old.psk,
            replaces=old.key,
            local_address=old.local_address,
        )
        self.sas[sa.key] = sa
        log.info("IKEv1 rekeying the ISAKMP SA with %s", old.peer[0])
        if old.state.aggressive:
            self._send_am1(sa, now)
        else:
            self._send_mm1(sa, now)
        return sa

    def _take_over(self, sa: Phase1Sa, now: float) -> None:
        """Our new ISAKMP SA is established: it takes the IPsec SAs of the one it replaces,
        which is deleted."""
        if sa.replaces is not None:
            old = self.sas.get(sa.replaces)
            if old is not None and old is not sa and old.state.established:
                _move(old, sa)
                self.delete_sa(old, now, "rekeyed")
            return


def _move(old: Phase1Sa, new: Phase1Sa) -> None:
    new.children.update(old.children)
    old.children.clear()
    new.waiting.extend(old.waiting)
    old.waiting.clear()


__all__ = ["REKEY_MARGIN", "Phase1Rekey"]
