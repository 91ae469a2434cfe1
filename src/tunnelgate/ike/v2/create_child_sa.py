"""The CREATE_CHILD_SA exchange (RFC 7296 §1.3): rekeying a child SA with optional PFS
(§1.3.3) and its collisions (§2.8.1), rekeying the IKE SA (§1.3.2, §2.18), and new child
SAs as the responder (§1.3.1).
"""

from __future__ import annotations

from tunnelgate.crypto import dh
from tunnelgate.ike.v2 import proposals as wire
from tunnelgate.ike.v2.constants import ExchangeType, NotifyType, ProtocolId
from tunnelgate.ike.v2.encoding import DecodeError
from tunnelgate.ike.v2.events import ChildSaFailed, IkeSaFailed
from tunnelgate.ike.v2.keymat import derive_rekeyed_ike_keys
from tunnelgate.ike.v2.payloads import (
    DeletePayload,
    KePayload,
    NoncePayload,
    NotifyPayload,
    Payload,
    SaPayload,
    TsiPayload,
    TsrPayload,
)
from tunnelgate.ike.v2.sa_lifecycle import SaLifecycle
from tunnelgate.ike.v2.state import NONCE_BYTES, Child, IkeSa, Pending, _Algorithms
from tunnelgate.ike.v2.task_manager import _first, _notify_name
from tunnelgate.ike.v2.traffic_selectors import _narrowed, _proposed, _ts
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.ike_proposal import Ikev2Choice, select_ikev2
from tunnelgate.policy.ipsec_proposal import check_pfs, select_ipsec_proposal
from tunnelgate.policy.refusal import Refusal
from tunnelgate.policy.responder import choose_entry
from tunnelgate.policy.selector import Selector


