"""``tunnelgate run --config FILE``: the gateway process, and ``tunnelgate show …``, its client.

The configuration is loaded strictly (any error: nothing starts, every diagnostic is
printed). Each ``interface`` with a crypto map and ``crypto ikev2 enable`` gets UDP 500/4500
and a raw ESP socket on the address the configuration gives it; the protected traffic
enters through a TUN device into which the crypto ACL destinations are routed. Events are
written to stdout as JSON lines; SIGTERM/SIGINT stop the gateway cleanly (TUN routes, TUN and
control socket removed). The protected prefixes keep a blackhole route after the gateway stops
or dies, so their traffic never leaves in clear (``daemon/routes.py``); ``--release-routes``
removes them on a clean stop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from tunnelgate.cli.files import ConfigFileError, read_text
from tunnelgate.cli.shell import Shell
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.daemon.control import DEFAULT_CONTROL, ControlError, ControlServer, request
from tunnelgate.daemon.operations import Answer, execute
from tunnelgate.daemon.packet_io import PacketIo, StartError
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.views import snapshot
from tunnelgate.policy.gateway import GatewayPolicy

DEFAULT_TUN = "tgtun0"


def add_parsers(sub: Any) -> None:
    run = sub.add_parser("run", help="run the gateway (needs root: TUN, raw sockets, routes)")
    run.add_argument("--config", type=Path, required=True, help="the startup configuration")
    run.add_argument("--control", type=Path, default=DEFAULT_CONTROL, help="control socket")
    run.add_argument("--tun", default=DEFAULT_TUN, help="TUN device for protected traffic")
    run.add_argument(
        "--child-lifetime-seconds",
        type=int,
        default=None,
        metavar="N",
        help="lab and tests only: child SA lifetime overriding the configuration "
        "(forces rekeys every ~N seconds)",
    )
    run.add_argument(
        "--release-routes",
        action="store_true",
        help="on a clean stop also remove the blackhole routes that keep the protected "
        "prefixes from leaving in clear text",
    )
    run.add_argument(
        "--ike-lifetime-seconds",
        type=int,
        default=None,
        metavar="N",
        help="lab and tests only: IKE SA lifetime overriding the ikev2 policies",
    )
    show = sub.add_parser("show", help="ask a running gateway (show crypto ipsec sa, …)")
    show.add_argument("--control", type=Path, default=DEFAULT_CONTROL, help="control socket")
    show.add_argument("--json", action="store_true", help="values instead of the ASA layout")
    show.add_argument("words", nargs="+", help="e.g. crypto ipsec sa")


def with_child_lifetime(policy: GatewayPolicy, seconds: int) -> GatewayPolicy:
    """``policy`` with every crypto map entry's child SA lifetime set to ``seconds``."""
    maps = {
        name: dataclasses.replace(
            cmap,
            entries=tuple(dataclasses.replace(e, lifetime_seconds=seconds) for e in cmap.entries),
        )
        for name, cmap in policy.crypto_maps.items()
    }
    return dataclasses.replace(policy, crypto_maps=maps)


def with_ike_lifetime(policy: GatewayPolicy, seconds: int) -> GatewayPolicy:
    """``policy`` with every IKEv2 policy's lifetime set to ``seconds``."""
    policies = tuple(
        dataclasses.replace(p, lifetime_seconds=seconds) for p in policy.ikev2_policies
    )
    return dataclasses.replace(policy, ikev2_policies=policies)


def run_show(args: argparse.Namespace) -> int:
    try:
        answer = request(args.control, "show " + " ".join(args.words), as_json=args.json)
    except ControlError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(answer.output)
    return 0 if answer.ok else 1


def run_gateway(args: argparse.Namespace) -> int:
    try:
        text = read_text(args.config)
    except ConfigFileError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 2
    result = load_config(text, source=str(args.config))
    if result.config is None:
        for diag in result.errors:
            print(diag.render(), file=sys.stderr)
        print(f"ERROR: {args.config}: invalid, the gateway was not started", file=sys.stderr)
        return 1
    policy = compile_config(result.config)
    if args.child_lifetime_seconds is not None:
        policy = with_child_lifetime(policy, args.child_lifetime_seconds)
    if args.ike_lifetime_seconds is not None:
        policy = with_ike_lifetime(policy, args.ike_lifetime_seconds)
    if os.geteuid() != 0:
        print(
            "ERROR: tunnelgate run needs root (TUN device, raw ESP socket, routes)", file=sys.stderr
        )
        return 2
    shell = Shell(result.config)
    try:
        return asyncio.run(_serve(args, policy, shell))
    except (StartError, ControlError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


async def _serve(args: argparse.Namespace, policy: GatewayPolicy, shell: Shell) -> int:
    gateway = Gateway(policy, os.urandom)
    if not gateway.engines:
        raise StartError(
            "no interface has both a crypto map (crypto map NAME interface IF) and "
            "crypto ikev2 enable IF with an ip address: nothing to do"
        )
    io = PacketIo(gateway, args.tun)
    io.release_routes = args.release_routes

    def show_other(line: str) -> Answer:
        output = shell.execute(line)
        return Answer(output.ok, output.text)

    def handle(line: str, as_json: bool) -> Answer:
        now = io.now()
        return execute(line, lambda: snapshot(gateway, now), as_json=as_json, fallback=show_other)

    control = ControlServer(args.control, handle)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    io.open()
    try:
        await control.start()
        addresses = ", ".join(f"{n} {a}" for n, a in sorted(gateway.local_addresses.items()))
        started = {
            "event": "GatewayStarted",
            "hostname": policy.hostname,
            "interfaces": addresses,
            "tun": args.tun,
            "routes": sorted(io.routes.prefixes),
        }
        print(json.dumps(started), flush=True)
        await stop.wait()
    finally:
        control.close()
        io.close()
    print('{"event": "GatewayStopped"}', flush=True)
    return 0


__all__ = ["add_parsers", "run_gateway", "run_show", "with_child_lifetime"]
