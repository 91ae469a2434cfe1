"""The fake network itself: delivery, loss, duplication, reordering, timers, bounds."""

from __future__ import annotations

from tests.protocol.network import (
    Address,
    FakeClock,
    FakeNetwork,
    SeededRandom,
    drop_nth,
    duplicate_nth,
)


class Echo:
    """A tiny engine: replies to each datagram, and retransmits its first one until answered."""

    def __init__(self, peer: Address | None = None, interval: float = 1.0, tries: int = 3) -> None:
        self.peer = peer
        self.outbox: list[tuple[bytes, Address]] = []
        self.received: list[bytes] = []
        self.interval, self.tries = interval, tries
        self.timer: float | None = None
        self.answered = False

    def start(self, now: float) -> None:
        assert self.peer is not None
        self.outbox.append((b"ping", self.peer))
        self.timer = now + self.interval

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.received.append(data)
        if data == b"ping":
            self.outbox.append((b"pong", addr))
        else:
            self.answered, self.timer = True, None

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        out, self.outbox = self.outbox, []
        return out

    def get_timer(self) -> float | None:
        return self.timer

    def handle_timer(self, now: float) -> None:
        self.tries -= 1
        if self.tries <= 0 or self.peer is None:
            self.timer = None
            return
        self.outbox.append((b"ping", self.peer))
        self.timer = now + self.interval


A, B = ("192.0.2.1", 500), ("192.0.2.2", 500)


def _pair(**kw: object) -> tuple[FakeNetwork, Echo, Echo]:
    net = FakeNetwork(FakeClock(), **kw)  # type: ignore[arg-type]
    a, b = Echo(peer=B), Echo()
    net.attach(A, a)
    net.attach(B, b)
    a.start(net.clock.now)
    return net, a, b


def test_delivery_and_reply() -> None:
    net, a, b = _pair()
    net.run()
    assert b.received == [b"ping"] and a.received == [b"pong"] and a.answered
    assert [s.fate for s in net.log] == ["delivered", "delivered"]


def test_a_dropped_request_is_retransmitted_on_the_timer() -> None:
    net, a, _ = _pair(rules=[drop_nth(0)])
    start = net.clock.now
    net.run()
    assert a.answered and net.clock.now == start + 1.0
    assert [s.fate for s in net.log] == ["dropped", "delivered", "delivered"]


def test_duplicates_are_delivered_twice() -> None:
    net, _, b = _pair(rules=[duplicate_nth(0)])
    net.run()
    assert b.received == [b"ping", b"ping"]


def test_seeded_loss_replays_identically() -> None:
    fates = []
    for _ in range(2):
        net, _, _ = _pair(seed=7, loss=0.5)
        net.run()
        fates.append([s.fate for s in net.log])
    assert fates[0] == fates[1]


def test_run_stops_when_nothing_is_left() -> None:
    net, a, _ = _pair(rules=[lambda i, s, d, data: "dropped"])
    net.run()
    assert not a.answered and a.timer is None
    assert len(net.log) == 3  # the first send and two retransmissions


def test_seeded_random_is_deterministic() -> None:
    assert SeededRandom(1)(16) == SeededRandom(1)(16) != SeededRandom(2)(16)
