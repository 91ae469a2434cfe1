"""Runs an IKE engine on real UDP sockets: port 500 and, for NAT traversal, port 4500.

On 4500, IKE messages carry the four-zero-byte non-ESP marker (RFC 3948 §2.2): it is
stripped on receipt and added on sending; a one-byte NAT keepalive (0xFF) is ignored;
anything else there is ESP, which belongs to the data plane: it goes to ``on_esp`` if given
(``send_esp`` sends ESP back from the same socket), and is dropped otherwise.
The runner only moves bytes and re-arms one timer; every decision stays in the engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, cast

from tunnelgate.esp.udp_encap import NAT_KEEPALIVE, NON_ESP_MARKER

IKE_PORT, NAT_T_PORT = 500, 4500

Address = tuple[str, int]


class Engine(Protocol):
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None: ...
    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...
    def next_event(self) -> Any: ...


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, runner: IkeRunner, port: int) -> None:
        self.runner, self.port = runner, port
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.runner.received(data, (str(addr[0]), int(addr[1])), self.port)


def _returning(protocol: _Socket) -> Callable[[], _Socket]:
    return lambda: protocol


class IkeRunner:
    """One engine on ``address`` ports 500 and 4500; events go to ``on_event``."""

    def __init__(
        self,
        engine: Engine,
        address: str,
        on_event: Callable[[Any], None],
        *,
        on_esp: Callable[[bytes, Address], None] | None = None,
    ) -> None:
        self.engine, self.address, self.on_event = engine, address, on_event
        self.on_esp = on_esp
        self._sockets: dict[int, _Socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        for port in (IKE_PORT, NAT_T_PORT):
            protocol = _Socket(self, port)
            await self._loop.create_datagram_endpoint(
                _returning(protocol), local_addr=(self.address, port)
            )
            self._sockets[port] = protocol

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def received(self, data: bytes, addr: Address, port: int) -> None:
        if port == NAT_T_PORT:
            if data == NAT_KEEPALIVE:
                return
            if not data.startswith(NON_ESP_MARKER):
                if self.on_esp is not None:
                    self.on_esp(data, addr)  # ESP, for the data plane
                return
            data = data[len(NON_ESP_MARKER) :]
        self.engine.receive_datagram(data, addr, self.now())
        self.flush()

    def command(self, action: Callable[[float], object]) -> object:
        """Run an engine command (e.g. ``initiate``) with the current time, then flush."""
        result = action(self.now())
        self.flush()
        return result

    def flush(self) -> None:
        now = self.now()
        for data, addr in self.engine.datagrams_to_send(now):
            if addr[1] == NAT_T_PORT:
                self._send(NAT_T_PORT, NON_ESP_MARKER + data, addr)
            else:
                self._send(IKE_PORT, data, addr)
        while (event := self.engine.next_event()) is not None:
            self.on_event(event)
        self._arm()

    def send_esp(self, data: bytes, addr: Address) -> None:
        """Send one UDP-encapsulated ESP packet (no marker) from port 4500."""
        self._send(NAT_T_PORT, data, addr)

    def _send(self, port: int, data: bytes, addr: Address) -> None:
        transport = self._sockets[port].transport
        if transport is not None:
            transport.sendto(data, addr)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.engine.get_timer()
        if when is not None and self._loop is not None:
            self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.engine.handle_timer(self.now())
        self.flush()
