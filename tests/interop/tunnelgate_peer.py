"""Run tunnelgate's IKEv2 engine on real UDP inside a namespace, for interop tests.

    ip netns exec NS python -m tests.interop.tunnelgate_peer CONFIG --interface outside
        [--initiate] [--seconds 20] [--tun NAME --inner-src ADDR]

Prints ``ready`` once the sockets are bound, then one JSON object per engine event (keys
are never printed), and exits after ``--seconds`` or on SIGTERM. With ``--tun``, each
established child SA carries traffic: the child's remote network is routed into TUN ``NAME``
(source ``--inner-src``), packets read there are protected and sent as UDP-encapsulated ESP
from port 4500, and ESP arriving on 4500 is unprotected into the TUN (sent on the newest child SA;
received on whichever installed SA its SPI names, so a rekeyed SA keeps decrypting until it
is deleted); the ESP counters, overall and per SA, are printed at exit as an ``EspCounters``
event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.esp.child_sa import ChildSa
from tunnelgate.esp.packet import EspError, EspKeys, EspTransform, peek_spi_seq
from tunnelgate.esp.sa import Lifetime
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import ChildSaDeleted, ChildSaEstablished, IkeSaEstablished
from tunnelgate.net.esp_runner import EspRunner
from tunnelgate.net.ike_runner import Address, IkeRunner
from tunnelgate.net.tun import TunDevice
from tunnelgate.policy.address import ipv4_text, range_to_prefixes
from tunnelgate.policy.selector import Range


def event_json(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event": type(event).__name__}
    for name in getattr(event, "__slots__", ()):
        if name == "keys":
            continue
        value = getattr(event, name)
        if isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, str | int | bool | type(None)):
            value = value.describe() if hasattr(value, "describe") else str(value)
        out[name] = value
    if isinstance(event, ChildSaEstablished):
        out["selector"] = event.selector.describe()
    return out


def child_sa(event: ChildSaEstablished, now: float) -> ChildSa:
    """The ESP SA of an established child: we send with the peer's SPI, receive on ours."""
    keys = event.keys  # initiator->responder first
    mine = EspKeys(keys.encr_i, keys.integ_i), EspKeys(keys.encr_r, keys.integ_r)
    out_keys, in_keys = mine if event.initiator else mine[::-1]
    outbound = EspTransform.from_keywords(
        int.from_bytes(event.spi_out, "big"), event.encryption, event.integrity, out_keys
    )
    inbound = EspTransform.from_keywords(
        int.from_bytes(event.spi_in, "big"), event.encryption, event.integrity, in_keys
    )
    unlimited = Lifetime(seconds=None, kilobytes=None)
    return ChildSa(outbound, inbound, unlimited, now, os.urandom)


def prefixes(addresses: Range) -> list[str]:
    return [
        f"{ipv4_text(net)}/{length}"
        for net, length in range_to_prefixes(addresses.low, addresses.high)
    ]


