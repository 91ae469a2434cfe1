"""Interop test infrastructure: network namespaces and real strongSwan charon peers.

Pure infrastructure, no tunnelgate engine. See /work/shared/notes/strongswan-peer.md for the
facts this relies on: the kernel has no ESP, so charon runs with ``kernel-libipsec`` (ESP in user
space over a TUN device); one charon per namespace, each in a private mount namespace with its own
``/run`` (the pid file path is compiled in); the vici socket lives in a per-instance temp directory.

House rules kept here: every namespace name carries a per-run unique prefix
(``tg-<pid>-<rand>-``); namespaces and processes are torn down by the context managers, and an
``atexit`` hook catches what a crashed test left; processes are ended by their pid only; every
wait is bounded in time.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

CHARON = Path("/usr/lib/ipsec/charon")
SWANCTL = "swanctl"

#: Unique for this process: every namespace name starts with it.
RUN_PREFIX = f"tg-{os.getpid()}-{secrets.token_hex(3)}"

#: The plugin list of the notes: kernel-libipsec strictly before kernel-netlink.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "random",
    "nonce",
    "x509",
    "revocation",
    "constraints",
    "pubkey",
    "pkcs1",
    "pkcs8",
    "pem",
    "openssl",
    "kdf",
    "curve25519",
    "xauth-generic",
    "kernel-libipsec",
    "kernel-netlink",
    "socket-default",
    "vici",
    "updown",
)

T = TypeVar("T")


class HarnessError(RuntimeError):
    """An interop infrastructure step failed (the message carries the details)."""


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy; raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def run(
    argv: Sequence[str],
    *,
    timeout: float = 20.0,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command with a bounded time; on failure raise with its output."""
    try:
        result = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=None if env is None else dict(env),
            input=input_text,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"timed out after {timeout:g} s: {' '.join(argv)}") from exc
    if check and result.returncode != 0:
        raise HarnessError(
            f"exit {result.returncode}: {' '.join(argv)}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


# ---------------------------------------------------------------------------------------------
# Safety net: whatever is still alive when the interpreter exits is ended here.

_LIVE: list[Callable[[], object]] = []


def _register(cleanup: Callable[[], object]) -> None:
    _LIVE.append(cleanup)


def _unregister(cleanup: Callable[[], object]) -> None:
    with contextlib.suppress(ValueError):
        _LIVE.remove(cleanup)


@atexit.register
def _cleanup_all() -> None:
    while _LIVE:
        cleanup = _LIVE.pop()
        with contextlib.suppress(Exception):
            cleanup()


def end_process(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> int | None:
    """SIGTERM the process by its pid, wait up to ``grace`` seconds, then SIGKILL it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
    return proc.returncode


# ---------------------------------------------------------------------------------------------
# Network namespaces


@dataclass
class Namespace:
    """One network namespace; commands run in it through ``ip netns exec``."""

    name: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stoppers: list[Callable[[], object]] = field(default_factory=list)

    def argv(self, command: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *command]

    def run(
        self, *command: str, timeout: float = 20.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return run(self.argv(command), timeout=timeout, check=check)

    def popen(self, *command: str, **kwargs: object) -> subprocess.Popen[bytes]:
        """Start a process in the namespace; it is ended (by pid) when the namespace goes."""
        proc: subprocess.Popen[bytes] = subprocess.Popen(self.argv(command), **kwargs)  # type: ignore[call-overload]
        self.processes.append(proc)
        return proc

    def ip(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.name, *args])

    def add_address(self, address: str, dev: str = "lo") -> None:
        """Add an address (e.g. an inside ``10.1.0.1/32`` on ``lo``: no dummy module here).

        kernel-libipsec routes need a local address inside the local traffic selector.
        """
        self.ip("addr", "add", address, "dev", dev)

    def stop_processes(self) -> None:
        for stop in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                stop()
        self.stoppers.clear()
        for proc in reversed(self.processes):
            end_process(proc)
        self.processes.clear()


@dataclass(frozen=True)
class Veth:
    """Both ends of a veth pair: interface names and addresses (``a.b.c.d/len``)."""

    a: Namespace
    a_ifname: str
    a_address: str
    b: Namespace
    b_ifname: str
    b_address: str


class Netns:
    """A set of namespaces named ``<RUN_PREFIX>-<n>-<suffix>``, deleted on ``close()``.

    Use as a context manager. ``add("a")`` makes a namespace with its loopback up;
    ``veth(a, "203.0.113.1/24", b, "203.0.113.2/24")`` links two of them. ``close()`` first ends
    every process started in the namespaces (charons included), then deletes them; an ``atexit``
    hook calls it too if a test process dies half-way.
    """

    _counter = 0

    def __init__(self) -> None:
        Netns._counter += 1
        self.prefix = f"{RUN_PREFIX}-{Netns._counter}"
        self.namespaces: list[Namespace] = []
        self._links = 0
        self._closed = False
        _register(self.close)

    def __enter__(self) -> Netns:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add(self, suffix: str) -> Namespace:
        ns = Namespace(f"{self.prefix}-{suffix}")
        run(["ip", "netns", "add", ns.name])
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    def veth(self, a: Namespace, a_address: str, b: Namespace, b_address: str) -> Veth:
        """A veth pair created directly inside both namespaces (names need only be unique there)."""
        self._links += 1
        a_if, b_if = f"veth{self._links}a", f"veth{self._links}b"
        run(
            [
                *("ip", "link", "add", "name", a_if, "netns", a.name, "type", "veth"),
                *("peer", "name", b_if, "netns", b.name),
            ]
        )
        for ns, ifname, address in ((a, a_if, a_address), (b, b_if, b_address)):
            ns.ip("addr", "add", address, "dev", ifname)
            ns.ip("link", "set", ifname, "up")
        return Veth(a, a_if, a_address, b, b_if, b_address)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        _unregister(self.close)
        for ns in reversed(self.namespaces):
            ns.stop_processes()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns.name], check=False, timeout=10)
        self.namespaces.clear()


def leftover_namespaces(prefix: str = RUN_PREFIX) -> list[str]:
    """Names of existing namespaces that start with ``prefix`` (for cleanup assertions)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


# ---------------------------------------------------------------------------------------------
# swanctl --list-sas output

VICIValue = str | list[str] | dict[str, "VICIValue"]


def parse_vici_pretty(text: str) -> list[tuple[str, dict[str, VICIValue]]]:
    """Parse ``swanctl --pretty`` output (vici messages, one ``key = value`` per line).

    Returns ``(event name, message)`` for each top-level block, e.g. ``("list-sa event", {...})``.
    Line-based, so values with spaces (identities such as ``C=CH, O=x``) survive.
    """
    events: list[tuple[str, dict[str, VICIValue]]] = []
    stack: list[dict[str, VICIValue]] = []
    current_list: list[str] | None = None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if current_list is not None:
            if line == "]":
                current_list = None
            else:
                current_list.append(line)
            continue
        if line == "}":
            if not stack:
                raise ValueError(f"unbalanced '}}' in vici output:\n{text}")
            stack.pop()
            continue
        if line.endswith(" {"):
            name = line[:-2].strip()
            section: dict[str, VICIValue] = {}
            if stack:
                stack[-1][name] = section
            else:
                events.append((name, section))
            stack.append(section)
            continue
        if not stack:
            continue  # a status line outside any message
        if line.endswith(" ["):  # "key = [" (pretty) or "key [" (older)
            current_list = []
            stack[-1][line[:-2].rstrip().removesuffix("=").rstrip()] = current_list
            continue
        key, sep, value = line.partition(" = ")
        if not sep:
            key, value = line.rstrip("="), ""
            key = key.rstrip()
        stack[-1][key] = value
    if stack or current_list is not None:
        raise ValueError(f"truncated vici output:\n{text}")
    return events


def _str(message: Mapping[str, VICIValue], key: str) -> str:
    value = message.get(key, "")
    return value if isinstance(value, str) else ""


def _strs(message: Mapping[str, VICIValue], key: str) -> tuple[str, ...]:
    value = message.get(key, [])
    return tuple(value) if isinstance(value, list) else ()


@dataclass(frozen=True)
class ChildSa:
    name: str
    uniqueid: str
    state: str
    protocol: str
    mode: str
    encap: bool
    spi_in: str
    spi_out: str
    encr_alg: str
    encr_keysize: str
    integ_alg: str
    local_ts: tuple[str, ...]
    remote_ts: tuple[str, ...]
    raw: Mapping[str, VICIValue]

    @classmethod
    def from_vici(cls, msg: Mapping[str, VICIValue]) -> ChildSa:
        return cls(
            name=_str(msg, "name"),
            uniqueid=_str(msg, "uniqueid"),
            state=_str(msg, "state"),
            protocol=_str(msg, "protocol"),
            mode=_str(msg, "mode"),
            encap=_str(msg, "encap") == "yes",
            spi_in=_str(msg, "spi-in"),
            spi_out=_str(msg, "spi-out"),
            encr_alg=_str(msg, "encr-alg"),
            encr_keysize=_str(msg, "encr-keysize"),
            integ_alg=_str(msg, "integ-alg"),
            local_ts=_strs(msg, "local-ts"),
            remote_ts=_strs(msg, "remote-ts"),
            raw=msg,
        )


@dataclass(frozen=True)
class IkeSa:
    name: str
    uniqueid: str
    version: str
    state: str
    initiator: bool
    local_host: str
    remote_host: str
    local_port: str
    remote_port: str
    initiator_spi: str
    responder_spi: str
    encr_alg: str
    encr_keysize: str
    integ_alg: str
    prf_alg: str
    dh_group: str
    nat_any: bool
    children: tuple[ChildSa, ...]
    raw: Mapping[str, VICIValue]

    @classmethod
    def from_vici(cls, name: str, msg: Mapping[str, VICIValue]) -> IkeSa:
        children_msg = msg.get("child-sas", {})
        children = (
            tuple(ChildSa.from_vici(c) for c in children_msg.values() if isinstance(c, dict))
            if isinstance(children_msg, dict)
            else ()
        )
        return cls(
            name=name,
            uniqueid=_str(msg, "uniqueid"),
            version=_str(msg, "version"),
            state=_str(msg, "state"),
            initiator=_str(msg, "initiator") == "yes",
            local_host=_str(msg, "local-host"),
            remote_host=_str(msg, "remote-host"),
            local_port=_str(msg, "local-port"),
            remote_port=_str(msg, "remote-port"),
            initiator_spi=_str(msg, "initiator-spi"),
            responder_spi=_str(msg, "responder-spi"),
            encr_alg=_str(msg, "encr-alg"),
            encr_keysize=_str(msg, "encr-keysize"),
            integ_alg=_str(msg, "integ-alg"),
            prf_alg=_str(msg, "prf-alg"),
            dh_group=_str(msg, "dh-group"),
            nat_any=_str(msg, "nat-any") == "yes",
            children=children,
            raw=msg,
        )

    def installed(self, name: str) -> list[ChildSa]:
        """The INSTALLED children of that name (rekeyed ones linger a while as DELETED)."""
        return [c for c in self.children if c.name == name and c.state == "INSTALLED"]

    def child(self, name: str) -> ChildSa | None:
        """The INSTALLED child of that name (else any of that name), or None."""
        named = [c for c in self.children if c.name == name]
        return next(iter(self.installed(name) or named), None)


def parse_list_sas(text: str) -> list[IkeSa]:
    """The IKE SAs (with their children) of ``swanctl --list-sas --pretty`` output."""
    sas: list[IkeSa] = []
    for event, message in parse_vici_pretty(text):
        if event != "list-sa event":
            continue
        for name, body in message.items():
            if isinstance(body, dict):
                sas.append(IkeSa.from_vici(name, body))
    return sas


# ---------------------------------------------------------------------------------------------
# charon


def charon_installed() -> bool:
    return CHARON.is_file() and os.access(CHARON, os.X_OK) and shutil.which(SWANCTL) is not None


@dataclass
class CharonSettings:
    """What goes into the generated strongswan.conf besides paths."""

    plugins: Sequence[str] = DEFAULT_PLUGINS
    port: int = 500
    port_nat_t: int = 4500
    #: IKEv1 aggressive mode with PSK is refused by a responder without this flag.
    aggressive_psk_responder: bool = False
    #: Fast failure detection for tests (the defaults give ~165 s).
    retransmit_timeout: float = 1.0
    retransmit_base: float = 1.5
    retransmit_tries: int = 3
    #: filelog levels: default, then per subsystem (ike, cfg, knl, net, enc, ...).
    log_default: int = 1
    log_levels: Mapping[str, int] = field(
        default_factory=lambda: {"ike": 1, "cfg": 2, "knl": 1, "net": 1, "enc": 1, "esp": 1}
    )
    #: Extra text placed verbatim inside the ``charon { }`` section.
    extra: str = ""


def strongswan_conf(settings: CharonSettings, *, vici_socket: Path, log_file: Path) -> str:
    """A self-contained strongswan.conf: explicit plugins, no includes, ``load_modular = no``."""
    levels = "\n".join(f"            {k} = {v}" for k, v in settings.log_levels.items())
    aggressive = (
        "    i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n"
        if settings.aggressive_psk_responder
        else ""
    )
    extra = textwrap.indent(textwrap.dedent(settings.extra).strip(), "    ")
    return (
        "# generated by tests/interop/harness.py\n"
        "charon {\n"
        "    load_modular = no\n"
        f"    load = {' '.join(settings.plugins)}\n"
        f"    port = {settings.port}\n"
        f"    port_nat_t = {settings.port_nat_t}\n"
        f"    retransmit_timeout = {settings.retransmit_timeout:g}\n"
        f"    retransmit_base = {settings.retransmit_base:g}\n"
        f"    retransmit_tries = {settings.retransmit_tries}\n"
        "    install_virtual_ip = no\n"
        f"{aggressive}"
        "    plugins {\n"
        "        vici {\n"
        f"            socket = unix://{vici_socket}\n"
        "        }\n"
        "    }\n"
        "    filelog {\n"
        "        main {\n"
        f"            path = {log_file}\n"
        "            time_format = %T\n"
        "            ike_name = yes\n"
        "            append = no\n"
        "            flush_line = yes\n"
        f"            default = {settings.log_default}\n"
        f"{levels}\n"
        "        }\n"
        "    }\n"
        "    syslog {\n"
        "        daemon {\n"
        "            default = -1\n"
        "        }\n"
        "    }\n"
        f"{extra}\n"
        "}\n"
    )


_SWANCTL_DIRS = (
    "conf.d",
    "x509",
    "x509ca",
    "x509ocsp",
    "x509aa",
    "x509ac",
    "x509crl",
    "pubkey",
    "private",
    "rsa",
    "ecdsa",
    "bliss",
    "pkcs8",
    "pkcs12",
)


class Charon:
    """A strongSwan charon in a namespace, with its own /run, vici socket, config and log.

    ``start()`` launches it and loads ``swanctl_conf``; ``initiate``/``rekey``/``terminate`` drive
    it through swanctl; ``list_sas()`` reads its SAs; ``stop()`` ends it by pid. ``files`` are extra
    files written under the swanctl directory (e.g. ``{"x509/peer.pem": b"..."}``).
    """

    def __init__(
        self,
        ns: Namespace,
        swanctl_conf: str,
        *,
        name: str | None = None,
        settings: CharonSettings | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> None:
        self.ns = ns
        self.name = name or ns.name
        self.settings = settings or CharonSettings()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tg-charon-{os.getpid()}-"))
        self.rundir = self.workdir / "run"
        self.swanctl_dir = self.workdir / "swanctl"
        self.vici_socket = self.workdir / "charon.vici"
        self.log_file = self.workdir / "charon.log"
        self.output_file = self.workdir / "charon.out"
        self.conf_file = self.workdir / "strongswan.conf"
        self.uri = f"unix://{self.vici_socket}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._final_log: str | None = None

        self.rundir.mkdir()
        for sub in _SWANCTL_DIRS:
            (self.swanctl_dir / sub).mkdir(parents=True)
        (self.swanctl_dir / "swanctl.conf").write_text(textwrap.dedent(swanctl_conf))
        for rel, data in (files or {}).items():
            target = self.swanctl_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.conf_file.write_text(
            strongswan_conf(self.settings, vici_socket=self.vici_socket, log_file=self.log_file)
        )

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, *, timeout: float = 10.0, load: bool = True) -> Charon:
        """Start charon (no fork in the exec chain: the Popen pid is charon's) and load config."""
        if self.proc is not None:
            raise HarnessError(f"{self.name}: already started")
        script = 'mount --bind "$1" /run && exec env STRONGSWAN_CONF="$2" "$3"'
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
        command += [str(self.rundir), str(self.conf_file), str(CHARON)]
        with self.output_file.open("wb") as out:
            self.proc = self.ns.popen(
                *command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.ns.stoppers.append(self.stop)
        _register(self.stop)
        try:
            wait_until(self._vici_ready, timeout=timeout, what=f"{self.name}: vici socket")
            if load:
                self.load_all()
        except Exception as exc:
            log = self.log_tail()
            self.stop()
            raise HarnessError(f"{self.name}: charon did not start: {exc}\n{log}") from exc
        return self

    def _vici_ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise HarnessError(f"charon exited with {self.proc.returncode}")
        if not self.vici_socket.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(str(self.vici_socket))
            except OSError:
                return False
        return True

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise HarnessError(f"{self.name}: not started")
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, *, grace: float = 5.0) -> int | None:
        """End charon by its pid (SIGTERM, bounded wait, then SIGKILL); keep its log text."""
        _unregister(self.stop)
        code = None
        if self.proc is not None:
            code = end_process(self.proc, grace=grace)
        if self._final_log is None:
            self._final_log = self._read_log()
        if self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)
        return code

    def __enter__(self) -> Charon:
        return self.start() if self.proc is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- logs -------------------------------------------------------------------------------

    def _read_log(self) -> str:
        parts = []
        for path in (self.log_file, self.output_file):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")
                if text:
                    parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts)

    def log(self) -> str:
        """charon's log (file log, then stdout/stderr), also after ``stop()``."""
        return self._final_log if self._final_log is not None else self._read_log()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(
            [f"--- {self.name}: last lines of charon's log", *self.log().splitlines()[-lines:]]
        )

    # -- swanctl ----------------------------------------------------------------------------

    def swanctl(
        self, *args: str, timeout: float = 20.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``swanctl <args> --uri unix://…`` with this instance's SWANCTL_DIR."""
        env = dict(os.environ, SWANCTL_DIR=str(self.swanctl_dir))
        try:
            return run([SWANCTL, *args, "--uri", self.uri], timeout=timeout, check=check, env=env)
        except HarnessError as exc:
            raise HarnessError(f"{self.name}: {exc}\n{self.log_tail()}") from exc

    def load_all(self) -> str:
        return self.swanctl("--load-all").stdout

    def initiate(self, child: str, *, ike: str | None = None, timeout: float = 20.0) -> str:
        """Initiate a CHILD_SA (and its IKE_SA); blocks until charon reports the outcome."""
        args = ["--initiate", "--child", child, "--timeout", str(max(1, int(timeout)))]
        if ike is not None:
            args += ["--ike", ike]
        return self.swanctl(*args, timeout=timeout + 5).stdout

    def terminate(
        self, *, ike: str | None = None, child: str | None = None, timeout: float = 20.0
    ) -> str:
        args = ["--terminate", "--timeout", str(max(1, int(timeout)))]
        if ike is not None:
            args += ["--ike", ike]
        if child is not None:
            args += ["--child", child]
        return self.swanctl(*args, timeout=timeout + 5).stdout

    def rekey(self, *, ike: str | None = None, child: str | None = None) -> str:
        """Ask for a rekey (asynchronous in charon: poll ``list_sas()`` for the result)."""
        args = ["--rekey"]
        if ike is not None:
            args += ["--ike", ike]
        if child is not None:
            args += ["--child", child]
        return self.swanctl(*args).stdout

    def list_sas(self) -> list[IkeSa]:
        return parse_list_sas(self.swanctl("--list-sas", "--pretty").stdout)

    def ike_sa(self, name: str) -> IkeSa | None:
        """The ESTABLISHED IKE SA of that connection name (else any of that name), or None."""
        named = [sa for sa in self.list_sas() if sa.name == name]
        established = [sa for sa in named if sa.state == "ESTABLISHED"]
        return next(iter(established or named), None)

    def wait_established(self, ike: str, child: str, *, timeout: float = 20.0) -> IkeSa:
        """Wait until exactly one IKE SA ``ike`` is ESTABLISHED with ``child`` INSTALLED."""

        def ready() -> IkeSa | None:
            sas = [sa for sa in self.list_sas() if sa.name == ike]
            if len(sas) != 1 or sas[0].state != "ESTABLISHED":
                return None
            # A rekeyed child lingers a few seconds as DELETED (delete_rekeyed_delay): skip it.
            installed = [c for c in sas[0].children if c.name == child and c.state == "INSTALLED"]
            return sas[0] if len(installed) == 1 else None

        try:
            return wait_until(ready, timeout=timeout, what=f"{self.name}: {ike}/{child} up")
        except TimeoutError as exc:
            raise HarnessError(f"{exc}\nSAs: {self.list_sas()}\n{self.log_tail()}") from exc


# ---------------------------------------------------------------------------------------------
# A plain UDP listener in a namespace (for recording what charon sends)


def recv_datagrams(
    ns: Namespace,
    address: str,
    port: int,
    *,
    count: int = 1,
    timeout: float = 10.0,
    ready: Callable[[], object] | None = None,
) -> list[bytes]:
    """Bind UDP ``address:port`` inside ``ns`` and return up to ``count`` datagrams (bounded).

    A small Python child (``ip netns exec``) owns the socket and prints each datagram in hex;
    ``ready`` is called once the socket is bound (e.g. to make charon initiate).
    """
    code = textwrap.dedent(
        f"""
        import socket, sys, time
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(({address!r}, {port}))
        sys.stdout.write("READY\\n"); sys.stdout.flush()
        deadline = time.monotonic() + {timeout}
        got = 0
        while got < {count}:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except TimeoutError:
                break
            sys.stdout.write(data.hex() + "\\n"); sys.stdout.flush()
            got += 1
        """
    )
    proc = ns.popen(sys.executable, "-c", code, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode().strip()
        if first != "READY":
            raise HarnessError(f"UDP listener in {ns.name} failed to bind {address}:{port}")
        if ready is not None:
            ready()
        out, _ = proc.communicate(timeout=timeout + 5)
    finally:
        end_process(proc)
        with contextlib.suppress(ValueError):
            ns.processes.remove(proc)
    return [bytes.fromhex(line) for line in out.decode().split() if line]


def topology_two_gateways(netns: Netns) -> tuple[Namespace, Namespace, Veth]:
    """Namespaces ``a`` and ``b``: 203.0.113.1/24 <-> 203.0.113.2/24 on a veth pair ("internet"),
    inside addresses 10.1.0.1/32 (a) and 10.2.0.1/32 (b) on their loopbacks (for 10.1.0.0/24 <->
    10.2.0.0/24 tunnels)."""
    a = netns.add("a")
    b = netns.add("b")
    link = netns.veth(a, "203.0.113.1/24", b, "203.0.113.2/24")
    a.add_address("10.1.0.1/32")
    b.add_address("10.2.0.1/32")
    return a, b, link


def psk_gateway_conf(
    *,
    conn: str = "gw",
    child: str = "gw",
    version: int = 2,
    local_addr: str,
    remote_addr: str,
    local_ts: str,
    remote_ts: str,
    psk: str = "tunnelgate-interop-psk",
    proposals: str = "aes256-sha256-modp2048",
    esp_proposals: str = "aes256gcm16",
    aggressive: bool = False,
    extra_conn: str = "",
    extra_child: str = "",
) -> str:
    """A swanctl.conf for a site-to-site PSK gateway (IDs are the gateway addresses)."""
    return textwrap.dedent(
        f"""\
        connections {{
            {conn} {{
                version = {version}
                local_addrs = {local_addr}
                remote_addrs = {remote_addr}
                proposals = {proposals}
                aggressive = {"yes" if aggressive else "no"}
                local {{
                    auth = psk
                    id = {local_addr}
                }}
                remote {{
                    auth = psk
                    id = {remote_addr}
                }}
                children {{
                    {child} {{
                        local_ts = {local_ts}
                        remote_ts = {remote_ts}
                        esp_proposals = {esp_proposals}
                        {extra_child}
                    }}
                }}
                {extra_conn}
            }}
        }}
        secrets {{
            ike-{conn} {{
                id-local = {local_addr}
                id-remote = {remote_addr}
                secret = "{psk}"
            }}
        }}
        """
    )


def send_udp(ns: Namespace, src: str, dst: str, port: int, payload: bytes) -> None:
    """Send one UDP datagram from ``src`` (bound, port chosen by the kernel) inside ``ns``."""
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"s.bind(({src!r}, 0))\n"
        f"s.sendto(bytes.fromhex({payload.hex()!r}), ({dst!r}, {port}))\n"
    )
    ns.run(sys.executable, "-c", code, timeout=10)


# ---------------------------------------------------------------------------------------------
# Two sites with hosts behind the gateways, and the real `tunnelgate run` daemon


@dataclass(frozen=True)
class Sites:
    """host-a 10.1.0.10 — gw-a 192.0.2.1 — inet — gw-b 198.51.100.2 — host-b 10.2.0.10.

    ``gw_a_outside``/``gw_b_outside`` are the gateways' outside interface names (veths); the
    gateways forward, with reverse-path filtering off (traffic leaves through TUN devices).
    """

    host_a: Namespace
    gw_a: Namespace
    inet: Namespace
    gw_b: Namespace
    host_b: Namespace
    gw_a_outside: str
    gw_b_outside: str

    GW_A = "192.0.2.1"
    GW_B = "198.51.100.2"
    HOST_A = "10.1.0.10"
    HOST_B = "10.2.0.10"


def _sysctl(ns: Namespace, *settings: str) -> None:
    for setting in settings:
        ns.run("sysctl", "-q", "-w", setting)


def topology_sites(netns: Netns) -> Sites:
    """Five namespaces: a host behind each gateway, a router ("internet") between them."""
    host_a, gw_a, inet = netns.add("ha"), netns.add("gwa"), netns.add("inet")
    gw_b, host_b = netns.add("gwb"), netns.add("hb")
    netns.veth(host_a, "10.1.0.10/24", gw_a, "10.1.0.1/24")
    out_a = netns.veth(gw_a, "192.0.2.1/24", inet, "192.0.2.254/24")
    out_b = netns.veth(gw_b, "198.51.100.2/24", inet, "198.51.100.254/24")
    netns.veth(gw_b, "10.2.0.1/24", host_b, "10.2.0.10/24")
    host_a.ip("route", "add", "default", "via", "10.1.0.1")
    host_b.ip("route", "add", "default", "via", "10.2.0.1")
    gw_a.ip("route", "add", "default", "via", "192.0.2.254")
    gw_b.ip("route", "add", "default", "via", "198.51.100.254")
    _sysctl(inet, "net.ipv4.ip_forward=1")
    for gw in (gw_a, gw_b):
        _sysctl(
            gw,
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        )
    return Sites(host_a, gw_a, inet, gw_b, host_b, out_a.a_ifname, out_b.a_ifname)


class TunnelgateDaemon:
    """``python -m tunnelgate run`` in a namespace: JSON events from its stdout (a file), the
    control socket for ``show`` commands; ended by its pid (SIGTERM, then SIGKILL)."""

    def __init__(
        self,
        ns: Namespace,
        config_text: str,
        *,
        args: Sequence[str] = (),
        tun: str = "tgtun0",
        python_prelude: str | None = None,
        prepare: Callable[[Path], object] | None = None,
    ) -> None:
        self.ns = ns
        self.workdir = Path(tempfile.mkdtemp(prefix=f"tg-gw-{os.getpid()}-"))
        self.config = self.workdir / "gateway.cfg"
        self.config.write_text(textwrap.dedent(config_text))
        if prepare is not None:  # e.g. import certificates into the key store beside the config
            prepare(self.config)
        self.control = self.workdir / "control" / "gw.sock"
        self.stdout_file = self.workdir / "events.jsonl"
        self.stderr_file = self.workdir / "stderr.txt"
        self.tun = tun
        argv = [
            *("run", "--config", str(self.config), "--control", str(self.control)),
            *("--tun", tun, *args),
        ]
        if python_prelude is None:
            command = [sys.executable, "-m", "tunnelgate", *argv]
        else:  # a test-only tweak applied before the daemon starts (e.g. shorter timers)
            script = (
                f"{python_prelude}\nimport runpy, sys\nsys.argv = ['tunnelgate', *sys.argv[1:]]\n"
            )
            script += "runpy.run_module('tunnelgate', run_name='__main__', alter_sys=True)\n"
            command = [sys.executable, "-c", script, *argv]
        with self.stdout_file.open("wb") as out, self.stderr_file.open("wb") as err:
            self.proc = ns.popen(*command, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        ns.stoppers.append(self.stop)
        _register(self.stop)
        self._final: tuple[str, str] | None = None

    def start(self, *, timeout: float = 15.0) -> TunnelgateDaemon:
        """Wait for ``GatewayStarted`` and the control socket."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise HarnessError(f"tunnelgate exited with {self.proc.returncode}\n{self.text()}")
            return bool(self.find("GatewayStarted")) and self.control.exists()

        try:
            wait_until(ready, timeout=timeout, what="tunnelgate: GatewayStarted")
        except Exception:
            self.stop()
            raise
        return self

    def _texts(self) -> tuple[str, str]:
        if self._final is not None:
            return self._final
        out = err = ""
        with contextlib.suppress(OSError):
            out = self.stdout_file.read_text(errors="replace")
        with contextlib.suppress(OSError):
            err = self.stderr_file.read_text(errors="replace")
        return out, err

    def text(self) -> str:
        out, err = self._texts()
        return f"--- tunnelgate stdout\n{out}\n--- tunnelgate stderr\n{err[-4000:]}"

    def events(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for line in self._texts()[0].splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def find(self, kind: str, **fields: object) -> list[dict[str, object]]:
        """Events of that kind whose fields equal ``fields``."""
        return [
            e
            for e in self.events()
            if e.get("event") == kind and all(e.get(k) == v for k, v in fields.items())
        ]

    def wait_event(
        self, kind: str, *, count: int = 1, timeout: float = 20.0, **fields: object
    ) -> list[dict[str, object]]:
        def seen() -> list[dict[str, object]] | None:
            found = self.find(kind, **fields)
            return found if len(found) >= count else None

        try:
            return wait_until(seen, timeout=timeout, what=f"tunnelgate: {count}x {kind}")
        except TimeoutError as exc:
            raise HarnessError(f"{exc}\n{self.text()}") from exc

    def show(self, line: str, *, as_json: bool = False) -> str:
        from tunnelgate.daemon.control import request

        answer = request(self.control, line, as_json=as_json)
        if not answer.ok:
            raise HarnessError(f"tunnelgate: {line!r} failed: {answer.output}")
        return answer.output

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, *, grace: float = 5.0) -> int | None:
        _unregister(self.stop)
        code = end_process(self.proc, grace=grace)
        if self._final is None:
            self._final = self._texts()
        if self.workdir.exists():
            shutil.rmtree(self.workdir, ignore_errors=True)
        return code


#: One TCP transfer: a server in one namespace hashes what it receives, the client sends
#: deterministic pseudo-random bytes; both print "<bytes> <sha256>".
TCP_SERVER = """
import hashlib, socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(1); s.settimeout(float(sys.argv[3]))
print("listening", flush=True)
c, _ = s.accept(); c.settimeout(float(sys.argv[3])); h = hashlib.sha256(); n = 0
while chunk := c.recv(65536):
    h.update(chunk); n += len(chunk)
print(n, h.hexdigest(), flush=True)
"""

TCP_CLIENT = """
import hashlib, random, socket, sys
size, timeout, mss = int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
data = random.Random(7).randbytes(size)
c = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET); c.settimeout(timeout)
if mss:  # clamp the segment size (what an MSS-clamping router or a lower route MTU does)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
c.connect((sys.argv[1], int(sys.argv[2])))
c.sendall(data); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
print(size, hashlib.sha256(data).hexdigest(), flush=True)
"""


def tcp_transfer(
    client: Namespace,
    server: Namespace,
    address: str,
    size: int,
    *,
    port: int = 5001,
    timeout: float = 20.0,
    mss: int | None = None,
) -> tuple[str, str]:
    """Send ``size`` bytes from ``client`` to ``address`` (in ``server``; IPv4 or IPv6):
    (sent, received).

    ``timeout`` bounds each socket operation on both ends; ``mss`` clamps the client's TCP
    segment size (``TCP_MAXSEG``), None for the kernel's choice.
    """
    proc = server.popen(
        *(sys.executable, "-c", TCP_SERVER, address, str(port), str(timeout)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().decode().strip() != "listening":
            raise HarnessError(f"TCP server in {server.name} did not start")
        sent = client.run(
            *(sys.executable, "-c", TCP_CLIENT, address, str(port), str(size)),
            *(str(timeout), str(mss or 0)),
            timeout=2 * timeout + 10,
        )
        out, _ = proc.communicate(timeout=timeout + 10)
    finally:
        end_process(proc)
        with contextlib.suppress(ValueError):
            server.processes.remove(proc)
    return sent.stdout.strip(), out.decode().strip()


def ping(
    ns: Namespace, target: str, count: int, *, interval: float = 0.2, deadline: float | None = None
) -> tuple[int, int, str]:
    """``ping`` from ``ns``: (transmitted, received, output)."""
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2"]
    if deadline is not None:
        argv += ["-w", str(int(deadline))]
    limit = (deadline if deadline is not None else count * interval + 5) + 10
    result = ns.run(*argv, target, timeout=limit, check=False)
    for line in result.stdout.splitlines():
        if "packets transmitted" in line:
            parts = line.split()
            return int(parts[0]), int(parts[3]), result.stdout
    return 0, 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------------
# The same two sites with gw-b behind a real NAT (the lab's ``--nat``)


@dataclass(frozen=True)
class NatSites(Sites):
    """``Sites`` with a NAT namespace between the internet and gw-b, as ``tunnelgate lab up
    --nat`` builds it (``tunnelgate.lab.topology.BEHIND_NAT``): the NAT holds gw-b's public
    address 198.51.100.2 and masquerades 10.99.0.0/24 behind it, and forwards UDP 500/4500
    arriving there to gw-b at 10.99.0.2. The lab's nftables rules carry counters here, so a
    test can show that packets really were translated (``nat_counters``)."""

    nat: Namespace
    nat_public_if: str

    GW_B_INSIDE = "10.99.0.2"


def nat_ruleset(public_if: str) -> str:
    """The lab's NAT ruleset (``NAT_RULESET``) on ``public_if``, with a counter on each rule."""
    from tunnelgate.lab.topology import NAT_RULESET

    ruleset = NAT_RULESET.replace('iifname "eth1"', f'iifname "{public_if}"')
    ruleset = ruleset.replace('oifname "eth1"', f'oifname "{public_if}"')
    return ruleset.replace(" dnat to ", " counter dnat to ").replace(
        " masquerade", " counter masquerade"
    )


def topology_sites_nat(netns: Netns) -> NatSites:
    """Six namespaces: ``topology_sites`` with the NAT in front of gw-b (addresses of
    ``tunnelgate.lab.topology.BEHIND_NAT``)."""
    from tunnelgate.lab.topology import GW_B_BEHIND_NAT, GW_B_PUBLIC

    host_a, gw_a, inet = netns.add("ha"), netns.add("gwa"), netns.add("inet")
    nat, gw_b, host_b = netns.add("nat"), netns.add("gwb"), netns.add("hb")
    netns.veth(host_a, "10.1.0.10/24", gw_a, "10.1.0.1/24")
    out_a = netns.veth(gw_a, "192.0.2.1/24", inet, "192.0.2.254/24")
    public = netns.veth(nat, f"{GW_B_PUBLIC}/24", inet, "198.51.100.254/24")
    out_b = netns.veth(gw_b, f"{GW_B_BEHIND_NAT}/24", nat, "10.99.0.1/24")
    netns.veth(gw_b, "10.2.0.1/24", host_b, "10.2.0.10/24")
    host_a.ip("route", "add", "default", "via", "10.1.0.1")
    host_b.ip("route", "add", "default", "via", "10.2.0.1")
    gw_a.ip("route", "add", "default", "via", "192.0.2.254")
    nat.ip("route", "add", "default", "via", "198.51.100.254")
    gw_b.ip("route", "add", "default", "via", "10.99.0.1")
    for router in (inet, nat):
        _sysctl(router, "net.ipv4.ip_forward=1")
    for gw in (gw_a, gw_b):
        _sysctl(
            gw,
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.rp_filter=0",
            "net.ipv4.conf.default.rp_filter=0",
        )
    rules = Path(tempfile.mkdtemp(prefix=f"tg-nat-{os.getpid()}-")) / "nat.nft"
    try:
        rules.write_text(nat_ruleset(public.a_ifname))
        nat.run("nft", "-f", str(rules))
    finally:
        shutil.rmtree(rules.parent, ignore_errors=True)
    return NatSites(
        host_a, gw_a, inet, gw_b, host_b, out_a.a_ifname, out_b.a_ifname, nat, public.a_ifname
    )


def nat_counters(sites: NatSites) -> dict[str, int]:
    """Packets counted by the NAT's rules so far: {"dnat": n, "masquerade": n} (nftables
    counts the first packet of each translated flow; conntrack translates the rest)."""
    listed = json.loads(sites.nat.run("nft", "-j", "list", "table", "ip", "lab").stdout)
    out = {"dnat": 0, "masquerade": 0}
    for item in listed.get("nftables", []):
        rule = item.get("rule")
        if not rule:
            continue
        packets = sum(e["counter"]["packets"] for e in rule["expr"] if "counter" in e)
        for kind in out:
            if any(kind in e for e in rule["expr"]):
                out[kind] += packets
    return out
