"""``tunnelgate run --config FILE``: the gateway process, and ``tunnelgate show …``, its client.

The configuration is loaded strictly (any error: nothing starts, every diagnostic is
printed). Each ``interface`` with a crypto map and ``crypto ikev2 enable`` gets UDP 500/4500
and a raw ESP socket on the address the configuration gives it; the protected traffic
enters through a TUN device into which the crypto ACL destinations are routed. Events are
written to stdout as JSON lines; SIGTERM/SIGINT stop the gateway cleanly (TUN routes, TUN and
control socket removed). The protected prefixes keep a blackhole route after the gateway stops
or dies, so their traffic never leaves in clear (``daemon/routes.py``); ``--release-routes``
removes them on a clean stop.

Certificates: the key store beside the startup configuration (``startup.keys``) holds the
key pairs and the trustpoints' certificates; every compilation of the configuration (start,
and each reconfiguration: configuration commands, ``crypto key``, ``crypto ca`` in a
session) takes its ``Credentials`` from ``pki.loading.credentials_for``. CRLs of trustpoints
with ``revocation-check crl`` are fetched then (``CrlCache``: new or stale ones only, 5 s
timeout each); failures and incomplete trustpoints are logged as ``PkiWarning`` events,
never fatal.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunnelgate.cli.files import ConfigFileError, keystore_path, read_text, write_private
from tunnelgate.config.compile import compile_config
from tunnelgate.config.loader import load_config
from tunnelgate.config.model import RunningConfig
from tunnelgate.daemon.control import DEFAULT_CONTROL, ControlError, ControlServer, request
from tunnelgate.daemon.live import LiveGateway
from tunnelgate.daemon.metrics import serve_metrics
from tunnelgate.daemon.packet_io import PacketIo, StartError
from tunnelgate.daemon.session import OperatorSession
from tunnelgate.daemon.syslog import SyslogSink, compile_settings
from tunnelgate.gateway.snapshot import GatewaySnapshot
from tunnelgate.pki.credentials import NO_CREDENTIALS, Credentials
from tunnelgate.pki.keystore import KeyStore, KeyStoreError
from tunnelgate.pki.loading import CrlCache, credentials_for
from tunnelgate.policy.gateway import GatewayPolicy

DEFAULT_TUN = "tgtun0"
CRL_TIMEOUT_S = 5.0


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
        "--metrics",
        default=None,
        metavar="ADDRESS:PORT",
        help="serve Prometheus metrics on this address (e.g. 127.0.0.1:9477)",
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
    run.add_argument(
        "--ikev2-cookie-threshold",
        type=int,
        default=None,
        metavar="N",
        help="lab and tests only: half-open IKEv2 SAs before COOKIEs are demanded "
        "(RFC 7296 §2.6; default 100)",
    )
    run.add_argument(
        "--no-fast-path",
        action="store_true",
        help="carry every packet on the Python data path, not the C fast path "
        "(also: TUNNELGATE_FAST_PATH=0)",
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


def policy_compiler(
    args: argparse.Namespace,
    credentials: Callable[[RunningConfig], Credentials] | None = None,
) -> Callable[[RunningConfig], GatewayPolicy]:
    """``compile_config`` with the credentials of ``credentials(config)`` and the lab-only
    lifetime overrides of ``args``."""

    def compile_policy(config: RunningConfig) -> GatewayPolicy:
        policy = compile_config(
            config, credentials(config) if credentials is not None else NO_CREDENTIALS
        )
        if args.child_lifetime_seconds is not None:
            policy = with_child_lifetime(policy, args.child_lifetime_seconds)
        if args.ike_lifetime_seconds is not None:
            policy = with_ike_lifetime(policy, args.ike_lifetime_seconds)
        return policy

    return compile_policy


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
    if os.geteuid() != 0:
        print(
            "ERROR: tunnelgate run needs root (TUN device, raw ESP socket, routes)", file=sys.stderr
        )
        return 2
    try:
        return asyncio.run(_serve(args, result.config))
    except (StartError, ControlError) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


def loop_snapshot(
    loop: asyncio.AbstractEventLoop, live: LiveGateway
) -> Callable[[], GatewaySnapshot]:
    """A snapshot taken in the event loop's thread, for callers on other threads (the
    metrics server): the gateway is only ever touched by the loop."""

    def take() -> GatewaySnapshot:
        result: concurrent.futures.Future[GatewaySnapshot] = concurrent.futures.Future()

        def fill() -> None:
            try:
                result.set_result(live.snapshot())
            except Exception as exc:  # reported to the scrape, never to the loop
                result.set_exception(exc)

        loop.call_soon_threadsafe(fill)
        return result.result(timeout=5.0)

    return take


SHUTDOWN_GRACE_S = 0.5  # for the Deletes to leave before the sockets close


async def _shut_down(live: LiveGateway, stop: asyncio.Event, *, reload_wait: bool) -> None:
    """A clean stop (SIGTERM/SIGINT). With ``crypto isakmp reload-wait`` the gateway first
    waits until its tunnels have ended on their own; a second signal stops at once (the ASA's
    ``reload quick``). Then every IKE SA is deleted, so peers learn at once (D88)."""
    if reload_wait and live.gateway.installed:
        print(json.dumps({"event": "GatewayWaiting", "tunnels": len(live.gateway.installed)}))
        stop.clear()
        while live.gateway.installed and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    if live.clear_ike(None):
        await asyncio.sleep(SHUTDOWN_GRACE_S)


def _metrics_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise StartError(f"--metrics {text}: expected ADDRESS:PORT, e.g. 127.0.0.1:9477")
    return host, int(port)


def _keystore(config_path: Path) -> KeyStore:
    path = keystore_path(config_path)
    try:
        return KeyStore.from_bytes(path.read_bytes()) if path.exists() else KeyStore()
    except (KeyStoreError, OSError) as exc:
        raise StartError(f"{path}: {exc}") from None


def _fetch_crl(url: str) -> bytes:
    from tunnelgate.pki.crl import read_crl

    return read_crl(url, CRL_TIMEOUT_S)


def _log_pki_warning(message: str) -> None:
    print(json.dumps({"event": "PkiWarning", "message": message}), flush=True)


class CredentialLoader:
    """``config -> Credentials`` over the live key store (``policy_compiler``'s source): CRLs
    fetched as needed, new warnings logged once, and the same value returned while neither
    the store, the trustpoints nor the CRLs changed (so that a reconfiguration that touches
    no certificate leaves the compiled policy equal)."""

    def __init__(
        self,
        store: KeyStore,
        fetch: Callable[[str], bytes] = _fetch_crl,
        log: Callable[[str], None] = _log_pki_warning,
        wallclock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store, self.log, self.wallclock = store, log, wallclock
        self.crls = CrlCache(fetch)
        self._key: object = None
        self._credentials = NO_CREDENTIALS
        self._warnings: list[str] = []
        self._logged: list[str] = []

    def __call__(self, config: RunningConfig) -> Credentials:
        now = self.wallclock()
        fetched, errors = self.crls.refresh(config, self.store, now)
        key = (
            self.store.to_bytes(),
            repr(config.trustpoints),
            sorted((name, tuple(data)) for name, data in fetched.items()),
        )
        if key != self._key:
            self._credentials, self._warnings = credentials_for(
                config, self.store, fetched, now=now
            )
            self._key = key
        messages = [*errors, *self._warnings]
        for message in messages:
            if message not in self._logged:
                self.log(message)
        self._logged = messages
        return self._credentials


async def _serve(args: argparse.Namespace, config: RunningConfig) -> int:
    store = _keystore(args.config)
    live = LiveGateway(
        config,
        store,
        compile_policy=policy_compiler(args, CredentialLoader(store)),
        random=os.urandom,
        clock=time.monotonic,
        save_config=lambda text: write_private(args.config, text.encode()),
        save_keys=lambda data: write_private(keystore_path(args.config), data),
    )
    gateway = live.gateway
    if args.ikev2_cookie_threshold is not None:  # engines made by a later reconfiguration
        for engine in gateway.engines.values():  # (a new interface) keep the default
            engine.cookie_threshold = args.ikev2_cookie_threshold
    sink = SyslogSink.from_config(config, gateway.local_addresses)

    def syslog(event: object, now: float) -> None:
        for line in sink.emit(event, now, time.time()):
            print(line, file=sys.stderr, flush=True)

    live.on_reconfigure = lambda: setattr(sink, "settings", compile_settings(config))
    io = PacketIo(
        gateway, args.tun, on_event=syslog, fast_path=False if args.no_fast_path else None
    )
    io.release_routes = args.release_routes
    live.clock, live.after, live.io_counters = io.now, io.flush, io.counters
    # certificate validity needs UTC: the offset from the gateway's clock to the epoch
    gateway.set_wall_clock(time.time() - io.now())
    if not gateway.ike_interfaces():
        raise StartError(
            "no interface has both a crypto map (crypto map NAME interface IF) and "
            "crypto ikev1|ikev2 enable IF with an ip address: nothing to do"
        )
    control = ControlServer(args.control, lambda: OperatorSession(live))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    io.open()
    metrics = None
    try:
        await control.start()
        if args.metrics is not None:
            host, port = _metrics_address(args.metrics)
            try:
                metrics, _ = serve_metrics(port, host, loop_snapshot(loop, live))
            except OSError as exc:
                raise StartError(f"--metrics {args.metrics}: {exc.strerror or exc}") from None
        both = [*gateway.local_addresses.items(), *gateway.local_addresses6.items()]
        addresses = ", ".join(f"{n} {a}" for n, a in sorted(both))
        started = {
            "event": "GatewayStarted",
            "hostname": config.hostname,
            "interfaces": addresses,
            "tun": args.tun,
            "routes": sorted(io.routes.prefixes),
        }
        print(json.dumps(started), flush=True)
        await stop.wait()
        await _shut_down(live, stop, reload_wait=config.isakmp.reload_wait)
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        control.close()
        io.close()
        sink.close()
    print('{"event": "GatewayStopped"}', flush=True)
    return 0


__all__ = [
    "CredentialLoader",
    "add_parsers",
    "policy_compiler",
    "run_gateway",
    "run_show",
    "with_child_lifetime",
]
