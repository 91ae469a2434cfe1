"""Prometheus metrics for the gateway, built from a :class:`GatewaySnapshot` at each scrape.

:class:`SnapshotCollector` is a ``prometheus_client`` custom collector: every scrape calls the
snapshot callback once and turns the snapshot into these families (names as exposed):

* ``tunnelgate_ike_sas``, ``tunnelgate_child_sas`` (gauges): SAs in the snapshot.
* ``tunnelgate_esp_packets_total{peer,map,spi,direction}`` and
  ``tunnelgate_esp_bytes_total{peer,map,spi,direction}``: per ESP SA (``direction`` is ``in`` or
  ``out``, ``spi`` that direction's SPI as ``0x%08x``, ``map`` the crypto map tag and sequence).
* ``tunnelgate_esp_drops_total{peer,map,spi,direction,reason}``: the SA's error counts.
* ``tunnelgate_drops_total{reason}``: gateway-wide data-path drops (``snapshot.drops``).
* ``tunnelgate_negotiations_total{result}``: ``started`` and ``failed``, from the counters
  ``negotiations-started`` / ``negotiations-failed``.

Per-SA counters restart with each new SA (a new SPI is a new series), as Prometheus expects.
:func:`serve_metrics` starts prometheus_client's HTTP server on its own registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from tunnelgate.gateway.snapshot import ChildSaView, GatewaySnapshot

SnapshotFn = Callable[[], GatewaySnapshot]

SA_LABELS = ("peer", "map", "spi", "direction")
NEGOTIATION_COUNTERS = (("started", "negotiations-started"), ("failed", "negotiations-failed"))


class SnapshotCollector(Collector):
    """Collects the gateway's metrics from ``snapshot_fn()``, called once per scrape."""

    def __init__(self, snapshot_fn: SnapshotFn) -> None:
        self._snapshot_fn = snapshot_fn

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering never takes a snapshot."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        return iter(_families(self._snapshot_fn()))


def _families(snapshot: GatewaySnapshot | None = None) -> list[Metric]:
    """The metric families, filled from ``snapshot`` when one is given."""
    ike = GaugeMetricFamily("tunnelgate_ike_sas", "IKE SAs (any state).")
    child = GaugeMetricFamily("tunnelgate_child_sas", "Installed child SA pairs.")
    packets = CounterMetricFamily(
        "tunnelgate_esp_packets", "ESP packets per SA and direction.", labels=SA_LABELS
    )
    octets = CounterMetricFamily(
        "tunnelgate_esp_bytes", "ESP bytes per SA and direction.", labels=SA_LABELS
    )
    esp_drops = CounterMetricFamily(
        "tunnelgate_esp_drops",
        "Packets an ESP SA dropped, by reason.",
        labels=(*SA_LABELS, "reason"),
    )
    drops = CounterMetricFamily(
        "tunnelgate_drops", "Gateway-wide data-path drops, by reason.", labels=("reason",)
    )
    negotiations = CounterMetricFamily(
        "tunnelgate_negotiations", "SA negotiations by result.", labels=("result",)
    )
    families: list[Metric] = [ike, child, packets, octets, esp_drops, drops, negotiations]
    if snapshot is None:
        return families
    ike.add_metric([], len(snapshot.ike_sas))
    child.add_metric([], len(snapshot.child_sas))
    for sa in snapshot.child_sas:
        for direction, esp in (("in", sa.inbound), ("out", sa.outbound)):
            labels = [sa.peer_address, map_label(sa), f"0x{esp.spi:08x}", direction]
            packets.add_metric(labels, esp.packets)
            octets.add_metric(labels, esp.bytes)
            for reason, count in _merged(esp.errors).items():
                esp_drops.add_metric([*labels, reason], count)
    for reason, count in sorted(snapshot.drops.items()):
        drops.add_metric([reason], count)
    for result, key in NEGOTIATION_COUNTERS:
        negotiations.add_metric([result], snapshot.counters.get(key, 0))
    return families


def map_label(sa: ChildSaView) -> str:
    """``outside_map 10`` style label: the crypto map (or dynamic map) tag and sequence."""
    if sa.dynamic_map is not None:
        seq = sa.dynamic_seq if sa.dynamic_seq is not None else sa.map_seq
        return f"{sa.dynamic_map} {seq}"
    return f"{sa.map_name} {sa.map_seq}"


def _merged(errors: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Error counts summed by reason (a reason listed twice would be a duplicate series)."""
    out: dict[str, int] = {}
    for reason, count in errors:
        out[reason] = out.get(reason, 0) + count
    return dict(sorted(out.items()))


def metrics_registry(snapshot_fn: SnapshotFn) -> CollectorRegistry:
    """A fresh registry holding only a :class:`SnapshotCollector` for ``snapshot_fn``."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(SnapshotCollector(snapshot_fn))
    return registry


def serve_metrics(
    port: int, address: str, snapshot_fn: SnapshotFn
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` on ``address:port`` (0: any free port) from a daemon thread.

    Returns prometheus_client's server and thread; ``server.shutdown()`` and
    ``server.server_close()`` stop it, ``server.server_port`` is the bound port.
    """
    return start_http_server(port, address, registry=metrics_registry(snapshot_fn))


__all__ = ["SnapshotCollector", "map_label", "metrics_registry", "serve_metrics"]
