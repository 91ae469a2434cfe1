"""``logging …``: where the ASA-form syslog messages go and which of them.

Severity levels are kept as numbers (0 emergencies … 7 debugging) and printed by
name, as the ASA does. ``None`` for a destination's level means that destination
is off (the ASA's default for ``console``, ``buffered`` and ``trap``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEVEL_NAMES: tuple[str, ...] = (
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
)
DEFAULT_FACILITY = 20  # local4, what most UNIX syslog servers expect
UDP_DEFAULT_PORT = 514
TCP_DEFAULT_PORT = 1470


@dataclass(frozen=True, slots=True)
class LoggingHost:
    """``logging host IF A.B.C.D [udp/PORT|tcp/PORT]``; only UDP is delivered."""

    interface: str
    address: str
    protocol: str = "udp"  # udp | tcp
    port: int = UDP_DEFAULT_PORT


@dataclass(slots=True)
class LoggingSettings:
    enabled: bool = False
    timestamp: bool = False
    console: int | None = None
    buffered: int | None = None
    trap: int | None = None
    facility: int = DEFAULT_FACILITY
    device_id_hostname: bool = False
    hosts: list[LoggingHost] = field(default_factory=list)  # one per (interface, address)
    disabled_messages: set[int] = field(default_factory=set)  # ``no logging message ID``
    message_levels: dict[int, int] = field(default_factory=dict)  # ID -> severity override

    def host(self, interface: str, address: str) -> LoggingHost | None:
        return next(
            (h for h in self.hosts if (h.interface, h.address) == (interface, address)), None
        )
