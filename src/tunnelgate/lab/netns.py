"""Thin wrappers over ``ip`` and ``nft``: every call has a timeout and fails with a clear error."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

DEFAULT_TIMEOUT = 10.0


class LabError(Exception):
    """A lab operation failed; the message says which and why."""


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        raise LabError(f"`{name}` not found (install iproute2 and nftables)")
    return path


def run(
    argv: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` capturing text output; raise :class:`LabError` on timeout or (if ``check``)
    a non-zero exit, quoting the command and its stderr."""
    cmd = " ".join(argv)
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{cmd}` timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise LabError(f"`{cmd}` could not start: {exc}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise LabError(f"`{cmd}` failed with exit code {proc.returncode}: {detail}")
    return proc


def ip(*args: str, timeout: float = DEFAULT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS...`` in the current namespace."""
    return run([_tool("ip"), *args], timeout=timeout)


def list_netns() -> list[str]:
    """Names of the existing network namespaces."""
    out = ip("netns", "list").stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def add_netns(name: str) -> None:
    """Create namespace ``name`` and bring its loopback up."""
    ip("netns", "add", name)
    ip("-n", name, "link", "set", "lo", "up")


def delete_netns(name: str) -> None:
    """Delete namespace ``name`` if it exists."""
    if name in list_netns():
        ip("netns", "delete", name)


def ns_argv(ns: str, argv: Sequence[str]) -> list[str]:
    """``argv`` prefixed to run inside namespace ``ns``."""
    return [_tool("ip"), "netns", "exec", ns, *argv]


def ns_exec(
    ns: str,
    argv: Sequence[str],
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside namespace ``ns``."""
    return run(ns_argv(ns, argv), timeout=timeout, check=check, input=input)


def add_veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """Create a veth pair directly inside the two namespaces (nothing in the root namespace) and
    bring both ends up."""
    ip(
        "link",
        "add",
        "name",
        if_a,
        "netns",
        ns_a,
        "type",
        "veth",
        "peer",
        "name",
        if_b,
        "netns",
        ns_b,
    )
    ip("-n", ns_a, "link", "set", if_a, "up")
    ip("-n", ns_b, "link", "set", if_b, "up")


def add_address(ns: str, ifname: str, cidr: str) -> None:
    """Add ``cidr`` to interface ``ifname`` of ``ns`` (IPv6: usable at once, no DAD)."""
    extra = ("nodad",) if ":" in cidr else ()
    ip("-n", ns, "address", "add", cidr, "dev", ifname, *extra)


def add_default_route(ns: str, via: str) -> None:
    """Set the default route of ``ns`` (IPv4 or IPv6, by ``via``) through ``via``."""
    family = ("-6",) if ":" in via else ()
    ip("-n", ns, *family, "route", "replace", "default", "via", via)


def sysctl(ns: str, key: str, value: str) -> None:
    """``sysctl -w key=value`` inside ``ns``."""
    ns_exec(ns, [_tool("sysctl"), "-q", "-w", f"{key}={value}"])


def nft_load(ns: str, ruleset: str) -> None:
    """Load an nft ruleset (``nft -f -``) inside ``ns``."""
    ns_exec(ns, [_tool("nft"), "-f", "-"], input=ruleset)