class DataPlane:
    """One TUN carrying child SA traffic over the IKE runner's port 4500 (make-before-break).

    Outbound traffic uses the newest child SA; inbound ESP is looked up by its SPI among the
    installed SAs, so an SA replaced by a rekey still decrypts until its ``ChildSaDeleted``.
    """

    def __init__(self, tun_name: str, inner_src: str | None) -> None:
        self.tun_name, self.inner_src = tun_name, inner_src
        self.esp: EspRunner | None = None
        self.tun: TunDevice | None = None
        self.inbound: dict[int, ChildSa] = {}  # our inbound SPI -> its child SA
        self.installed: list[ChildSa] = []  # every SA ever installed, oldest first

    def child_up(self, event: ChildSaEstablished, peer: str, ike: IkeRunner) -> None:
        sa = child_sa(event, time.monotonic())
        self.inbound[sa.inbound.spi] = sa
        self.installed.append(sa)
        if self.esp is not None:
            self.esp.sa, self.esp.peer = sa, peer
            return
        self.tun = TunDevice(self.tun_name)
        self.esp = EspRunner(self.tun, sa, ike.address, peer, send=ike.send_esp)
        self.esp.attach_tun()
        _ip("link", "set", self.tun_name, "mtu", "1400", "up")
        src = ["src", self.inner_src] if self.inner_src else []
        for net in prefixes(event.selector.destination):
            _ip("route", "replace", net, "dev", self.tun_name, *src)

    def child_down(self, event: ChildSaDeleted) -> None:
        self.inbound.pop(int.from_bytes(event.spi_in, "big"), None)

    def received(self, data: bytes, addr: Address) -> None:
        esp = self.esp
        if esp is None:
            return
        newest = esp.sa
        try:
            spi, _ = peek_spi_seq(data)
        except EspError:
            spi = newest.inbound.spi
        esp.sa = self.inbound.get(spi, newest)
        try:
            esp.received(data, (str(addr[0]), int(addr[1])))
        finally:
            esp.sa = newest

    def close(self) -> dict[str, object]:
        report: dict[str, object] = {"event": "EspCounters"}
        if self.esp is not None:
            self.esp.close()
            report.update(self.esp.report())
        if self.tun is not None:
            self.tun.close()
        report["sas_installed"] = len(self.installed)
        report["per_sa"] = [
            {
                "spi_out": f"{sa.outbound.spi:08x}",
                "spi_in": f"{sa.inbound.spi:08x}",
                "protected": sa.outbound_state.counters().packets,
                "unprotected": sa.inbound_state.counters().packets,
            }
            for sa in self.installed
        ]
        return report


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=5)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--interface", default="outside")
    parser.add_argument("--initiate", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--rekey-after",
        type=float,
        default=None,
        help="rekey the first child SA this many seconds after it is up",
    )
    parser.add_argument(
        "--rekey-ike-after",
        type=float,
        default=None,
        help="rekey the first IKE SA this many seconds after it is up",
    )
    parser.add_argument("--tun", default=None, help="carry child SA traffic over this TUN")
    parser.add_argument("--inner-src", default=None, help="source address for the TUN route")
    args = parser.parse_args(argv)
    result = load_config(args.config.read_text(), source=str(args.config))
    if result.config is None:
        for diag in result.errors:
            print(diag.render(), file=sys.stderr)
        return 2
    policy = compile_config(result.config)
    engine = Ikev2Engine(policy, args.interface, os.urandom)

    loop = asyncio.get_running_loop()
    rekeyed: list[bytes] = []
    ike: list[bytes] = []
    plane = DataPlane(args.tun, args.inner_src) if args.tun else None
    peers: list[str] = []

    def emit(event: Any) -> None:
        print(json.dumps(event_json(event)), flush=True)
        if isinstance(event, IkeSaEstablished):
            peers.append(event.peer[0])
        if isinstance(event, ChildSaEstablished) and plane is not None and peers:
            plane.child_up(event, peers[-1], runner)
        if isinstance(event, ChildSaDeleted) and plane is not None:
            plane.child_down(event)
        if isinstance(event, IkeSaEstablished) and args.rekey_ike_after is not None and not ike:
            ike.append(event.spi_i)

            def rekey_ike(now: float) -> None:
                engine.rekey_ike_sa(next(iter(engine.sas.values())), now)

            loop.call_later(args.rekey_ike_after, lambda: runner.command(rekey_ike))
        if isinstance(event, ChildSaEstablished) and args.rekey_after is not None and not rekeyed:
            rekeyed.append(event.spi_in)
            spi = event.spi_in
            loop.call_later(
                args.rekey_after, lambda: runner.command(lambda now: engine.rekey_child(spi, now))
            )

    runner = IkeRunner(
        engine, engine.address[0], emit, on_esp=plane.received if plane is not None else None
    )
    await runner.start()
    print("ready", flush=True)
    if args.initiate:
        entry = policy.crypto_maps[args.interface].entries[0]
        assert entry.acl is not None
        rule = entry.acl.permits[0]
        runner.command(lambda now: engine.initiate(entry, rule, now))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.seconds)
    runner.close()
    if plane is not None:
        print(json.dumps(plane.close()), flush=True)
    print(json.dumps({"event": "exit", "drops": dict(engine.drops)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
