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
    # ``ipv6 address X:X::X/LEN [standby X:X::X]``: one global address, RFC 5952 text
    ipv6_address: str | None = None
    ipv6_prefix_length: int | None = None
    ipv6_standby_address: str | None = None
    ipv6_enable: bool = False  # ``ipv6 enable`` (link-local address only; kept and shown)


@dataclass(slots=True)
class Route:
    """``route IFNAME NETWORK MASK GATEWAY [DISTANCE]``."""

    interface: str
    network: str
    mask: str
    gateway: str
    distance: int = 1


@dataclass(slots=True)
class Ipv6Route:
    """``ipv6 route IFNAME X:X::X/LEN GATEWAY [DISTANCE]`` (RFC 5952 text)."""

    interface: str
    network: str
    prefix_length: int
    gateway: str
    distance: int = 1
