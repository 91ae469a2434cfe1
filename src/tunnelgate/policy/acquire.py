"""ACQUIRE: traffic a crypto map permits but no SA carries yet (sans-IO, time passed in).

Such a packet is never sent in the clear. The first one for an SA asks IKE to negotiate
(``Acquire``) and waits in a short queue with the next few; ``sa_ready`` releases them,
``expire`` drops them when negotiation takes too long. A dynamic-map entry cannot
initiate ("Create Dynamic Crypto Maps"): its packets are dropped at once.

| packet for an SA that…                  | result                                      |
|-----------------------------------------|---------------------------------------------|
| belongs to a dynamic-map entry          | ``Drop(no-sa-dynamic-map)``                 |
| is the first one (nothing pending)      | ``Acquire(key)``, packet queued             |
| finds a pending queue with room         | packet queued                               |
| finds a full queue                      | ``Drop(acquire-queue-full)``                |
| is still queued at the deadline         | ``Drop(acquire-timeout)`` from ``expire``   |
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tunnelgate.policy.acl import Rule
from tunnelgate.policy.selector import Flow
from tunnelgate.policy.spd import Drop, DropReason, Protect


@dataclass(frozen=True, slots=True)
class AcquireKey:
    """The SA a packet waits for: its crypto map entry and permit ACE (the SA's scope), and
    which of the ACE's selectors (an object or group expands to several, of either family)
    matched it: each is negotiated as an SA of its own, as the ASA does for expanded ACEs.

    Identity is by names and numbers, so that keys are cheap to hash; ``protect`` rides
    along to label drops and to tell IKE what to negotiate (``rule``)."""

    map: str
    seq: int
    dynamic_map: str | None
    dynamic_seq: int | None
    acl: str
    line: int
    protect: Protect = field(compare=False, repr=False)
    selector: int = 0  # the index in ``protect.rule.selectors`` of the one that matched

    @classmethod
    def of(cls, protect: Protect, flow: Flow | None = None) -> AcquireKey:
        e, r = protect.entry, protect.rule
        index = 0
        if flow is not None and len(r.selectors) > 1:
            index = next((i for i, s in enumerate(r.selectors) if s.matches(flow)), 0)
        return cls(e.map, e.seq, e.dynamic_map, e.dynamic_seq, r.acl, r.line, protect, index)

    @property
    def rule(self) -> Rule:
        """The ACE to negotiate: only the selector that matched, when it has several."""
        rule = self.protect.rule
        if len(rule.selectors) <= 1:
            return rule
        return replace(rule, selectors=(rule.selectors[self.selector],))

    @property
    def is_dynamic(self) -> bool:
        return self.protect.entry.is_dynamic


@dataclass(frozen=True, slots=True)
class Acquire:
    """Start negotiating an SA for ``key`` (the ASA's ACQUIRE)."""

    key: AcquireKey


AcquireEvent = Acquire | Drop


@dataclass(slots=True)
class _Pending:
    deadline: float
    packets: list[bytes]


class AcquireTable:
    """Packets waiting for SAs being negotiated, at most ``max_packets_per_sa`` each."""

    def __init__(self, max_packets_per_sa: int = 4, timeout_s: float = 30.0) -> None:
        self.max_packets_per_sa = max_packets_per_sa
        self.timeout_s = timeout_s
        self._pending: dict[AcquireKey, _Pending] = {}

    def on_protect_without_sa(
        self, key: AcquireKey, packet: bytes, now: float
    ) -> list[AcquireEvent]:
        """A packet matched a permit of ``key`` and no SA exists."""
        if key.is_dynamic:
            return [self._drop(DropReason.NO_SA_DYNAMIC_MAP, key)]
        pending = self._pending.get(key)
        events: list[AcquireEvent] = []
        if pending is None:
            pending = self._pending[key] = _Pending(now + self.timeout_s, [])
            events.append(Acquire(key))
        if len(pending.packets) < self.max_packets_per_sa:
            pending.packets.append(packet)
        else:
            events.append(self._drop(DropReason.ACQUIRE_QUEUE_FULL, key))
        return events

    def sa_ready(self, key: AcquireKey, now: float) -> list[bytes]:
        """The SA for ``key`` is up: the queued packets, oldest first, to send through it."""
        pending = self._pending.pop(key, None)
        return pending.packets if pending is not None else []

    def sa_failed(self, key: AcquireKey, now: float) -> list[Drop]:
        """Negotiation for ``key`` failed: one drop per queued packet."""
        pending = self._pending.pop(key, None)
        n = len(pending.packets) if pending is not None else 0
        return [self._drop(DropReason.ACQUIRE_FAILED, key)] * n

    def expire(self, now: float) -> list[Drop]:
        """Give up on SAs whose deadline has passed: one drop per queued packet."""
        expired = [k for k, p in self._pending.items() if p.deadline <= now]
        drops: list[Drop] = []
        for key in expired:
            pending = self._pending.pop(key)
            drops.extend([self._drop(DropReason.ACQUIRE_TIMEOUT, key)] * len(pending.packets))
        return drops

    def next_deadline(self) -> float | None:
        """When ``expire`` next has something to do, None when nothing is pending."""
        return min((p.deadline for p in self._pending.values()), default=None)

    def pending(self) -> dict[AcquireKey, int]:
        """Keys being negotiated and how many packets wait for each."""
        return {k: len(p.packets) for k, p in self._pending.items()}

    @staticmethod
    def _drop(reason: DropReason, key: AcquireKey) -> Drop:
        return Drop(reason, key.protect.entry, key.protect.rule)


__all__ = ["Acquire", "AcquireEvent", "AcquireKey", "AcquireTable"]