class CreateChildSaExchange(SaLifecycle):
    """CREATE_CHILD_SA for child SAs and the IKE SA, as initiator and responder."""

    def rekey_child(self, spi_in: bytes, now: float) -> None:
        """CREATE_CHILD_SA rekeying the child SA we receive on with ``spi_in`` (§1.3.3)."""
        sa, child = self.find_child(spi_in)
        child.rekey_at = None
        self._child_request(sa, Pending("rekey-child", child), now)

    def create_child(self, sa: IkeSa, entry: MapEntry, rule: Rule, now: float) -> None:
        """CREATE_CHILD_SA for another child SA on an established IKE SA (§1.3.1), for the
        traffic of one permit ACE (the ASA builds one SA per permit line)."""
        if not rule.selectors:
            raise ValueError(f"{rule.acl} line {rule.line} names no traffic")
        mode = "transport" if entry.ikev2_mode != "tunnel" else "tunnel"
        template = Child(b"", b"", "", "", mode, rule.selectors[0], entry)
        self._child_request(sa, Pending("new-child", template), now)

    def _child_request(self, sa: IkeSa, pending: Pending, now: float) -> None:
        child = pending.child
        assert child is not None
        pending.new_spi, pending.nonce = self._new_child_spi(), self.random(NONCE_BYTES)
        payloads: list[Payload] = []
        if pending.kind == "rekey-child":
            payloads.append(NotifyPayload(NotifyType.REKEY_SA, b"", ProtocolId.ESP, child.spi_in))
        payloads += [
            wire.esp_offer(child.entry.proposals, pending.new_spi, child.entry.pfs_group),
            NoncePayload(pending.nonce),
        ]
        if child.entry.pfs_group is not None:
            pending.group = child.entry.pfs_group
            pending.private, public = dh.group(pending.group).generate(self.random)
            payloads.append(KePayload(pending.group, public))
        if child.mode == "transport":
            payloads.insert(0, NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        sel = child.selector
        payloads += [
            TsiPayload((_ts(sel.source, sel.source_ports, sel),)),
            TsrPayload((_ts(sel.destination, sel.destination_ports, sel),)),
        ]
        self._request(sa, pending, ExchangeType.CREATE_CHILD_SA, payloads, now)

    def rekey_ike_sa(self, sa: IkeSa, now: float) -> None:
        """CREATE_CHILD_SA rekeying the IKE SA itself (RFC 7296 §1.3.2), same algorithms."""
        assert sa.choice is not None
        c = sa.choice
        sa.rekey_at = None
        pending = Pending("rekey-ike", None, self._new_spi(), self.random(NONCE_BYTES), c.group)
        pending.private, public = dh.group(c.group).generate(self.random)
        offer = wire.ike_answer(1, c.encryption, c.integrity, c.prf, c.group, pending.new_spi)
        payloads: list[Payload] = [offer, NoncePayload(pending.nonce), KePayload(c.group, public)]
        self._request(sa, pending, ExchangeType.CREATE_CHILD_SA, payloads, now)

    def _on_child_response(
        self,
        sa: IkeSa,
        pending: Pending,
        inner: list[Payload],
        errors: list[NotifyPayload],
        now: float,
    ) -> None:
        old = pending.child
        assert old is not None
        new_child = pending.kind == "new-child"
        if errors:
            name = _notify_name(errors[0].notify_type)
            what = "the new child SA" if new_child else "the rekey"
            refused = f"the peer refused {what}"
            self._events.append(ChildSaFailed(sa.peer, name, refused, rekey=not new_child))
            return
        answer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
        answers = wire.esp_offers_as_proposals(answer) if answer else []
        if nonce is None or len(answers) != 1:
            raise DecodeError("CREATE_CHILD_SA response without SA or Nonce")
        proposal, chosen = answers[0]
        picked = select_ipsec_proposal([chosen], old.entry.proposals)
        if isinstance(picked, Refusal):
            self._events.append(ChildSaFailed(sa.peer, picked.notify, picked.reason))
            return
        shared = b""
        if pending.private is not None:
            ke = _first(inner, KePayload)
            if ke is None or pending.group is None or int(ke.dh_group) != pending.group:
                self._events.append(
                    ChildSaFailed(
                        sa.peer, "NO_PROPOSAL_CHOSEN", "the peer answered PFS without our group"
                    )
                )
                return
            shared = dh.group(pending.group).shared_secret(pending.private, ke.data)
        mine = self._child(
            sa,
            picked.encryption,
            picked.integrity,
            pending.new_spi,
            proposal.spi,
            "transport" if new_child and _transport(inner) else old.mode,
            _narrowed_from(old.selector, inner) if new_child else old.selector,
            old.entry,
            nonces=(pending.nonce, nonce.data),
            shared_secret=shared,
            initiator=True,
            rekeyed=None if new_child else old,
            now=now,
            peer_payloads=inner,
        )
        if new_child:
            return
        if old.collision is not None:
            ours = (pending.nonce, nonce.data)
            lowest = min(*ours, *old.collision)
            if lowest in ours:  # our new SA is the redundant one: we close it
                mine.closing = True
                self._request(
                    sa,
                    Pending("delete-child", mine),
                    ExchangeType.INFORMATIONAL,
                    [DeletePayload(ProtocolId.ESP, (mine.spi_in,))],
                    now,
                )
                return
        # the rekeyed SA is deleted by the side that rekeyed it (RFC 7296 §2.8)
        old.closing = True
        self._request(
            sa,
            Pending("delete-child", old),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.ESP, (old.spi_in,))],
            now,
        )

    def _on_create_child_request(
        self, sa: IkeSa, inner: list[Payload], mid: int, now: float
    ) -> None:
        """Rekey of the IKE SA, of a child SA (REKEY_SA), or a new child SA, as the responder."""
        offer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
        if offer is None or nonce is None:
            raise DecodeError("CREATE_CHILD_SA request without SA or Nonce")
        if any(int(p.protocol_id) == ProtocolId.IKE for p in offer.proposals):
            self._on_ike_rekey_request(sa, offer, nonce, inner, mid, now)
            return
        tsi, tsr = _first(inner, TsiPayload), _first(inner, TsrPayload)
        if tsi is None or tsr is None:
            raise DecodeError("CREATE_CHILD_SA request for a child SA without TSi or TSr")
        rekey = next(
            (
                n
                for n in inner
                if isinstance(n, NotifyPayload) and n.notify_type == NotifyType.REKEY_SA
            ),
            None,
        )
        old = None
        if rekey is not None:
            old = next((c for c in sa.children.values() if c.spi_out == rekey.spi), None)
            if old is None:
                self._reply(
                    sa,
                    ExchangeType.CREATE_CHILD_SA,
                    [NotifyPayload(NotifyType.CHILD_SA_NOT_FOUND, b"", ProtocolId.ESP, rekey.spi)],
                    mid,
                )
                return
            if old.closing:
                # "a request to rekey a CHILD_SA that it is currently trying to close":
                # our rekey of it is done (or it is the redundant one), the peer's would
                # make a second successor that nobody deletes (RFC 7296 §2.8.1)
                self._reply(
                    sa,
                    ExchangeType.CREATE_CHILD_SA,
                    [NotifyPayload(NotifyType.TEMPORARY_FAILURE)],
                    mid,
                )
                return
            entry, selector = old.entry, old.selector
        else:
            cmap = self.gateway.crypto_maps.get(self.interface)
            wanted = _proposed(tsi, tsr)
            found = choose_entry(cmap, sa.peer[0], wanted, 2) if cmap else None
            if found is None or isinstance(found, Refusal):
                self._reply(
                    sa,
                    ExchangeType.CREATE_CHILD_SA,
                    [NotifyPayload(NotifyType.TS_UNACCEPTABLE)],
                    mid,
                )
                return
            entry, selector = found.entry, found.selector
        offered = wire.esp_offers_as_proposals(offer)
        picked = select_ipsec_proposal([p for _, p in offered], entry.proposals)
        ke = _first(inner, KePayload)
        pfs = check_pfs(int(ke.dh_group) if ke else None, entry.pfs_group)
        if isinstance(picked, Refusal) or pfs is not None:
            reason = picked.reason if isinstance(picked, Refusal) else pfs.reason if pfs else ""
            self._events.append(ChildSaFailed(sa.peer, "NO_PROPOSAL_CHOSEN", reason))
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)],
                mid,
            )
            return
        wire_proposal = next(w for w, p in offered if p == picked.offer)
        nonce_r, spi = self.random(NONCE_BYTES), self._new_child_spi()
        answer: list[Payload] = [
            wire.esp_answer(wire_proposal.number, spi, picked.encryption, picked.integrity),
            NoncePayload(nonce_r),
        ]
        shared = b""
        if ke is not None:
            group = dh.group(int(ke.dh_group))
            private, public = group.generate(self.random)
            shared = group.shared_secret(private, ke.data)
            answer.append(KePayload(int(ke.dh_group), public))
        mode = old.mode if old else "tunnel"
        pending = sa.pending
        if (
            old is not None
            and pending is not None
            and pending.kind == "rekey-child"
            and (pending.child is old)
        ):
            old.collision = (nonce.data, nonce_r)  # both sides rekey this child at once
        self._child(
            sa,
            picked.encryption,
            picked.integrity,
            spi,
            wire_proposal.spi,
            mode,
            selector,
            entry,
            nonces=(nonce.data, nonce_r),
            shared_secret=shared,
            initiator=False,
            rekeyed=old,
            now=now,
            peer_payloads=inner,
        )
        if mode == "transport":
            answer.insert(0, NotifyPayload(NotifyType.USE_TRANSPORT_MODE))
        answer += [
            TsiPayload((_ts(selector.destination, selector.destination_ports, selector),)),
            TsrPayload((_ts(selector.source, selector.source_ports, selector),)),
        ]
        self._reply(sa, ExchangeType.CREATE_CHILD_SA, answer, mid)

    def _on_ike_rekey_response(
        self,
        sa: IkeSa,
        pending: Pending,
        inner: list[Payload],
        errors: list[NotifyPayload],
        now: float,
    ) -> None:
        if errors:
            name = _notify_name(errors[0].notify_type)
            self._events.append(IkeSaFailed(sa.peer, name, "the peer refused the IKE rekey"))
            return
        answer, nonce = _first(inner, SaPayload), _first(inner, NoncePayload)
        ke = _first(inner, KePayload)
        if answer is None or nonce is None or ke is None or len(answer.proposals) != 1:
            raise DecodeError("IKE rekey response without SA, Nonce or KE")
        offers = wire.ike_offers_as_policies(answer)
        choice = select_ikev2(offers, self.gateway.ikev2_policies) if offers else None
        if (
            not isinstance(choice, Ikev2Choice)
            or pending.private is None
            or int(ke.dh_group) != pending.group
            or len(answer.proposals[0].spi) != 8
        ):
            self._events.append(
                IkeSaFailed(sa.peer, "NO_PROPOSAL_CHOSEN", "unusable answer to our IKE rekey")
            )
            return
        shared = dh.group(choice.group).shared_secret(pending.private, ke.data)
        mine = self._rekeyed_sa(
            sa,
            initiator=True,
            spi_i=pending.new_spi,
            spi_r=answer.proposals[0].spi,
            choice=choice,
            nonce_i=pending.nonce,
            nonce_r=nonce.data,
            shared=shared,
            now=now,
        )
        if sa.collision is not None:  # both sides rekeyed this IKE SA at once (§2.8.2)
            theirs, their_ni, their_nr = sa.collision
            ours = (pending.nonce, nonce.data)
            if min(*ours, their_ni, their_nr) in ours:
                # the SA we made is redundant: its children go to theirs, we delete ours
                theirs.children.update(mine.children)
                mine.children = {}
                self._reschedule(theirs)
                self._request(
                    mine,
                    Pending("delete-ike"),
                    ExchangeType.INFORMATIONAL,
                    [DeletePayload(ProtocolId.IKE)],
                    now,
                )
                return
            mine.children.update(theirs.children)  # ours survives; the peer deletes theirs
            theirs.children = {}
            self._reschedule(mine)
        # the initiator of the rekey deletes the old IKE SA (RFC 7296 §2.18)
        self._request(
            sa,
            Pending("delete-ike"),
            ExchangeType.INFORMATIONAL,
            [DeletePayload(ProtocolId.IKE)],
            now,
        )

    def _on_ike_rekey_request(
        self,
        sa: IkeSa,
        offer: SaPayload,
        nonce: NoncePayload,
        inner: list[Payload],
        mid: int,
        now: float,
    ) -> None:
        """The peer rekeys the IKE SA: answer and create the new SA; the peer deletes the old."""
        ke = _first(inner, KePayload)
        choice = select_ikev2(wire.ike_offers_as_policies(offer), self.gateway.ikev2_policies)
        if isinstance(choice, Refusal) or ke is None:
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.NO_PROPOSAL_CHOSEN)],
                mid,
            )
            return
        if int(ke.dh_group) != choice.group:
            data = choice.group.to_bytes(2, "big")
            self._reply(
                sa,
                ExchangeType.CREATE_CHILD_SA,
                [NotifyPayload(NotifyType.INVALID_KE_PAYLOAD, data)],
                mid,
            )
            return
        chosen = next(p for p in offer.proposals if p.number == choice.offer.priority)
        if len(chosen.spi) != 8:
            raise DecodeError("IKE rekey proposal without an 8-byte SPI")
        group = dh.group(choice.group)
        private, public = group.generate(self.random)
        shared = group.shared_secret(private, ke.data)
        nonce_r, spi_r = self.random(NONCE_BYTES), self._new_spi()
        answer = wire.ike_answer(
            chosen.number, choice.encryption, choice.integrity, choice.prf, choice.group, spi_r
        )
        self._reply(
            sa,
            ExchangeType.CREATE_CHILD_SA,
            [answer, NoncePayload(nonce_r), KePayload(choice.group, public)],
            mid,
        )
        theirs = self._rekeyed_sa(
            sa,
            initiator=False,
            spi_i=chosen.spi,
            spi_r=spi_r,
            choice=choice,
            nonce_i=nonce.data,
            nonce_r=nonce_r,
            shared=shared,
            now=now,
        )
        if sa.pending is not None and sa.pending.kind == "rekey-ike":
            sa.collision = (theirs, nonce.data, nonce_r)  # our own rekey is outstanding

    def _rekeyed_sa(
        self,
        old: IkeSa,
        *,
        initiator: bool,
        spi_i: bytes,
        spi_r: bytes,
        choice: Ikev2Choice,
        nonce_i: bytes,
        nonce_r: bytes,
        shared: bytes,
        now: float,
    ) -> IkeSa:
        """The IKE SA that replaces ``old``: new keys, counters at 0, the children moved."""
        assert old.keys is not None
        old_algorithms, new = self._algorithms(old), _Algorithms.of(choice)
        keys = derive_rekeyed_ike_keys(
            old_algorithms.prf,
            old.keys.sk_d,
            new.prf,
            new.encryption,
            new.integrity,
            nonce_i,
            nonce_r,
            shared,
            spi_i,
            spi_r,
        )
        sa = IkeSa(
            initiator,
            old.peer,
            spi_i,
            spi_r,
            local_address=old.local_address,
            nonce_i=nonce_i,
            nonce_r=nonce_r,
            group=choice.group,
            choice=choice,
            keys=keys,
            nat_detected=old.nat_detected,
        )
        sa.children, old.children = old.children, {}
        self._add_sa(sa)
        self._established(sa, now)
        return sa


def _transport(inner: list[Payload]) -> bool:
    return any(
        isinstance(p, NotifyPayload) and p.notify_type == NotifyType.USE_TRANSPORT_MODE
        for p in inner
    )


def _narrowed_from(requested: Selector, inner: list[Payload]) -> Selector:
    tsi, tsr = _first(inner, TsiPayload), _first(inner, TsrPayload)
    return _narrowed(requested, tsi, tsr) if tsi and tsr else requested
