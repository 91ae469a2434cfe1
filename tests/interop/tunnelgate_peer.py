"""Run tunnelgate's IKEv2 engine on real UDP inside a namespace, for interop tests.

    ip netns exec NS python -m tests.interop.tunnelgate_peer CONFIG --interface outside
        [--initiate] [--seconds 20]

Prints ``ready`` once the sockets are bound, then one JSON object per engine event (keys
are never printed), and exits after ``--seconds`` or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.ike.v2.engine import Ikev2Engine
from tunnelgate.ike.v2.events import ChildSaEstablished, IkeSaEstablished
from tunnelgate.net.ike_runner import IkeRunner


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

    def emit(event: Any) -> None:
        print(json.dumps(event_json(event)), flush=True)
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

    runner = IkeRunner(engine, engine.address[0], emit)
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
    print(json.dumps({"event": "exit", "drops": dict(engine.drops)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
