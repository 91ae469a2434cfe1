"""Two (or more) sans-IO engines joined by a fake network and a fake clock.

The engines expose the house surface: ``receive_datagram(data, addr, now)``,
``datagrams_to_send(now) -> list[(data, addr)]``, ``get_timer() -> float | None`` and
``handle_timer(now)``. The network can drop, duplicate and reorder datagrams, decided by
a seeded random source or by explicit per-datagram rules, so that tests read as
timelines and replay exactly.

Addresses are IPv4 or IPv6 text (RFC 5952 for IPv6), and one engine may be attached at
several (a gateway with an IPv4 and an IPv6 address). An engine that serves several local
addresses (it has ``datagrams_to_send_from(now) -> list[(data, peer, local)]``, D115) sends
each datagram from the local address it names, which must be one it is attached at, and
receives with ``receive_datagram(data, addr, now, local=the address it arrived on)``; any
other engine sends from the address it is listed under and receives without ``local``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

Address = tuple[str, int]


class Engine(Protocol):
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


@runtime_checkable
class MultiAddressEngine(Protocol):
    """An engine that says which of its addresses each datagram leaves from and is told
    which one a datagram arrived on (the IKE engines, D115)."""

    def receive_datagram(
        self, data: bytes, addr: Address, now: float, local: Address | None = None
    ) -> None: ...
    def datagrams_to_send_from(self, now: float) -> list[tuple[bytes, Address, Address]]: ...


@dataclass(slots=True)
class FakeClock:
    """Monotonic seconds under the test's control."""

    now: float = 1000.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass(frozen=True, slots=True)
class Sent:
    """One datagram on the wire, for assertions on the timeline."""

    at: float
    source: Address
    destination: Address
    data: bytes
    fate: str  # delivered | dropped | duplicated


Rule = Callable[[int, Address, Address, bytes], str | None]


@dataclass(slots=True)
class FakeNetwork:
    """Carries datagrams between engines registered by address.

    ``rules`` see (index, source, destination, data) for each datagram in send order and may
    return "drop" or "duplicate"; otherwise ``loss``/``duplication`` probabilities apply, and
    ``reorder`` shuffles each delivery batch (all seeded).
    """

    clock: FakeClock = field(default_factory=FakeClock)
    seed: int = 0
    loss: float = 0.0
    duplication: float = 0.0
    reorder: bool = False
    rules: list[Rule] = field(default_factory=list)
    nat: dict[str, str] = field(default_factory=dict)  # private IP -> the public IP it uses
    engines: dict[Address, Engine] = field(default_factory=dict)
    log: list[Sent] = field(default_factory=list)
    _random: random.Random = field(init=False)
    _count: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def attach(self, address: Address, engine: Engine, *ports: int) -> None:
        """Register ``engine`` at ``address`` (and at the same IP on ``ports``, e.g. 4500)."""
        self.engines[address] = engine
        for port in ports:
            self.engines[(address[0], port)] = engine

    def _public(self, address: Address) -> Address:
        return (self.nat.get(address[0], address[0]), address[1])

    def _private(self, address: Address) -> Address:
        for private, public in self.nat.items():
            if public == address[0]:
                return (private, address[1])
        return address

    def _fate(self, source: Address, destination: Address, data: bytes) -> str:
        index = self._count
        self._count += 1
        for rule in self.rules:
            decided = rule(index, source, destination, data)
            if decided is not None:
                return decided
        if self._random.random() < self.loss:
            return "dropped"
        if self._random.random() < self.duplication:
            return "duplicated"
        return "delivered"

    def _outgoing(self, address: Address, engine: Engine) -> list[tuple[bytes, Address, str]]:
        """(data, destination, local IP) of what ``engine``, listed under ``address``, sends."""
        now = self.clock.now
        if not isinstance(engine, MultiAddressEngine):
            return [(data, peer, address[0]) for data, peer in engine.datagrams_to_send(now)]
        out = engine.datagrams_to_send_from(now)
        own = {a[0] for a, e in self.engines.items() if e is engine}
        for _, peer, local in out:
            if local[0] not in own:
                raise AssertionError(f"an engine sends to {peer} from {local[0]}, not its own")
        return [(data, peer, local[0]) for data, peer, local in out]

    def step(self) -> int:
        """Deliver everything the engines want to send now; returns how many were delivered."""
        batch: list[tuple[Address, Address, bytes]] = []
        for address, engine in self.engines.items():
            for data, destination, local_ip in self._outgoing(address, engine):
                # like the UDP runner: sent from the port it is sent to (500 or 4500),
                # and through the NAT if the sender sits behind one
                source = self._public((local_ip, destination[1]))
                destination = self._private(destination)
                fate = self._fate(source, destination, data)
                self.log.append(Sent(self.clock.now, source, destination, data, fate))
                if fate == "dropped" or destination not in self.engines:
                    continue
                batch.append((source, destination, data))
                if fate == "duplicated":
                    batch.append((source, destination, data))
        if self.reorder:
            self._random.shuffle(batch)
        for source, destination, data in batch:
            engine = self.engines[destination]
            if isinstance(engine, MultiAddressEngine):
                engine.receive_datagram(data, source, self.clock.now, local=destination)
            else:
                engine.receive_datagram(data, source, self.clock.now)
        return len(batch)

    def run(self, *, max_seconds: float = 300.0, max_steps: int = 10_000) -> None:
        """Deliver and fire timers until nothing is left to do (bounded in steps and time)."""
        deadline = self.clock.now + max_seconds
        for _ in range(max_steps):
            if self.step():
                continue
            timers = [t for e in self.engines.values() if (t := e.get_timer()) is not None]
            if not timers:
                return
            when = min(timers)
            if when > deadline:
                return
            self.clock.now = max(self.clock.now, when)
            for engine in self.engines.values():
                timer = engine.get_timer()
                if timer is not None and timer <= self.clock.now:
                    engine.handle_timer(self.clock.now)
        raise AssertionError(f"network still busy after {max_steps} steps")


def drop_nth(*indexes: int) -> Rule:
    """A rule dropping the datagrams with these send indexes (0-based)."""
    wanted = set(indexes)

    def rule(index: int, source: Address, destination: Address, data: bytes) -> str | None:
        return "dropped" if index in wanted else None

    return rule


def duplicate_nth(*indexes: int) -> Rule:
    wanted = set(indexes)

    def rule(index: int, source: Address, destination: Address, data: bytes) -> str | None:
        return "duplicated" if index in wanted else None

    return rule


class SeededRandom:
    """The randomness engines receive: deterministic bytes from a seed (never os.urandom)."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def __call__(self, n: int) -> bytes:
        return self._random.randbytes(n)
