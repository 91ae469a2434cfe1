"""``tunnelgate lab up|down|status|exec``: the two-site lab in network namespaces.

:class:`Lab` builds the topology of :mod:`tunnelgate.lab.topology`, optionally starts a gateway
daemon in ``gw-a`` and ``gw-b``, and records what it made in ``STATE/lab.json`` so that ``down``
removes exactly that (and any leftover namespace of the prefix), even after a partial ``up``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunnelgate.lab import netns, topology
from tunnelgate.lab.netns import LabError

DEFAULT_PREFIX = "tglab"
STATE_ROOT = Path("/run/tunnelgate-lab")
STATE_FILE = "lab.json"
GATEWAY_WAIT = 20.0
STOP_WAIT = 5.0
_PREFIX_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")


def default_state_dir(prefix: str) -> Path:
    """``/run/tunnelgate-lab/<prefix>``."""
    return STATE_ROOT / prefix


def default_config_dir() -> Path:
    """``examples/lab`` of the source tree."""
    return Path(__file__).resolve().parents[3] / "examples" / "lab"


def _pid_alive(pid: int) -> bool:
    """True when ``pid`` runs (reaps it first if it is our exited child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _pid_is_gateway(pid: int, sock: Path) -> bool:
    """True when ``pid`` is the gateway whose control socket is ``sock`` (guards pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(str(sock)) in cmdline


def _log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


@dataclass
class Lab:
    """A lab: its prefix, what it created, and the gateways it started."""

    prefix: str
    nat: bool
    state_dir: Path
    namespaces: dict[str, str] = field(default_factory=dict)  # node -> namespace
    pids: dict[str, int] = field(default_factory=dict)  # gateway -> pid
    configs: dict[str, str] = field(default_factory=dict)  # gateway -> config path
    gateway_args: list[str] = field(default_factory=list)  # extra `tunnelgate run` options
    _procs: dict[str, subprocess.Popen[bytes]] = field(
        default_factory=dict, repr=False, compare=False
    )

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def up(
        cls,
        prefix: str = DEFAULT_PREFIX,
        nat: bool = False,
        state_dir: Path | None = None,
        gateways: bool = True,
        config_dir: Path | None = None,
        gateway_wait: float = GATEWAY_WAIT,
        gateway_args: Sequence[str] = (),
    ) -> Lab:
        """Create the lab (and start the gateways unless ``gateways`` is false). On failure,
        remove whatever was created and raise :class:`LabError`."""
        if not _PREFIX_RE.match(prefix):
            raise LabError(f"invalid lab prefix {prefix!r}: use 1-24 of [a-z0-9_-]")
        state = (state_dir or default_state_dir(prefix)).resolve()
        existing = sorted(set(netns.list_netns()) & _all_names(prefix))
        if existing or (state / STATE_FILE).exists():
            what = ", ".join(existing) if existing else str(state / STATE_FILE)
            down = f"tunnelgate lab down --prefix {prefix}"
            if state != default_state_dir(prefix):
                down += f" --state {state}"
            raise LabError(
                f"a lab with prefix {prefix!r} already exists ({what}); run `{down}` first"
            )
        plan = topology.plan(nat)
        configs: dict[str, str] = {}
        if gateways:
            cdir = (config_dir or default_config_dir()).resolve()
            for gw, name in plan.configs:
                path = cdir / name
                if not path.is_file():
                    raise LabError(f"gateway configuration {path} not found (use --configs DIR)")
                configs[gw] = str(path)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        # the gateways run on copies in the lab's state directory: `write memory` (and key
        # store changes) in a lab session must never rewrite the examples they came from
        for gw, source in list(configs.items()):
            configs[gw] = str(_working_copy(Path(source), state / f"{gw}.cfg"))
        lab = cls(
            prefix=prefix, nat=nat, state_dir=state, configs=configs, gateway_args=[*gateway_args]
        )
        try:
            lab._build(plan)
            if gateways:
                lab._start_gateways(gateway_wait)
        except BaseException as exc:
            try:
                lab.down()
            except LabError as cleanup:
                exc.add_note(f"cleanup after the failed `lab up` also failed: {cleanup}")
            raise
        return lab

    @classmethod
    def load(cls, state_dir: Path) -> Lab:
        """The lab recorded in ``state_dir/lab.json``."""
        path = state_dir / STATE_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(
                prefix=str(data["prefix"]),
                nat=bool(data["nat"]),
                state_dir=state_dir.resolve(),
                namespaces={str(k): str(v) for k, v in data["namespaces"].items()},
                pids={str(k): int(v) for k, v in data["pids"].items()},
                configs={str(k): str(v) for k, v in data["configs"].items()},
            )
        except FileNotFoundError as exc:
            raise LabError(f"no lab recorded in {state_dir} ({path} missing)") from exc
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LabError(f"cannot read {path}: {exc}") from exc

    @classmethod
    def attach(cls, prefix: str = DEFAULT_PREFIX, state_dir: Path | None = None) -> Lab:
        """The recorded lab of ``state_dir`` if any, else whatever namespaces of ``prefix``
        exist (with no known gateways)."""
        state = (state_dir or default_state_dir(prefix)).resolve()
        if (state / STATE_FILE).exists():
            return cls.load(state)
        present = set(netns.list_netns())
        namespaces = {n: f"{prefix}-{n}" for n in topology.ALL_NODES if f"{prefix}-{n}" in present}
        return cls(prefix, topology.NAT in namespaces, state, namespaces)

    # -- queries --------------------------------------------------------------------------

    def namespace(self, node: str) -> str:
        """The namespace name of ``node`` (e.g. ``gw-a`` -> ``tglab-gw-a``)."""
        if node not in self.namespaces:
            known = ", ".join(self.namespaces) or "none"
            raise LabError(f"lab {self.prefix!r} has no node {node!r} (nodes: {known})")
        return self.namespaces[node]

    def exec(
        self, node: str, argv: Sequence[str], timeout: float = netns.DEFAULT_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in ``node``'s namespace; output captured, exit code not checked."""
        return netns.ns_exec(self.namespace(node), argv, timeout=timeout, check=False)

    def socket(self, gateway: str) -> Path:
        """The control socket path of ``gateway``."""
        return self.state_dir / f"{gateway}.sock"

    def log(self, gateway: str) -> Path:
        """The log file of ``gateway``."""
        return self.state_dir / f"{gateway}.log"

    def status(self) -> tuple[dict[str, bool], dict[str, bool]]:
        """(namespace -> present, gateway -> alive) for every expected namespace and gateway."""
        present = set(netns.list_netns())
        nodes = topology.plan(self.nat).nodes
        names = {f"{self.prefix}-{n}" for n in nodes} | set(self.namespaces.values())
        spaces = {ns: ns in present for ns in sorted(names)}
        gws = {gw: _pid_alive(pid) for gw, pid in self.pids.items()}
        return spaces, gws

    # -- teardown -------------------------------------------------------------------------

    def down(self, stop_wait: float = STOP_WAIT) -> None:
        """Stop the recorded gateways (by pid), delete every namespace of the prefix and remove
        the state files. Idempotent; works on a partial lab."""
        errors: list[str] = []
        for gw, pid in list(self.pids.items()):
            try:
                self._stop(gw, pid, stop_wait)
            except OSError as exc:
                errors.append(f"stopping {gw} (pid {pid}): {exc}")
        self.pids.clear()
        self._procs.clear()
        present = set(netns.list_netns())
        for ns in sorted((_all_names(self.prefix) | set(self.namespaces.values())) & present):
            try:
                netns.ip("netns", "delete", ns)
            except LabError as exc:
                errors.append(str(exc))
        self.namespaces.clear()
        self._remove_state()
        if errors:
            raise LabError("lab down: " + "; ".join(errors))

    # -- internals ------------------------------------------------------------------------

    def _save(self) -> None:
        data = {
            "prefix": self.prefix,
            "nat": self.nat,
            "namespaces": self.namespaces,
            "pids": self.pids,
            "configs": self.configs,
        }
        tmp = self.state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        tmp.replace(self.state_dir / STATE_FILE)

    def _build(self, plan: topology.Plan) -> None:
        for node in plan.nodes:
            ns = f"{self.prefix}-{node}"
            self.namespaces[node] = ns  # recorded before creation: down() tolerates absence
            self._save()
            netns.add_netns(ns)
            if node in plan.forwarding:
                netns.sysctl(ns, "net.ipv4.ip_forward", "1")
            if node in topology.GATEWAYS or node == topology.INET:
                netns.sysctl(ns, "net.ipv6.conf.all.forwarding", "1")
            if node in plan.rp_filter_off:
                for scope in ("all", "default"):
                    netns.sysctl(ns, f"net.ipv4.conf.{scope}.rp_filter", "0")
        for link in plan.links:
            netns.add_veth(self.namespaces[link.a], link.a_if, self.namespaces[link.b], link.b_if)
        for node in plan.rp_filter_off:
            for ifname in topology.interfaces(plan, node):
                netns.sysctl(self.namespaces[node], f"net.ipv4.conf.{ifname}.rp_filter", "0")
        for addr in plan.addresses:
            netns.add_address(self.namespaces[addr.node], addr.ifname, addr.cidr)
        for node, via in plan.default_routes:
            netns.add_default_route(self.namespaces[node], via)
        for node, ruleset in plan.nft:
            netns.nft_load(self.namespaces[node], ruleset)

    def _start_gateways(self, wait: float) -> None:
        for gw in topology.GATEWAYS:
            sock = self.socket(gw)
            sock.unlink(missing_ok=True)
            argv = [sys.executable, "-m", "tunnelgate", "run", "--config", self.configs[gw]]
            argv += ["--control", str(sock), *self.gateway_args]
            with self.log(gw).open("ab") as log:
                proc = subprocess.Popen(
                    netns.ns_argv(self.namespace(gw), argv),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self._procs[gw] = proc
            self.pids[gw] = proc.pid
            self._save()
        deadline = time.monotonic() + wait
        pending = list(topology.GATEWAYS)
        while pending:
            for gw in list(pending):
                if self.socket(gw).exists():
                    pending.remove(gw)
                elif self._procs[gw].poll() is not None:
                    self._gateway_failed(gw, f"exited with code {self._procs[gw].returncode}")
            if pending and time.monotonic() > deadline:
                self._gateway_failed(pending[0], f"no control socket after {wait:g} s")
            if pending:
                time.sleep(0.1)

    def _gateway_failed(self, gw: str, why: str) -> None:
        raise LabError(
            f"gateway {gw} (pid {self.pids[gw]}, namespace {self.namespace(gw)}) {why}; "
            f"last lines of {self.log(gw)}:\n{_log_tail(self.log(gw))}"
        )

    def _stop(self, gw: str, pid: int, wait: float) -> None:
        proc = self._procs.get(gw)

        def alive() -> bool:
            return proc.poll() is None if proc is not None else _pid_alive(pid)

        if not alive() or (proc is None and not _pid_is_gateway(pid, self.socket(gw))):
            return  # gone, or the pid now belongs to someone else
        os.kill(pid, signal.SIGTERM)
        for sig, limit in ((signal.SIGKILL, wait), (None, 2.0)):
            deadline = time.monotonic() + limit
            while alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if sig is None or not alive():
                break
            os.kill(pid, sig)

    def _remove_state(self) -> None:
        names = [STATE_FILE, STATE_FILE + ".tmp"]
        names += [
            f"{gw}.{ext}" for gw in topology.GATEWAYS for ext in ("sock", "log", "cfg", "keys")
        ]
        for name in names:
            (self.state_dir / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.state_dir.rmdir()  # only if nothing else is in it


def _working_copy(source: Path, target: Path) -> Path:
    """``source`` (and its key store ``NAME.keys``, if any) copied to ``target``, mode 0600."""
    for src, dst in ((source, target), (source.with_suffix(".keys"), target.with_suffix(".keys"))):
        if src.is_file():
            dst.unlink(missing_ok=True)
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(src.read_bytes())
    return target


def _all_names(prefix: str) -> set[str]:
    return {f"{prefix}-{node}" for node in topology.ALL_NODES}


# -- command line -----------------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``lab up|down|status|exec`` to the ``tunnelgate`` parser."""
    lab = subparsers.add_parser("lab", help="a two-site test topology in network namespaces")
    sub = lab.add_subparsers(dest="lab_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--prefix", default=DEFAULT_PREFIX, help="namespace name prefix")
        p.add_argument(
            "--state",
            type=Path,
            default=None,
            metavar="DIR",
            help="state directory (default: /run/tunnelgate-lab/PREFIX)",
        )

    up = sub.add_parser("up", help="create the namespaces and start the gateways")
    common(up)
    up.add_argument("--nat", action="store_true", help="put gw-b behind a NAT")
    up.add_argument("--no-gateways", action="store_true", help="build the network only")
    up.add_argument(
        "--configs", type=Path, default=None, metavar="DIR", help="gateway configuration directory"
    )
    for option, what in (("child", "child SA"), ("ike", "IKE SA")):
        up.add_argument(
            f"--{option}-lifetime-seconds",
            type=int,
            default=None,
            metavar="N",
            help=f"force short {what} lifetimes (rekeys every ~N s) on both gateways",
        )
    common(sub.add_parser("down", help="stop the gateways and delete the namespaces"))
    common(sub.add_parser("status", help="show namespaces and gateway processes"))
    ex = sub.add_parser("exec", help="run a command in a lab namespace: exec NODE -- CMD...")
    common(ex)
    ex.add_argument("node", choices=topology.ALL_NODES)
    ex.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD")


def _lifetime_args(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for option in ("child", "ike"):
        value = getattr(args, f"{option}_lifetime_seconds")
        if value is not None:
            out += [f"--{option}-lifetime-seconds", str(value)]
    return out


def run(args: argparse.Namespace) -> int:
    """Run the ``lab`` subcommand of ``args``."""
    try:
        if args.lab_command == "up":
            return _run_up(args)
        lab = Lab.attach(args.prefix, args.state)
        if args.lab_command == "down":
            lab.down()
            print(f"lab {lab.prefix}: down")
            return 0
        if args.lab_command == "status":
            return _print_status(lab)
        return _run_exec(lab, args)
    except LabError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


def _run_up(args: argparse.Namespace) -> int:
    lab = Lab.up(
        args.prefix,
        nat=args.nat,
        state_dir=args.state,
        gateways=not args.no_gateways,
        config_dir=args.configs,
        gateway_args=_lifetime_args(args),
    )
    print(f"lab {lab.prefix}: up ({'with' if lab.nat else 'without'} NAT), state {lab.state_dir}")
    for node, ns in lab.namespaces.items():
        print(f"  {node:<7} {ns}")
    for gw, pid in lab.pids.items():
        print(f"  {gw} gateway pid {pid}, control {lab.socket(gw)}, log {lab.log(gw)}")
    return 0


def _print_status(lab: Lab) -> int:
    spaces, gws = lab.status()
    print(f"lab {lab.prefix} ({'with' if lab.nat else 'without'} NAT), state {lab.state_dir}")
    for ns, present in spaces.items():
        print(f"  namespace {ns}: {'present' if present else 'absent'}")
    for gw, alive in gws.items():
        print(f"  gateway {gw} pid {lab.pids[gw]}: {'running' if alive else 'not running'}")
    if not lab.pids:
        print("  no gateways recorded")
    return 0 if all(spaces.values()) and all(gws.values()) else 1


def _run_exec(lab: Lab, args: argparse.Namespace) -> int:
    argv: list[str] = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise LabError("lab exec: no command given (use: lab exec NODE -- CMD...)")
    ns = lab.namespace(args.node)
    if ns not in netns.list_netns():
        raise LabError(f"namespace {ns} does not exist; is the lab up?")
    return subprocess.run(netns.ns_argv(ns, argv), check=False).returncode
