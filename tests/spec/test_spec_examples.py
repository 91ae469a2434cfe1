"""Every ``hostname(config)#`` line and code block of the spec is a test.

Examples are extracted from the spec text itself, in document order, and run through one
shell session. Each must be classified below: run as written, run through concrete
instances (for syntax templates such as ``crypto map map-name seq-num …``), or declared
not to be a configuration command, with the reason. An unclassified block fails the test,
so a new example in the spec cannot be skipped silently.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tunnelgate.cli.shell import Shell
from tunnelgate.config.model import RunningConfig
from tunnelgate.config.render import show_running_config

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("TUNNELGATE_SPEC", ROOT.parent / "shared/spec/asa-ipsec-isakmp.txt"))
PROMPT = re.compile(r"^\s*(\w+)\s?\((config[^)]*)\)\s?#\s?(.*)$")


@dataclass(frozen=True)
class Example:
    line_no: int
    lines: tuple[str, ...]

    @property
    def key(self) -> str:
        return self.lines[0].strip()


def extract(text: str) -> list[Example]:
    """Code blocks (``` fences, also inside list items) and prompt lines, in order."""
    out: list[Example] = []
    block: list[str] | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip().removeprefix("- ").strip()
        if stripped.startswith("```"):
            if block is None:
                block, start = [], number + 1
            else:
                if any(x.strip() for x in block):
                    out.append(Example(start, tuple(x for x in block if x.strip())))
                block = None
            continue
        if block is not None:
            block.append(raw)
        elif PROMPT.match(raw):
            out.append(Example(number, (raw,)))
    return out


@dataclass(frozen=True)
class Run:
    """Run the example's lines as written (prompts stripped; continuation lines joined)."""

    expect: tuple[str, ...] = ()  # lines that `show running-config all` must then contain
    absent: tuple[str, ...] = ()  # lines that `show running-config` must then not contain
    join: bool = False  # the block is one command wrapped over several lines
    refused: str | None = None  # the example is refused on purpose: the decision's reason


@dataclass(frozen=True)
class Instances:
    """A syntax template: run these concrete commands instead."""

    commands: tuple[str, ...]
    expect: tuple[str, ...] = ()
    refused: tuple[str, ...] = field(default=())  # instances that must be refused


@dataclass(frozen=True)
class NotCommand:
    """Not configuration text (a syslog message, a conceptual ACL sketch …)."""

    reason: str


Entry = Run | Instances | NotCommand

CLASSIFIED: dict[str, Entry] = {
    "hostname(config)# crypto ikev1 policy 1": Run(),
    "hostname(config-ikev1-policy)# encryption des": Run(expect=(" encryption des",)),
    "hostname(config-ikev1-policy)# hash md5": Run(expect=(" hash md5",)),
    "hostname(config-ikev1-policy)# authentication rsa-sig": Run(
        expect=(" authentication rsa-sig",)
    ),
    "hostname(config-ikev1-policy)# group 5": Run(expect=(" group 5",)),
    "hostname(config-ikev1-policy)# lifetime 14400": Run(expect=(" lifetime 14400",)),
    "hostname(config)# crypto ikev1 enable outside": Run(expect=("crypto ikev1 enable outside",)),
    "hostname(config)# crypto ikev1 am-disable": Run(expect=("crypto ikev1 am-disable",)),
    "hostname(config)# no crypto ikev1 am-disable": Run(absent=("crypto ikev1 am-disable",)),
    "crypto isakmp identity {address | hostname | key-id id-string | auto}": Instances(
        (
            "crypto isakmp identity address",
            "crypto isakmp identity key-id id-string",
            "crypto isakmp identity auto",
        ),
        expect=("crypto isakmp identity auto",),
    ),
    "hostname (config) # crypto isakmp identity hostname": Run(
        expect=("crypto isakmp identity hostname",)
    ),
    "%ASA-4-751027: IKEv2 Received INVALID_SELECTORS Notification from peer: <peer IP>. Peer "
    "received a packet (SPI=<spi>) from <local_IP>. The decapsulated inner packet didn't match "
    "the negotiated policy in the SA. Packet destination <pkt_daddr>, port <pkt_dest_port>, "
    "source <pkt_saddr>, port <pkt_src_port>, protocol <pkt_prot>": NotCommand(
        "a syslog message (the event layer, issue 7)"
    ),
    "ikev2 local-authentication pre-shared-key [ 0 | 8 | hex ] <string>": Instances(
        (
            "tunnel-group 192.0.2.7 type ipsec-l2l",
            "tunnel-group 192.0.2.7 ipsec-attributes",
            "ikev2 local-authentication pre-shared-key 0 LocalSecret",
            "ikev2 local-authentication pre-shared-key hex 0a1b2c3d",
            "ikev2 remote-authentication pre-shared-key RemoteSecret",
            "ikev2 remote-authentication pre-shared-key 8 EncryptedKeyText",
            "ikev2 remote-authentication pre-shared-key hex 0a1b2c3d4e5f",
            "exit",
        ),
        expect=(
            " ikev2 remote-authentication pre-shared-key *****",
            " ikev2 local-authentication pre-shared-key *****",
        ),
    ),
    "[no] crypto ikev2 notify invalid-selectors": Instances(
        (
            "crypto ikev2 notify invalid-selectors",
            "no crypto ikev2 notify invalid-selectors",
            "crypto ikev2 notify invalid-selectors",
        ),
        expect=("crypto ikev2 notify invalid-selectors",),
    ),
    "[no] crypto ikev2 fragmentation [mtu <mtu-size>] | [preferred-method [ietf | cisco]]": Instances(
        (
            "crypto ikev2 fragmentation mtu 1000",
            "crypto ikev2 fragmentation preferred-method cisco",
            "no crypto ikev2 fragmentation mtu 1000",
            "no crypto ikev2 fragmentation preferred-method cisco",
        ),
        refused=("crypto ikev2 fragmentation mtu 67", "crypto ikev2 fragmentation mtu 1501"),
    ),
    "no crypto ikev2 fragmentation": Run(expect=("no crypto ikev2 fragmentation",)),
    "crypto ikev2 fragmentation": Run(absent=("no crypto ikev2 fragmentation",)),
    "crypto ikev2 fragmentation mtu 576": Run(
        join=True, expect=("crypto ikev2 fragmentation mtu 576 preferred-method ietf",)
    ),
    "crypto ikev2 fragmentation mtu 600": Run(expect=("crypto ikev2 fragmentation mtu 600",)),
    "no crypto ikev2 fragmentation mtu 576": Run(absent=("crypto ikev2 fragmentation mtu 600",)),
    "crypto ikev2 fragmentation preferred-method cisco": Run(
        expect=("crypto ikev2 fragmentation preferred-method cisco",)
    ),
    "no crypto ikev2 fragmentation preferred-method cisco": Run(
        absent=("crypto ikev2 fragmentation preferred-method cisco",)
    ),
    "crypto ikev2 fragmentation preferred-method ietf": Run(
        absent=("crypto ikev2 fragmentation preferred-method cisco",)
    ),
    "aaa authentication http console LOCAL": Run(
        expect=("aaa authentication http console LOCAL", "aaa authorization http console radius")
    ),
    "crypto isakmp nat-traversal natkeepalive": Instances(
        (
            "crypto isakmp nat-traversal 10",
            "crypto isakmp nat-traversal 3600",
            "crypto isakmp nat-traversal",
        ),
        refused=("crypto isakmp nat-traversal 9", "crypto isakmp nat-traversal 3601"),
    ),
    "hostname(config)# crypto isakmp nat-traversal 3600": Run(
        expect=("crypto isakmp nat-traversal 3600",)
    ),
    "hostname(config)# crypto ipsec fragmentation before-encryption": Run(),
    "crypto ikev1 ipsec-over-tcp [port port 1...port0]": Instances(
        ("crypto ikev1 ipsec-over-tcp", "crypto ikev1 ipsec-over-tcp port 1 2 3 4 5 6 7 8 9 10"),
        expect=("crypto ikev1 ipsec-over-tcp port 1 2 3 4 5 6 7 8 9 10",),
        refused=("crypto ikev1 ipsec-over-tcp port 1 2 3 4 5 6 7 8 9 10 11",),
    ),
    "hostname(config)# crypto ikev1 ipsec-over-tcp port 45": Run(
        expect=("crypto ikev1 ipsec-over-tcp port 45",)
    ),
    "hostname(config)# tunnel-group-map enable ike-id": Run(),
    "hostname(config)# tunnel-group-map enable peer-ip": Run(),
    "hostname(config)# tunnel-group-map enable ou": Run(),
    "hostname(config)# tunnel-group-map enable rules": Run(
        expect=("tunnel-group-map enable rules",)
    ),
    "Crypto Map Seq_No_1": NotCommand(
        "conceptual ACEs; the real ACEs of the A/B/C table are tested in test_access_list.py"
    ),
    "deny packets from A.3 to C": NotCommand("conceptual ACEs (see above)"),
    "crypto key generate [rsa [general-keys | label <name> | modules [512 | 768 | 1024 | 2048 | "
    "4096] | noconfirm | usage-keys] | ecdsa [label <name> | elliptic-curve [256 | 384 | 521] | "
    "noconfirm]]": Instances(
        (
            "crypto key generate rsa modulus 2048 noconfirm",
            "crypto key generate rsa label SITE usage-keys modulus 1024 noconfirm",
            "crypto key generate ecdsa elliptic-curve 256 noconfirm",
            "crypto key generate ecdsa label SUITEB elliptic-curve 384 noconfirm",
        ),
        refused=("crypto key generate rsa modulus 512 noconfirm",),
    ),
    "crypto key zeroize [rsa | ecdsa] [default | label <name> | noconfirm]": Instances(
        (
            "crypto key zeroize rsa label SITE noconfirm",
            "crypto key zeroize ecdsa default noconfirm",
        ),
    ),
    "ciscoasa(config)# crypto ipsec inner-routing-lookup": Run(),
    "hostname(config)# access-list 101 permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0": Run(
        expect=("access-list 101 extended permit ip 10.0.0.0 255.255.255.0 10.1.1.0 255.255.255.0",)
    ),
    "hostname(config)# crypto ipsec ikev1 transform-set myset1 esp-des esp-sha-hmac": Run(
        expect=("crypto ipsec ikev1 transform-set aes_set esp-aes-256 esp-md5-hmac",)
    ),
    "hostname(config)# crypto ipsec ikev2 ipsec-proposal secure": Run(),
    "hostname(config-ipsec-proposal)# protocol esp encryption 3des aes des": Run(
        expect=(" protocol esp encryption aes 3des des",)
    ),
    "[no] protocol esp encryption [3des | aes | aes-192 | aes-256 | aes-gcm | aes-gcm-192 | "
    "aes-gcm-256 | aes-gmac | aes-gmac-192 | aes-gmac-256 | des | null]": Instances(
        (
            "crypto ipsec ikev2 ipsec-proposal ALL",
            "protocol esp encryption aes-gcm aes-gcm-192 aes-gcm-256 aes-gmac aes-gmac-192 aes-gmac-256",
            "protocol esp integrity null",
            "no protocol esp encryption aes-gmac",
            "exit",
        ),
        expect=(
            " protocol esp encryption aes-gcm-256 aes-gcm-192 aes-gcm aes-gmac-256 aes-gmac-192",
        ),
    ),
    "[no] protocol esp integrity [md5 | sha-1 | sha-256 | sha-384 | sha-512 | null]": Instances(
        (
            "crypto ipsec ikev2 ipsec-proposal SHA2",
            "protocol esp encryption aes-256",
            "protocol esp integrity md5 sha-1 sha-256 sha-384 sha-512",
            "no protocol esp integrity md5",
            "exit",
        ),
        expect=(" protocol esp integrity sha-512 sha-384 sha-256 sha-1",),
    ),
    "[no] crypto ipsec security-association pmtu-aging reset-interval": Instances(
        (
            "crypto ipsec security-association pmtu-aging 20",
            "no crypto ipsec security-association pmtu-aging 20",
        ),
    ),
    "crypto map map-name seq-num match address access-list-name": Instances(
        ("crypto map map-name 1 match address access-list-name",),
    ),
    "crypto map mymap 10 match address 101": Run(expect=("crypto map mymap 10 match address 101",)),
    "crypto map map_name sequence numberset peer ip_address": Instances(
        ("crypto map map-name 1 set peer 192.0.2.10",),
    ),
    "crypto map mymap 10 set peer 192.168.1.100": Run(),
    "crypto map map-name seq-num set ikev1 transform-set transform-set-name1 [transform-set-name2, "
    "...transform-set-name11]": Instances(
        (
            "crypto map map-name 1 set ikev1 transform-set "
            + " ".join(f"ts{n}" for n in range(1, 12)),
        ),
        refused=(
            "crypto map map-name 1 set ikev1 transform-set "
            + " ".join(f"ts{n}" for n in range(1, 13)),
        ),
    ),
    "crypto map map-name seq-num set ikev2 ipsec-proposal proposal-name1 [proposal-name2, "
    "...proposal-name11]": Instances(
        (
            "crypto map map-name 1 set ikev2 ipsec-proposal "
            + " ".join(f"p{n}" for n in range(1, 12)),
        ),
        refused=(
            "crypto map map-name 1 set ikev2 ipsec-proposal "
            + " ".join(f"p{n}" for n in range(1, 13)),
        ),
    ),
    "crypto map mymap 10 set ikev1 transform-set myset1 myset2": Run(
        expect=("crypto map mymap 10 set ikev1 transform-set myset1 myset2",)
    ),
    "crypto map map-name seq-num set security-association lifetime {seconds number | kilobytes "
    "{number | unlimited}}": Instances(
        (
            "crypto map map-name 1 set security-association lifetime seconds 3600",
            "crypto map map-name 1 set security-association lifetime kilobytes 10000",
            "crypto map map-name 1 set security-association lifetime kilobytes unlimited",
        ),
        expect=("crypto map map-name 1 set security-association lifetime kilobytes unlimited",),
    ),
    "crypto map mymap 10 set security-association lifetime seconds 2700": Run(
        expect=("crypto map mymap 10 set security-association lifetime seconds 2700",)
    ),
    "crypto map map_name seq-num set pfs [group1 | group2 | group5|group14]": Instances(
        (
            "crypto map pfsmap 1 set pfs group1",
            "crypto map pfsmap 1 set pfs group2",
            "crypto map pfsmap 1 set pfs group5",
            "crypto map pfsmap 1 set pfs group14",
        ),
        expect=("crypto map pfsmap 1 set pfs group14",),
    ),
    "crypto map mymap 10 set pfs group15": Run(expect=("crypto map mymap 10 set pfs group15",)),
    "crypto map map_name seq-num set reverse-route [dynamic]": Instances(
        ("crypto map map-name 1 set reverse-route",),
    ),
    "crypto map mymap 10 set reverse-route dynamic": Run(
        expect=("crypto map mymap 10 set reverse-route dynamic",)
    ),
    "crypto map map-name interface interface-name": Instances(
        ("crypto map map-name interface inside",),
    ),
    "crypto map mymap interface outside": Run(expect=("crypto map mymap interface outside",)),
    "crypto dynamic-map dynamic-map-name dynamic-seq-num match address access-list-name": Instances(
        ("crypto dynamic-map dynamic-map-name 1 match address access-list-name",),
    ),
    "crypto dynamic-map dyn1 10 match address 101": Run(),
    "crypto dynamic-map dynamic-map-name dynamic-seq-num set ikev1 transform-set "
    "transform-set-name1,": Instances(
        (
            "crypto dynamic-map dynamic-map-name 1 set ikev1 transform-set "
            + " ".join(f"ts{n}" for n in range(1, 12)),
        ),
    ),
    "crypto dynamic-map dynamic-map-name dynamic-seq-num set ikev2 ipsec-proposal "
    "proposal-name1": Instances(
        ("crypto dynamic-map dynamic-map-name 1 set ikev2 ipsec-proposal p1 p2",),
    ),
    "crypto dynamic-map dyn 10 set ikev1 transform-set myset1 myset2": Run(
        expect=("crypto dynamic-map dyn 10 set ikev1 transform-set myset1 myset2",)
    ),
    "crypto dynamic-map dynamic-map-name dynamic-seq-num set security-association lifetime "
    "{seconds number | kilobytes {number | unlimited}}": Instances(
        (
            "crypto dynamic-map dynamic-map-name 1 set security-association lifetime kilobytes unlimited",
        ),
    ),
    "crypto dynamic-map dyn1 10 set security-association lifetime seconds 2700": Run(),
    "crypto dynamic-map dynamic-map-name dynamic-seq-num set pfs [ group1 | group2 | group5 | "
    "group7 ]": Instances(
        (
            "crypto dynamic-map dynamic-map-name 1 set pfs group1",
            "crypto dynamic-map dynamic-map-name 1 set pfs group5",
        ),
        refused=("crypto dynamic-map dynamic-map-name 1 set pfs group7",),
    ),
    "crypto dynamic-map dyn1 10 set pfs group5": Run(
        expect=("crypto dynamic-map dyn1 10 set pfs group5",)
    ),
    "crypto map map-name seq-num ipsec-isakmp dynamic dynamic-map-name": Instances(
        ("crypto map map-name 65535 ipsec-isakmp dynamic dynamic-map-name",),
    ),
    "crypto map mymap 200 ipsec-isakmp dynamic dyn1": Run(
        expect=("crypto map mymap 200 ipsec-isakmp dynamic dyn1",)
    ),
    "hostname(config)# crypto isakmp reload-wait": Run(expect=("crypto isakmp reload-wait",)),
}


def _strip_prompt(line: str) -> str:
    m = PROMPT.match(line)
    return m.group(3) if m else line.strip()


def _examples() -> list[Example]:
    if not SPEC.exists():
        pytest.skip(f"spec not found at {SPEC} (set TUNNELGATE_SPEC)")
    return extract(SPEC.read_text())


def test_every_example_of_the_spec_is_classified() -> None:
    missing = [f"{e.line_no}: {e.key}" for e in _examples() if e.key not in CLASSIFIED]
    assert not missing, "unclassified spec examples:\n" + "\n".join(missing)


def _shell() -> Shell:
    from tunnelgate.pki.keystore import KeyStore

    shell = Shell(
        RunningConfig(), keystore=KeyStore(), clock=lambda: datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert shell.execute("configure terminal").ok
    return shell


def _run(shell: Shell, command: str, where: str) -> None:
    out = shell.execute(command)
    assert out.ok, f"{where}: {command!r} was refused:\n{out.text}"


def _refused(shell: Shell, command: str, where: str) -> None:
    before = repr(shell.config)
    out = shell.execute(command)
    assert not out.ok, f"{where}: {command!r} should have been refused"
    assert repr(shell.config) == before


def test_the_spec_examples_run_in_order_and_render_as_the_spec_says() -> None:
    shell = _shell()
    for example in _examples():
        entry = CLASSIFIED[example.key]
        where = f"spec line {example.line_no}"
        if isinstance(entry, NotCommand):
            continue
        if isinstance(entry, Instances):
            for command in entry.commands:
                _run(shell, command, where)
            for command in entry.refused:
                _refused(shell, command, where)
            expect, absent = entry.expect, ()
        else:
            lines = [_strip_prompt(x) for x in example.lines]
            if entry.join:
                lines = [" ".join(lines)]
            in_output = False  # the lines after a `show` command are its output
            for raw, line in zip(example.lines, lines, strict=False):
                m = PROMPT.match(raw)
                if m is None and in_output:
                    continue
                if m and m.group(2) != "config":
                    assert shell.prompt.endswith(f"({m.group(2)})#"), (where, shell.prompt)
                if line.startswith("show "):
                    in_output = True
                    continue  # its output is checked by a dedicated test
                _run(shell, line, where)
            expect, absent = entry.expect, entry.absent
        # Compare without the trailing space a real ASA prints on some lines.
        shown_all = [x.rstrip() for x in show_running_config(shell.config, all=True).splitlines()]
        shown = [x.rstrip() for x in show_running_config(shell.config).splitlines()]
        for line in expect:
            assert line in shown or line in shown_all, f"{where}: {line!r} not shown"
        for line in absent:
            assert line not in shown, f"{where}: {line!r} still shown"


def test_show_run_crypto_ipsec_example() -> None:
    """Spec, "Change VPN Routing": the exact output of ``show run crypto ipsec``."""
    shell = _shell()
    for line in (
        "crypto ipsec ikev2 ipsec-proposal GCM",
        "protocol esp encryption aes-gcm",
        "protocol esp integrity null",
        "exit",
        "crypto ipsec inner-routing-lookup",
    ):
        _run(shell, line, "example")
    assert shell.execute("show run crypto ipsec").text == (
        "crypto ipsec ikev2 ipsec-proposal GCM\n"
        " protocol esp encryption aes-gcm\n"
        " protocol esp integrity null\n"
        "crypto ipsec inner-routing-lookup\n"
    )
