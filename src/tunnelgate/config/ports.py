"""ASA name tables for IP protocols, TCP/UDP ports and ICMP types, as data.

Sources: Cisco ASA configuration guide, "Addresses, Protocols, and Ports" (protocol
literals, "TCP and UDP Ports" and "ICMP Types" tables). ASA-specific values are kept
(``kerberos`` is 750, ``radius`` is 1645). Each table maps a name to its number; the
reverse tables give the name the ASA prints (``www`` for 80, never ``http``).
"""

from __future__ import annotations

from collections.abc import Mapping

# name -> protocol number. ``ipsec`` and ``pptp`` are input aliases of esp and gre.
PROTOCOLS: Mapping[str, int] = {
    "ah": 51,
    "eigrp": 88,
    "esp": 50,
    "gre": 47,
    "icmp": 1,
    "icmp6": 58,
    "igmp": 2,
    "igrp": 9,
    "ip": 0,
    "ipinip": 4,
    "ipsec": 50,
    "nos": 94,
    "ospf": 89,
    "pcp": 108,
    "pim": 103,
    "pptp": 47,
    "sctp": 132,
    "snp": 109,
    "tcp": 6,
    "udp": 17,
}
PROTOCOL_ALIASES: Mapping[str, str] = {"ipsec": "esp", "pptp": "gre"}
PROTOCOL_NAMES: Mapping[int, str] = {
    number: name for name, number in PROTOCOLS.items() if name not in PROTOCOL_ALIASES
}
PORT_PROTOCOLS = frozenset({"tcp", "udp"})  # the protocols an ACE may give ports for

_BOTH: Mapping[str, int] = {
    "cifs": 3020,
    "discard": 9,
    "domain": 53,
    "echo": 7,
    "http": 80,
    "kerberos": 750,
    "nfs": 2049,
    "pim-auto-rp": 496,
    "sip": 5060,
    "sunrpc": 111,
    "tacacs": 49,
    "talk": 517,
    "www": 80,
}

TCP_PORTS: Mapping[str, int] = {
    **_BOTH,
    "aol": 5190,
    "bgp": 179,
    "chargen": 19,
    "citrix-ica": 1494,
    "cmd": 514,
    "ctiqbe": 2748,
    "daytime": 13,
    "exec": 512,
    "finger": 79,
    "ftp": 21,
    "ftp-data": 20,
    "gopher": 70,
    "h323": 1720,
    "hostname": 101,
    "https": 443,
    "ident": 113,
    "imap4": 143,
    "irc": 194,
    "klogin": 543,
    "kshell": 544,
    "ldap": 389,
    "ldaps": 636,
    "login": 513,
    "lotusnotes": 1352,
    "lpd": 515,
    "netbios-ssn": 139,
    "nntp": 119,
    "pcanywhere-data": 5631,
    "pop2": 109,
    "pop3": 110,
    "pptp": 1723,
    "rpc": 111,
    "rsh": 514,
    "rtsp": 554,
    "smtp": 25,
    "sqlnet": 1521,
    "ssh": 22,
    "telnet": 23,
    "uucp": 540,
    "whois": 43,
}

UDP_PORTS: Mapping[str, int] = {
    **_BOTH,
    "biff": 512,
    "bootpc": 68,
    "bootps": 67,
    "dnsix": 195,
    "isakmp": 500,
    "mobile-ip": 434,
    "nameserver": 42,
    "netbios-dgm": 138,
    "netbios-ns": 137,
    "ntp": 123,
    "pcanywhere-status": 5632,
    "radius": 1645,
    "radius-acct": 1646,
    "rip": 520,
    "secureid-udp": 5510,
    "snmp": 161,
    "snmptrap": 162,
    "syslog": 514,
    "tftp": 69,
    "time": 37,
    "vxlan": 4789,
    "who": 513,
    "xdmcp": 177,
}

# Input spellings that the ASA prints under another name.
_PORT_ALIASES = frozenset({"http", "cmd", "rpc"})

PORTS: Mapping[str, Mapping[str, int]] = {"tcp": TCP_PORTS, "udp": UDP_PORTS}
PORT_NAMES: Mapping[str, Mapping[int, str]] = {
    proto: {n: name for name, n in table.items() if name not in _PORT_ALIASES}
    for proto, table in PORTS.items()
}
ALL_PORT_NAMES = frozenset(TCP_PORTS) | frozenset(UDP_PORTS)

ICMP_TYPES: Mapping[str, int] = {
    "alternate-address": 6,
    "conversion-error": 31,
    "echo": 8,
    "echo-reply": 0,
    "information-reply": 16,
    "information-request": 15,
    "mask-reply": 18,
    "mask-request": 17,
    "mobile-redirect": 32,
    "parameter-problem": 12,
    "redirect": 5,
    "router-advertisement": 9,
    "router-solicitation": 10,
    "source-quench": 4,
    "time-exceeded": 11,
    "timestamp-reply": 14,
    "timestamp-request": 13,
    "traceroute": 30,
    "unreachable": 3,
}
ICMP_NAMES: Mapping[int, str] = {n: name for name, n in ICMP_TYPES.items()}

# Syslog levels for ``log LEVEL`` (6, informational, is the ASA's default).
LOG_LEVELS: Mapping[str, int] = {
    "emergencies": 0,
    "alerts": 1,
    "critical": 2,
    "errors": 3,
    "warnings": 4,
    "notifications": 5,
    "informational": 6,
    "debugging": 7,
}
LOG_LEVEL_NAMES: Mapping[int, str] = {n: name for name, n in LOG_LEVELS.items()}
LOG_DEFAULT_LEVEL = 6
LOG_DEFAULT_INTERVAL_S = 300


def port_name(protocol: str, port: int) -> str:
    """The way the ASA prints ``port`` for ``protocol``: its literal, else the number."""
    names = PORT_NAMES.get(protocol)
    if names is not None:
        name = names.get(port)
        if name is not None:
            return name
    return str(port)
