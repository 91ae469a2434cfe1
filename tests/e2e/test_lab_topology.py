"""End to end: `tunnelgate lab` builds the two-site topology (with or without NAT) and removes it.

Needs root (network namespaces, veths, nft). Every test uses its own random prefix and state
directory and tears the lab down in a ``finally``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tunnelgate.lab import Lab, LabError, netns

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nft") is None,
    reason="needs root, iproute2 and nftables",
)


def _prefix() -> str:
    return "tgl" + secrets.token_hex(3)[:5]


def _left(prefix: str) -> list[str]:
    return [ns for ns in netns.list_netns() if ns.startswith(prefix + "-")]


def _ping(lab: Lab, node: str, address: str) -> None:
    proc = lab.exec(node, ["ping", "-c", "1", "-W", "2", address], timeout=5)
    assert proc.returncode == 0, f"{node} -> {address}: {proc.stdout}{proc.stderr}"


@pytest.fixture
def prefix(tmp_path: Path) -> Iterator[str]:
    """A unique prefix; whatever is left of it is removed afterwards."""
    p = _prefix()
    yield p
    Lab.attach(p, tmp_path / "state").down()
    assert _left(p) == []


def test_direct_topology(prefix: str, tmp_path: Path) -> None:
    lab = Lab.up(prefix, nat=False, state_dir=tmp_path / "state", gateways=False)
    try:
        assert lab.namespace("gw-a") == f"{prefix}-gw-a"
        assert sorted(_left(prefix)) == sorted(lab.namespaces.values())
        assert "nat" not in lab.namespaces
        _ping(lab, "host-a", "10.1.0.1")
        _ping(lab, "gw-a", "198.51.100.2")
        _ping(lab, "host-b", "10.2.0.1")
        assert Lab.load(tmp_path / "state").namespaces == lab.namespaces
    finally:
        lab.down()
    assert _left(prefix) == []
    assert not (tmp_path / "state").exists()
    lab.down()  # idempotent


def test_nat_topology(prefix: str, tmp_path: Path) -> None:
    lab = Lab.up(prefix, nat=True, state_dir=tmp_path / "state", gateways=False)
    try:
        assert len(_left(prefix)) == 6
        _ping(lab, "host-a", "10.1.0.1")
        _ping(lab, "gw-a", "198.51.100.2")  # the NAT's public address
        _ping(lab, "gw-b", "192.0.2.1")  # masqueraded
        rules = lab.exec("nat", ["nft", "list", "ruleset"]).stdout
        assert "dnat to 10.99.0.2" in rules and "masquerade" in rules
    finally:
        lab.down()
    assert _left(prefix) == []


def test_up_on_existing_prefix_fails(prefix: str, tmp_path: Path) -> None:
    lab = Lab.up(prefix, state_dir=tmp_path / "state", gateways=False)
    try:
        with pytest.raises(LabError, match="already exists"):
            Lab.up(prefix, state_dir=tmp_path / "other", gateways=False)
        assert len(_left(prefix)) == 5  # the existing lab is untouched
    finally:
        lab.down()


def test_failing_up_cleans_up(prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ns: str, via: str) -> None:
        raise LabError(f"injected failure in {ns}")

    monkeypatch.setattr(netns, "add_default_route", broken)
    with pytest.raises(LabError, match="injected failure"):
        Lab.up(prefix, nat=True, state_dir=tmp_path / "state", gateways=False)
    assert _left(prefix) == []
    assert not (tmp_path / "state").exists()


def test_gateways_started_and_stopped(
    prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in daemon (``tunnelgate`` shadowed on the child's PYTHONPATH) binds the control
    socket; ``up`` records it, ``down`` stops it by pid."""
    fake = tmp_path / "fake" / "tunnelgate"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "__main__.py").write_text(
        textwrap.dedent(
            """\
            import socket, sys, time
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(sys.argv[sys.argv.index("--control") + 1])
            print("fake gateway", sys.argv[1:], flush=True)
            time.sleep(60)
            """
        )
    )
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    state = tmp_path / "state"
    lab = Lab.up(prefix, state_dir=state, gateways=True, gateway_wait=10)
    try:
        pids = dict(lab.pids)
        assert set(pids) == {"gw-a", "gw-b"}
        assert (state / "gw-a.sock").exists() and (state / "gw-b.sock").exists()
        assert "gw-a.cfg" in (state / "gw-a.log").read_text()
        _, alive = Lab.load(state).status()
        assert alive == {"gw-a": True, "gw-b": True}
    finally:
        lab.down()
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids.values())
    assert _left(prefix) == []
