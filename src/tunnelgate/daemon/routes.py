"""Routes of the protected traffic: into the TUN while the gateway runs, and a blackhole
underneath that stays when it stops or dies, so that nothing meant for the tunnel ever
follows the default route in clear text (fail closed).

| route for a protected prefix | metric | present                                          |
|------------------------------|--------|--------------------------------------------------|
| ``dev TUN``                  | 0      | while the gateway runs (gone with the TUN)       |
| ``blackhole``                | 4095   | from the first start on; ``--release-routes`` or |
|                              |        | deleting the namespace removes it                |

Transport mode (D91, D92): the host's own traffic to a peer cannot be caught by a route (it
would swallow IKE and ESP too), so policy rules (``iif lo``: only what this host originates)
send it to table ``TRANSPORT_TABLE``: there a route into the TUN per captured destination
(our address as the source hint: the TUN has none) and a permanent default blackhole
beneath. Rules that keep the gateway's own IKE and ESP in the main table come first
(priority ``KEEP_PRIORITY``), then the captures (``CAPTURE_PRIORITY``). The rules and the
blackhole stay when the gateway stops or dies (fail closed), like the prefix blackholes.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Sequence

from tunnelgate.gateway.core import PolicyRule

BLACKHOLE_METRIC = "4095"
TRANSPORT_TABLE = "4521"  # the policy-routing table of transport-mode traffic (D91)
KEEP_PRIORITY = "1000"  # exceptions: the gateway's own IKE and ESP stay in the main table
CAPTURE_PRIORITY = "1001"


class RouteError(RuntimeError):
    """``ip route`` refused a change: its message for the operator."""


def ip(*args: str) -> None:
    """Run ``ip ARGS`` (iproute2); raise ``RouteError`` with its message on failure."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RouteError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class TunnelRoutes:
    """The prefixes routed into ``tun``; each also gets a permanent blackhole beneath."""

    def __init__(self, tun: str) -> None:
        self.tun = tun
        self.prefixes: set[str] = set()

    def add(self, prefix: str) -> None:
        ip("route", "replace", "blackhole", prefix, "metric", BLACKHOLE_METRIC)
        ip("route", "replace", prefix, "dev", self.tun)
        self.prefixes.add(prefix)

    def remove(self, prefix: str) -> None:
        """Dynamic RRI withdrawal: the prefix leaves the TUN (and its blackhole goes too:
        dynamic prefixes are only protected while an SA exists)."""
        if prefix not in self.prefixes:
            return
        self.prefixes.discard(prefix)
        for args in (("dev", self.tun), ("blackhole",)):
            try:
                if args == ("blackhole",):
                    ip("route", "del", "blackhole", prefix, "metric", BLACKHOLE_METRIC)
                else:
                    ip("route", "del", prefix, *args)
            except (RouteError, subprocess.TimeoutExpired):
                continue

    def stop(self, *, release: bool = False) -> None:
        """The gateway stops: the TUN routes go; the blackholes stay unless ``release``."""
        for prefix in sorted(self.prefixes):
            for args in (("del", prefix, "dev", self.tun),) + (
                (("del", "blackhole", prefix, "metric", BLACKHOLE_METRIC),) if release else ()
            ):
                try:
                    ip("route", *args)
                except (RouteError, subprocess.TimeoutExpired):
                    continue
        self.prefixes.clear()


def _port_range(ports: tuple[int, int]) -> str:
    low, high = ports
    return str(low) if low == high else f"{low}-{high}"


def rule_args(rule: PolicyRule, table: str = TRANSPORT_TABLE) -> list[str]:
    """The ``ip rule`` selector and action of ``rule`` (after ``add``/``del``)."""
    args = ["iif", "lo", "to", rule.destination]
    if rule.protocol:
        args += ["ipproto", str(rule.protocol)]
    if rule.source_ports is not None:
        args += ["sport", _port_range(rule.source_ports)]
    if rule.destination_ports is not None:
        args += ["dport", _port_range(rule.destination_ports)]
    if rule.tunnel:
        return [*args, "pref", CAPTURE_PRIORITY, "table", table]
    return [*args, "pref", KEEP_PRIORITY, "table", "main"]


class TransportRules:
    """Policy rules into ``table`` (routes into the TUN, a blackhole beneath; D91)."""

    def __init__(self, tun: str, table: str = TRANSPORT_TABLE) -> None:
        self.tun = tun
        self.table = table
        self.rules: list[PolicyRule] = []

    def add(self, rules: Sequence[PolicyRule]) -> None:
        if not rules:
            return
        ip(
            "route",
            "replace",
            "blackhole",
            "default",
            "table",
            self.table,
            "metric",
            BLACKHOLE_METRIC,
        )
        for rule in rules:
            if rule.tunnel:  # with our address as the source hint: the TUN has none (D92)
                source = ("src", rule.source) if rule.source else ()
                ip(
                    "route",
                    "replace",
                    rule.destination,
                    "dev",
                    self.tun,
                    "table",
                    self.table,
                    *source,
                )
            args = rule_args(rule, self.table)
            with contextlib.suppress(RouteError):  # left by an earlier run (fail closed)
                ip("rule", "del", *args)
            ip("rule", "add", *args)
            self.rules.append(rule)

    def stop(self, *, release: bool = False) -> None:
        """The TUN's route goes; the rules and the blackhole stay unless ``release``."""
        if not self.rules:
            return
        commands: list[tuple[str, ...]] = [
            ("route", "del", rule.destination, "dev", self.tun, "table", self.table)
            for rule in self.rules
            if rule.tunnel
        ]
        if release:
            commands += [("rule", "del", *rule_args(rule, self.table)) for rule in self.rules]
            commands.append(
                (
                    "route",
                    "del",
                    "blackhole",
                    "default",
                    "table",
                    self.table,
                    "metric",
                    BLACKHOLE_METRIC,
                )
            )
        for command in commands:
            try:
                ip(*command)
            except (RouteError, subprocess.TimeoutExpired):
                continue
        self.rules.clear()


__all__ = [
    "BLACKHOLE_METRIC",
    "TRANSPORT_TABLE",
    "RouteError",
    "TransportRules",
    "TunnelRoutes",
    "ip",
    "rule_args",
]
