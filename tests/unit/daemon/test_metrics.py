"""The Prometheus collector: exposition text from a hand-built snapshot, and the HTTP server."""

from __future__ import annotations

import dataclasses
import urllib.request

import prometheus_client

from tunnelgate.daemon.metrics import SnapshotCollector, map_label, metrics_registry, serve_metrics
from tunnelgate.gateway.snapshot import ChildSaView, EspDirectionView, GatewaySnapshot, Ident

SA = ChildSaView(
    interface="outside",
    map_name="outside_map",
    map_seq=10,
    dynamic_map=None,
    dynamic_seq=None,
    acl=None,
    local_ident=Ident("10.1.0.0", "255.255.255.0", 0, 0),
    remote_ident=Ident("10.2.0.0", "255.255.255.0", 0, 0),
    local_address="192.0.2.1",
    local_port=500,
    peer_address="198.51.100.2",
    peer_port=500,
    udp_encapsulation=False,
    mode="tunnel",
    ike_version=2,
    encryption="esp-aes-256",
    integrity="esp-sha-hmac",
    pfs_group=None,
    inbound=EspDirectionView(
        spi=0x5B0A3A14,
        packets=40,
        bytes=4000,
        errors=(("replay", 2), ("icv-failed", 1), ("replay", 1)),
        remaining_kilobytes=None,
        remaining_seconds=3600,
        replay_window=64,
    ),
    outbound=EspDirectionView(
        spi=0x2E9E2C8A,
        packets=50,
        bytes=5000,
        errors=(),
        remaining_kilobytes=None,
        remaining_seconds=3600,
        replay_window=0,
    ),
    conn_id=1,
    age_seconds=10,
)
DYNAMIC = dataclasses.replace(
    SA,
    dynamic_map="dyn",
    dynamic_seq=5,
    peer_address="203.0.113.9",
    inbound=dataclasses.replace(SA.inbound, spi=0x1, packets=0, bytes=0, errors=()),
    outbound=dataclasses.replace(SA.outbound, spi=0x2, packets=3, bytes=300),
)
SNAP = GatewaySnapshot(
    hostname="asa",
    child_sas=(SA, DYNAMIC),
    drops={"no-crypto-map": 9, "invalid-spi": 5},
    counters={"negotiations-started": 6, "negotiations-failed": 2, "ike-sas-established": 1},
)

IN = 'direction="in",map="outside_map 10",peer="198.51.100.2",spi="0x5b0a3a14"'
OUT = 'direction="out",map="outside_map 10",peer="198.51.100.2",spi="0x2e9e2c8a"'
DROP = 'direction="in",map="outside_map 10",peer="198.51.100.2"'  # labels print sorted
DYN_IN = 'direction="in",map="dyn 5",peer="203.0.113.9",spi="0x00000001"'
DYN_OUT = 'direction="out",map="dyn 5",peer="203.0.113.9",spi="0x00000002"'

EXPOSITION = f"""\
# HELP tunnelgate_ike_sas IKE SAs (any state).
# TYPE tunnelgate_ike_sas gauge
tunnelgate_ike_sas 0.0
# HELP tunnelgate_child_sas Installed child SA pairs.
# TYPE tunnelgate_child_sas gauge
tunnelgate_child_sas 2.0
# HELP tunnelgate_esp_packets_total ESP packets per SA and direction.
# TYPE tunnelgate_esp_packets_total counter
tunnelgate_esp_packets_total{{{IN}}} 40.0
tunnelgate_esp_packets_total{{{OUT}}} 50.0
tunnelgate_esp_packets_total{{{DYN_IN}}} 0.0
tunnelgate_esp_packets_total{{{DYN_OUT}}} 3.0
# HELP tunnelgate_esp_bytes_total ESP bytes per SA and direction.
# TYPE tunnelgate_esp_bytes_total counter
tunnelgate_esp_bytes_total{{{IN}}} 4000.0
tunnelgate_esp_bytes_total{{{OUT}}} 5000.0
tunnelgate_esp_bytes_total{{{DYN_IN}}} 0.0
tunnelgate_esp_bytes_total{{{DYN_OUT}}} 300.0
# HELP tunnelgate_esp_drops_total Packets an ESP SA dropped, by reason.
# TYPE tunnelgate_esp_drops_total counter
tunnelgate_esp_drops_total{{{DROP},reason="icv-failed",spi="0x5b0a3a14"}} 1.0
tunnelgate_esp_drops_total{{{DROP},reason="replay",spi="0x5b0a3a14"}} 3.0
# HELP tunnelgate_drops_total Gateway-wide data-path drops, by reason.
# TYPE tunnelgate_drops_total counter
tunnelgate_drops_total{{reason="invalid-spi"}} 5.0
tunnelgate_drops_total{{reason="no-crypto-map"}} 9.0
# HELP tunnelgate_negotiations_total SA negotiations by result.
# TYPE tunnelgate_negotiations_total counter
tunnelgate_negotiations_total{{result="started"}} 6.0
tunnelgate_negotiations_total{{result="failed"}} 2.0
"""


def test_exposition_golden() -> None:
    text = prometheus_client.generate_latest(metrics_registry(lambda: SNAP)).decode()
    assert text == EXPOSITION


def test_each_scrape_takes_a_new_snapshot_and_registering_takes_none() -> None:
    calls: list[int] = []

    def snapshot() -> GatewaySnapshot:
        calls.append(1)
        return dataclasses.replace(SNAP, child_sas=SNAP.child_sas[: len(calls)])

    registry = prometheus_client.CollectorRegistry()
    registry.register(SnapshotCollector(snapshot))
    assert calls == []
    assert registry.get_sample_value("tunnelgate_child_sas") == 1
    assert registry.get_sample_value("tunnelgate_child_sas") == 2
    labels = {"direction": "out", "map": "dyn 5", "peer": "203.0.113.9", "spi": "0x00000002"}
    assert registry.get_sample_value("tunnelgate_esp_bytes_total", labels) == 300


def test_empty_snapshot_still_exposes_gauges_and_negotiations() -> None:
    registry = metrics_registry(lambda: GatewaySnapshot(hostname="asa"))
    text = prometheus_client.generate_latest(registry).decode()
    assert "tunnelgate_ike_sas 0.0\n" in text
    assert "tunnelgate_child_sas 0.0\n" in text
    assert 'tunnelgate_negotiations_total{result="started"} 0.0\n' in text
    assert 'tunnelgate_negotiations_total{result="failed"} 0.0\n' in text
    assert "tunnelgate_esp_packets_total{" not in text


def test_map_label() -> None:
    assert map_label(SA) == "outside_map 10"
    assert map_label(DYNAMIC) == "dyn 5"


def test_serve_metrics_over_http() -> None:
    server, thread = serve_metrics(0, "127.0.0.1", lambda: SNAP)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            body = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert "tunnelgate_child_sas 2.0\n" in body
    assert f"tunnelgate_esp_packets_total{{{IN}}} 40.0\n" in body
    assert 'tunnelgate_negotiations_total{result="failed"} 2.0\n' in body
