"""``PacketIo``'s ESP-in-UDP batching over loopback: consecutive datagrams of one flow leave
in one UDP_SEGMENT send and a UDP_GRO socket splits what arrives coalesced back into the
same datagrams, in order; other outputs and other flows break a batch."""

from __future__ import annotations

import select
import socket
from typing import Any, cast

import pytest

from tunnelgate.daemon.packet_io import SOL_UDP, UDP_GRO, PacketIo
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.outputs import Address, Output, SendUdp


class FakeGateway:
    """What ``PacketIo.flush`` and the readers use of a ``Gateway``."""

    def __init__(self) -> None:
        self.pending: list[Output] = []
        self.received: list[tuple[Address, Address, bytes]] = []

    def outputs(self) -> list[Output]:
        out, self.pending = self.pending, []
        return out

    def next_event(self) -> None:
        return None

    def get_timer(self) -> None:
        return None

    def receive_udp(self, local: Address, remote: Address, data: bytes, now: float) -> None:
        self.received.append((local, remote, bytes(data)))


def _udp(*, gro: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    if gro:
        sock.setsockopt(SOL_UDP, UDP_GRO, 1)
    return sock


def _io(gateway: FakeGateway, sender: socket.socket) -> PacketIo:
    io = PacketIo(cast(Gateway, gateway), "tgtest0", log=lambda line: None)
    io.udp[sender.getsockname()] = sender
    return io


def _read_all(io: PacketIo, sock: socket.socket, count: int) -> None:
    local = sock.getsockname()
    for _ in range(50):
        if len(cast(Any, io.gateway).received) >= count:
            return
        select.select([sock], [], [], 0.1)
        io._udp_gro_readable(sock, local)


def test_segments_are_sent_together_and_split_back_in_order() -> None:
    sender, receiver = _udp(), _udp(gro=True)
    try:
        gateway = FakeGateway()
        io = _io(gateway, sender)
        local, remote = sender.getsockname(), receiver.getsockname()
        datagrams = [bytes([n]) * 1000 for n in range(10)] + [b"\x0a" * 300]
        gateway.pending = [SendUdp(local, remote, d) for d in datagrams]
        io.flush()
        assert io.errors == {}
        _read_all(io, receiver, len(datagrams))
        assert [r[2] for r in gateway.received] == datagrams
        assert {r[1] for r in gateway.received} == {local}
    finally:
        sender.close()
        receiver.close()


def test_a_batch_breaks_on_another_size_flow_or_df_and_keeps_the_order() -> None:
    sender, one, two = _udp(), _udp(gro=True), _udp(gro=True)
    try:
        gateway = FakeGateway()
        io = _io(gateway, sender)
        local = sender.getsockname()
        sizes = [800, 800, 400, 800, 900, 900]  # a shorter one ends a batch, a larger too
        to_one = [bytes([n]) * size for n, size in enumerate(sizes)]
        gateway.pending = [
            *[SendUdp(local, one.getsockname(), d) for d in to_one[:3]],
            SendUdp(local, two.getsockname(), b"x" * 800),
            *[SendUdp(local, one.getsockname(), d, df=True) for d in to_one[3:]],
        ]
        io.flush()
        assert io.errors == {}
        _read_all(io, one, len(to_one))
        assert [r[2] for r in gateway.received] == to_one
        gateway.received.clear()
        _read_all(io, two, 1)
        assert [r[2] for r in gateway.received] == [b"x" * 800]
    finally:
        for sock in (sender, one, two):
            sock.close()


def test_without_offload_every_datagram_is_sent_alone() -> None:
    sender, receiver = _udp(), _udp()
    try:
        gateway = FakeGateway()
        io = _io(gateway, sender)
        io.gso = False
        local, remote = sender.getsockname(), receiver.getsockname()
        datagrams = [bytes([n]) * 500 for n in range(5)]
        gateway.pending = [SendUdp(local, remote, d) for d in datagrams]
        io.flush()
        got = []
        for _ in range(50):
            try:
                got.append(receiver.recv(2000))
            except BlockingIOError:
                if len(got) == len(datagrams):
                    break
                select.select([receiver], [], [], 0.1)
        assert got == datagrams
    finally:
        sender.close()
        receiver.close()


@pytest.mark.parametrize("size", [1, 1472])
def test_a_single_datagram_is_sent_plainly(size: int) -> None:
    sender, receiver = _udp(), _udp(gro=True)
    try:
        gateway = FakeGateway()
        io = _io(gateway, sender)
        gateway.pending = [SendUdp(sender.getsockname(), receiver.getsockname(), b"\xff" * size)]
        io.flush()
        _read_all(io, receiver, 1)
        assert [r[2] for r in gateway.received] == [b"\xff" * size]
    finally:
        sender.close()
        receiver.close()
