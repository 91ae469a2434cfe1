"""Fixtures of the interop tests: namespaces and strongSwan charons, always torn down.

Tests marked ``@pytest.mark.interop`` need root and strongSwan (``scripts/bootstrap`` installs it
as root). Without them they skip, except in CI (``CI=true``), where a missing prerequisite fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Generator, Iterator, Mapping

import pytest

from tests.interop.harness import (
    Charon,
    CharonSettings,
    Namespace,
    Netns,
    Sites,
    TunnelgateDaemon,
    charon_installed,
    leftover_namespaces,
    topology_sites,
)

CHARONS_KEY = pytest.StashKey[list[Charon]]()
LOG_TAIL_LINES = 150


def interop_unavailable() -> str | None:
    """Why interop tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "interop tests need root (network namespaces, TUN devices)"
    if shutil.which("ip") is None:
        return "iproute2 ('ip') is not installed"
    if not charon_installed():
        return "strongSwan charon/swanctl not installed (run scripts/bootstrap as root)"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("interop") is None:
        return
    problem = interop_unavailable()
    if problem is None:
        return
    if in_ci():
        pytest.fail(f"interop prerequisites missing in CI: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On a failure, attach the tail of every charon's log to the report."""
    report = yield
    if report.failed:
        for charon in item.stash.get(CHARONS_KEY, []):
            lines = charon.log().splitlines()[-LOG_TAIL_LINES:]
            report.sections.append((f"charon {charon.name} log (tail)", "\n".join(lines)))
    return report


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A fresh set of namespaces; deleted (with every process in them) after the test."""
    with Netns() as lab:
        yield lab
    assert not leftover_namespaces(lab.prefix), "namespaces left behind"


@pytest.fixture
def sites(netns: Netns) -> Sites:
    """The two-site topology of the gateway tests (``harness.topology_sites``)."""
    return topology_sites(netns)


@pytest.fixture
def gateways() -> Iterator[list[TunnelgateDaemon]]:
    """``tunnelgate run`` daemons a test starts; each is stopped (by pid) afterwards."""
    started: list[TunnelgateDaemon] = []
    yield started
    for gw in started:
        gw.stop()
        assert not gw.running()


StartCharon = Callable[..., Charon]


@pytest.fixture
def start_charon(request: pytest.FixtureRequest) -> Iterator[StartCharon]:
    """``start_charon(ns, swanctl_conf, name=..., settings=..., files=...)``: a started, loaded
    charon (``files``: extra files under its swanctl directory, e.g. certificates)."""
    started: list[Charon] = []
    request.node.stash[CHARONS_KEY] = started

    def start(
        ns: Namespace,
        swanctl_conf: str,
        *,
        name: str | None = None,
        settings: CharonSettings | None = None,
        load: bool = True,
        files: Mapping[str, bytes] | None = None,
    ) -> Charon:
        charon = Charon(ns, swanctl_conf, name=name, settings=settings, files=files)
        started.append(charon)
        return charon.start(load=load)

    yield start
    for charon in reversed(started):
        charon.stop()
    for charon in started:
        assert not charon.running(), f"charon {charon.name} still running"
