"""ASA-form syslog out of gateway events: local console lines and RFC 3164 datagrams.

The formatting is pure (``compile_settings``, ``select``, ``rfc3164``, ``console_line``);
``SyslogSink`` adds the only I/O, one non-blocking UDP socket whose send errors are
counted and never raised. Decisions L1–L6 in ``docs/decisions.md``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tunnelgate.config.model import LoggingSettings, RunningConfig
from tunnelgate.daemon.asa_messages import (
    Address,
    AsaMessage,
    MessageContext,
    apply_message_settings,
    format_event,
)
from tunnelgate.gateway.outputs import ChildSaInstalled, ChildSaRemoved

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class SyslogSettings:
    """The compiled ``logging`` configuration: only what delivery needs."""

    enabled: bool = False
    timestamp: bool = False
    console: int | None = None  # highest severity written locally; None: none
    trap: int | None = None  # highest severity sent to the servers; None: none
    facility: int = 20
    hostname: str | None = None  # set by ``logging device-id hostname``
    servers: tuple[Address, ...] = ()  # UDP servers (TCP hosts are not delivered, L1)
    disabled: frozenset[int] = frozenset()
    levels: Mapping[int, int] = field(default_factory=dict)


def compile_settings(config: RunningConfig) -> SyslogSettings:
    s: LoggingSettings = config.logging
    return SyslogSettings(
        enabled=s.enabled,
        timestamp=s.timestamp,
        console=s.console,
        trap=s.trap,
        facility=s.facility,
        hostname=config.hostname if s.device_id_hostname else None,
        servers=tuple((h.address, h.port) for h in s.hosts if h.protocol == "udp"),
        disabled=frozenset(s.disabled_messages),
        levels=dict(s.message_levels),
    )


def select(messages: list[AsaMessage], level: int | None) -> list[AsaMessage]:
    """The messages a destination with this level receives (``None``: it is off)."""
    return [] if level is None else [m for m in messages if m.severity <= level]


def _timestamp(wallclock: float) -> str:
    """RFC 3164 TIMESTAMP in UTC: ``Mmm dd hh:mm:ss``, the day padded with a space."""
    t = time.gmtime(wallclock)
    return f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def _header(settings: SyslogSettings, wallclock: float) -> str:
    parts = []
    if settings.timestamp:
        parts.append(_timestamp(wallclock))
    if settings.hostname is not None:
        parts.append(settings.hostname)
    return "".join(p + " " for p in parts)


def rfc3164(settings: SyslogSettings, message: AsaMessage, wallclock: float) -> str:
    """``<PRI>[Mmm dd hh:mm:ss ][HOSTNAME ]%ASA-S-ID: text``, PRI = facility * 8 + severity."""
    pri = settings.facility * 8 + message.severity
    return f"<{pri}>{_header(settings, wallclock)}{message.line()}"


def console_line(settings: SyslogSettings, message: AsaMessage, wallclock: float) -> str:
    return f"{_header(settings, wallclock)}{message.line()}"


class SyslogSink:
    """Formats each event, filters it per destination and sends the server copies.

    ``emit`` returns the lines for the local console (stderr or the log file).
    """

    def __init__(
        self,
        settings: SyslogSettings,
        local_address: Callable[[str], str] | Mapping[str, str],
        *,
        ike_interface: str = "outside",
        sock: socket.socket | None = None,
    ) -> None:
        self.settings = settings
        self.local_address = local_address
        self.ike_interface = ike_interface
        self.peers: dict[int, Address] = {}  # inbound SPI -> peer, for ChildSaRemoved
        self.sent = 0
        self.send_errors = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self._sock = sock
        self._own_sock = sock is None

    @classmethod
    def from_config(
        cls, config: RunningConfig, local_address: Callable[[str], str] | Mapping[str, str]
    ) -> SyslogSink:
        return cls(compile_settings(config), local_address)

    def messages(self, event: object) -> list[AsaMessage]:
        """The event's messages after ``no logging message`` and level overrides."""
        ctx = MessageContext(self.local_address, self.ike_interface, self.peers)
        formatted = format_event(event, ctx)
        if isinstance(event, ChildSaInstalled):
            self.peers[event.spi_in] = event.peer
        elif isinstance(event, ChildSaRemoved):
            self.peers.pop(event.spi_in, None)
        return apply_message_settings(formatted, self.settings.disabled, self.settings.levels)

    def emit(self, event: object, now: float, wallclock: float) -> list[str]:
        """Send the event's messages to the servers; return the console lines.

        ``now`` is the monotonic clock (for the error record), ``wallclock`` the time of
        day printed in the messages."""
        messages = self.messages(event)
        if not self.settings.enabled or not messages:
            return []
        for message in select(messages, self.settings.trap):
            data = rfc3164(self.settings, message, wallclock).encode("utf-8", "replace")
            for server in self.settings.servers:
                self._send(data, server, now)
        return [
            console_line(self.settings, m, wallclock)
            for m in select(messages, self.settings.console)
        ]

    def _send(self, data: bytes, server: Address, now: float) -> None:
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.setblocking(False)
            self._sock.sendto(data, server)
        except OSError as exc:  # unreachable, no route, buffer full: count, never raise
            self.send_errors += 1
            self.last_error, self.last_error_at = str(exc), now
        else:
            self.sent += 1

    def close(self) -> None:
        if self._sock is not None and self._own_sock:
            self._sock.close()
        self._sock = None


__all__ = [
    "SyslogSettings",
    "SyslogSink",
    "compile_settings",
    "console_line",
    "rfc3164",
    "select",
]
