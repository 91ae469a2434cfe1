"""The INFORMATIONAL exchange (RFC 7296 §1.4): deleting child and IKE SAs (§1.4.1), liveness
checks (§2.4) and INVALID_SELECTORS notifications (§3.10.1, at most one per SA every 5 s).
"""

from __future__ import annotations

from tunnelgate.ike.v2.constants import ExchangeType, NotifyType, ProtocolId
from tunnelgate.ike.v2.events import ChildSaDeleted, InvalidSelectorsReceived
from tunnelgate.ike.v2.payloads import DeletePayload, NotifyPayload, Payload
from tunnelgate.ike.v2.sa_lifecycle import SaLifecycle
from tunnelgate.ike.v2.state import IkeSa, Pending

INVALID_SELECTORS_INTERVAL_S = 5.0  # spec: "one notification message per SA every five seconds"


class InformationalExchange(SaLifecycle):
    """INFORMATIONAL requests we send (commands) and answer."""

    def invalid_selectors(self, spi_in: bytes, packet: bytes, now: float) -> bool:
        """The data plane dropped a decrypted packet outside the SA's selectors: tell the
        peer with N(INVALID_SELECTORS) when ``crypto ikev2 notify invalid-selectors`` is on,
        at most once per SA every five seconds. Returns whether a notify was sent."""
        if not self.gateway.ikev2_notify_invalid_selectors:
            return False
        sa, child = self.find_child(spi_in)
        last = child.invalid_selectors_sent_at
        if last is not None and now - last < INVALID_SELECTORS_INTERVAL_S:
            self.drops["invalid-selectors-rate-limited"] += 1
            return False
        if sa.pending is not None or sa.retransmit_at is not None:
            self.drops["invalid-selectors-busy"] += 1
            return False
        child.invalid_selectors_sent_at = now
        notify = NotifyPayload(NotifyType.INVALID_SELECTORS, packet[:64], ProtocolId.ESP, spi_in)
        self._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, [notify], now)
        return True

    def delete_child(self, spi_in: bytes, now: float) -> None:
        """INFORMATIONAL with a Delete of one child SA (§1.4.1)."""
        sa, child = self.find_child(spi_in)
        self._request(
            sa,
            Pending("delete-child", child),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.ESP, (child.spi_in,))],
            now,
        )

    def check_liveness(self, sa: IkeSa, now: float) -> None:
        """An empty INFORMATIONAL request (dead peer detection); no answer after every
        retransmission ends the SA with ``PeerUnreachable``."""
        self._request(sa, Pending("liveness"), ExchangeType.INFORMATIONAL, [], now)

    def delete_ike_sa(self, sa: IkeSa, now: float) -> None:
        """INFORMATIONAL with a Delete of the IKE SA (and so of all its children)."""
        self._request(
            sa,
            Pending("delete-ike"),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.IKE)],
            now,
        )

    def _on_informational_request(
        self, sa: IkeSa, inner: list[Payload], mid: int, now: float
    ) -> None:
        """Deletes and liveness checks from the peer (§1.4)."""
        answer: list[Payload] = []
        ours: list[bytes] = []
        for notify in (p for p in inner if isinstance(p, NotifyPayload)):
            if notify.notify_type == NotifyType.INVALID_SELECTORS:
                self._events.append(InvalidSelectorsReceived(sa.peer, notify.spi, notify.data))
        for delete in (p for p in inner if isinstance(p, DeletePayload)):
            if int(delete.protocol_id) == ProtocolId.IKE:
                self._reply(sa, ExchangeType.INFORMATIONAL, [], mid)
                self._ike_deleted(sa, "deleted by the peer")
                return
            for spi in delete.spis:
                child = next((c for c in sa.children.values() if c.spi_out == spi), None)
                if child is not None:
                    del sa.children[child.spi_in]
                    ours.append(child.spi_in)
                    self._events.append(
                        ChildSaDeleted(child.spi_in, child.spi_out, "deleted by the peer")
                    )
        if ours:
            answer.append(DeletePayload(ProtocolId.ESP, tuple(ours)))
        self._reply(sa, ExchangeType.INFORMATIONAL, answer, mid)
