"""The recorded strongSwan vectors: intact, and their generic structure matches charon's summary.

No codec here (that is the IKE engine's job): only the generic ISAKMP/IKEv2 header and payload
chain (next payload, length), checked against the payload list charon logged when it built them.
The interop test re-records each vector and compares the structure with the stored one.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import struct
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "strongswan"
META: dict[str, Any] = json.loads((VECTORS / "vectors.json").read_text())
ENTRIES: list[dict[str, Any]] = META["vectors"]

# charon's payload abbreviations -> payload type numbers
IKEV2_TYPES = {"SA": 33, "KE": 34, "No": 40, "N": 41, "V": 43}
IKEV1_TYPES = {"SA": 1, "KE": 4, "ID": 5, "No": 10, "V": 13}
IKEV2_NOTIFY = {
    "NATD_S_IP": 16388,
    "NATD_D_IP": 16389,
    "REDIR_SUP": 16406,
    "FRAG_SUP": 16430,
    "HASH_ALG": 16431,
}
EXCHANGES = {"IKE_SA_INIT": (2, 34), "ID_PROT": (1, 2), "AGGRESSIVE": (1, 4)}


def walk(data: bytes) -> tuple[int, int, int, list[tuple[int, bytes]]]:
    """(major version, exchange type, flags, [(payload type, payload body)]) of an IKE message."""
    assert len(data) >= 28
    _spi_i, spi_r, first, version, exchange, flags, _msg_id, length = struct.unpack(
        "!8s8sBBBBII", data[:28]
    )
    assert spi_r == bytes(8), "a first message has a zero responder SPI"
    assert length == len(data), "header length is the datagram length"
    payloads: list[tuple[int, bytes]] = []
    offset, kind = 28, first
    while kind != 0:
        nxt, _flags, plen = struct.unpack("!BBH", data[offset : offset + 4])
        assert plen >= 4 and offset + plen <= len(data), f"payload {kind} overruns"
        payloads.append((kind, data[offset + 4 : offset + plen]))
        offset, kind = offset + plen, nxt
    assert offset == len(data), "payload chain ends at the end of the datagram"
    return version >> 4, exchange, flags, payloads


def expected_structure(summary: str) -> tuple[int, int, list[str]]:
    """(major version, exchange type, payload tokens) of 'IKE_SA_INIT request 0 [ SA ... ]'."""
    match = re.fullmatch(r"(\w+) request 0 \[ (.*) \]", summary)
    assert match, summary
    major, exchange = EXCHANGES[match.group(1)]
    return major, exchange, match.group(2).split()


def check_structure(data: bytes, summary: str) -> None:
    major, exchange, tokens = expected_structure(summary)
    got_major, got_exchange, flags, payloads = walk(data)
    assert (got_major, got_exchange) == (major, exchange)
    types = IKEV2_TYPES if major == 2 else IKEV1_TYPES
    assert [kind for kind, _ in payloads] == [types[t.split("(")[0]] for t in tokens]
    if major == 2:
        assert flags == 0x08, "IKEv2 initiator flag only"
        notifies = [t[2:-1] for t in tokens if t.startswith("N(")]
        bodies = [body for kind, body in payloads if kind == 41]
        # Notify body: protocol id, SPI size, notify message type, then SPI and data.
        assert [struct.unpack("!H", b[2:4])[0] for b in bodies] == [
            IKEV2_NOTIFY[n] for n in notifies
        ]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_vector_is_intact_and_well_formed(entry: dict[str, Any]) -> None:
    data = (VECTORS / entry["file"]).read_bytes()
    assert len(data) == entry["size"]
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    check_structure(data, entry["charon_log"])


def test_readme_names_every_vector() -> None:
    readme = (VECTORS / "README.md").read_text()
    files = sorted(p.name for p in VECTORS.glob("*.bin"))
    assert files == sorted(e["file"] for e in ENTRIES)
    for name in files:
        assert f"`{name}`" in readme


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if e["ike_version"] == 2], ids=lambda e: str(e["file"])
)
def test_ikev2_nat_detection_hashes(entry: dict[str, Any]) -> None:
    """NATD_D_IP is SHA-1(SPIi | SPIr | IP | port) of the destination (RFC 7296 2.23);
    NATD_S_IP is deliberately wrong: kernel-libipsec makes charon fake it to force UDP encap."""
    data = (VECTORS / entry["file"]).read_bytes()
    notifies = {
        struct.unpack("!H", body[2:4])[0]: body[4:] for kind, body in walk(data)[3] if kind == 41
    }

    def natd(endpoint: str) -> bytes:
        host, port = endpoint.rsplit(":", 1)
        packed = ipaddress.ip_address(host).packed + struct.pack("!H", int(port))
        return hashlib.sha1(data[:16] + packed).digest()

    assert notifies[IKEV2_NOTIFY["NATD_D_IP"]] == natd(entry["dst"])
    assert notifies[IKEV2_NOTIFY["NATD_S_IP"]] != natd(entry["src"])


@pytest.mark.interop
def test_recorder_reproduces_the_stored_structure() -> None:
    """charon still sends the same structure (payloads, sizes) as when the vectors were made."""
    from tests.interop.record_vectors import VECTORS as SPECS
    from tests.interop.record_vectors import record_one

    stored = {e["file"]: e for e in ENTRIES}
    for spec in SPECS:
        entry = stored[f"{spec.name}.bin"]
        recording = record_one(spec)
        assert recording.generated == entry["charon_log"]
        assert len(recording.data) == entry["size"]
        check_structure(recording.data, recording.generated)
        stored_payloads = walk((VECTORS / entry["file"]).read_bytes())[3]
        new_payloads = walk(recording.data)[3]
        assert [(k, len(b)) for k, b in new_payloads] == [(k, len(b)) for k, b in stored_payloads]
