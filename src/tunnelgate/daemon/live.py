"""The running gateway behind operator sessions: configuration, gateway and the commands that
act on it, without I/O (the daemon passes its clock, its flush and its file writers)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tunnelgate.config.model import RunningConfig
from tunnelgate.esp.packet import RandomSource
from tunnelgate.gateway.core import Gateway
from tunnelgate.gateway.reconfigure import apply_policy
from tunnelgate.gateway.snapshot import GatewaySnapshot
from tunnelgate.gateway.views import snapshot
from tunnelgate.policy.gateway import GatewayPolicy


class LiveGateway:
    """Implements ``session.Live`` over one ``Gateway``."""

    def __init__(
        self,
        config: RunningConfig,
        keystore: object,
        *,
        compile_policy: Callable[[RunningConfig], GatewayPolicy],
        random: RandomSource,
        clock: Callable[[], float],
        save_config: Callable[[str], None],
        save_keys: Callable[[bytes], None],
    ) -> None:
        self.config = config
        self.keystore = keystore
        self.compile_policy = compile_policy
        self.gateway = Gateway(compile_policy(config), random)
        self.clock = clock
        self.wallclock: Callable[[], float] = time.time
        self.after: Callable[[], None] = lambda: None  # the I/O shell carries out outputs
        self.on_reconfigure: Callable[[], None] = lambda: None  # e.g. new logging settings
        # the I/O shell's own counters (send errors, the C fast path's packets)
        self.io_counters: Callable[[], dict[str, int]] = dict
        self._save_config, self._save_keys = save_config, save_keys

    def snapshot(self, *, child_sas: bool = True, ike_sas: bool = True) -> GatewaySnapshot:
        return snapshot(
            self.gateway, self.clock(), self.wallclock(), child_sas=child_sas, ike_sas=ike_sas
        )

    def clear_ipsec(self, peer: str | None, map_name: str | None) -> int:
        now, cleared = self.clock(), 0
        for spi, sa in list(self.gateway.installed.items()):
            if (peer is None or sa.peer[0] == peer) and map_name in (None, sa.entry.map):
                cleared += self.gateway.tear_down(spi, "clear crypto ipsec sa", now)
        self.after()
        return cleared

    def clear_ike(self, peer: str | None, version: int | None = None) -> int:
        cleared = self.gateway.delete_ike_sas(peer, self.clock(), version)
        self.after()
        return cleared

    def clear_counters(self) -> None:
        self.gateway.clear_counters()

    def reconfigure(self) -> str:
        """Apply the running configuration after a change (``gateway/reconfigure.py``)."""
        torn = apply_policy(self.gateway, self.compile_policy(self.config), self.clock())
        self.on_reconfigure()
        self.after()
        return "".join(
            f"INFO: tunnel SPI 0x{t.spi_in:08X} ({t.map_label}) torn down: {t.reason}\n"
            for t in torn
        )

    def save_config(self, text: str) -> None:
        self._save_config(text)

    def save_keys(self, data: bytes) -> None:
        self._save_keys(data)


__all__ = ["LiveGateway"]
