"""Interfaces and static routes: enough to bind crypto to the network."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Interface:
    """``interface HWNAME`` with its sub-mode settings."""

    hardware: str  # e.g. GigabitEthernet0/0, or a Linux name such as eth0
    nameif: str | None = None
    security_level: int | None = None
    ip_address: str | None = None
    netmask: str | None = None
    standby_address: str | None = None  # ``ip address A M standby S`` (failover peer)
    shutdown: bool = False
    description: str | None = None


@dataclass(slots=True)
class Route:
    """``route IFNAME NETWORK MASK GATEWAY [DISTANCE]``."""

    interface: str
    network: str
    mask: str
    gateway: str
    distance: int = 1
