"""Routes of the protected traffic: into the TUN while the gateway runs, and a blackhole
underneath that stays when it stops or dies, so that nothing meant for the tunnel ever
follows the default route in clear text (fail closed).

| route for a protected prefix | metric | present                                          |
|------------------------------|--------|--------------------------------------------------|
| ``dev TUN``                  | 0      | while the gateway runs (gone with the TUN)       |
| ``blackhole``                | 4095   | from the first start on; ``--release-routes`` or |
|                              |        | deleting the namespace removes it                |
"""

from __future__ import annotations

import subprocess

BLACKHOLE_METRIC = "4095"


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


__all__ = ["BLACKHOLE_METRIC", "RouteError", "TunnelRoutes", "ip"]
