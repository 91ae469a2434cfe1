"""Quick-mode pieces: KEYMAT and hashes (RFC 2409 §5.5) against an independent stdlib
computation, transform sets ↔ ESP proposals, proxy identities ↔ selectors."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from tunnelgate.crypto.prf import PRF_HMAC_SHA1
from tunnelgate.ike.v1.constants import IdType
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.keymat import quick_mode_hash, quick_mode_hash3, quick_mode_keymat
from tunnelgate.ike.v1.phase2_proposal import (
    encapsulation_mode,
    esp_keywords,
    esp_offer,
    esp_offers,
    keymat_sizes,
)
from tunnelgate.ike.v1.proxy_id import id_of, proxy_ids, responder_selector
from tunnelgate.policy.crypto_map import TransformSet
from tunnelgate.policy.selector import ALL_PORTS, Range, Selector

SKEYID_D, SKEYID_A = bytes(range(20)), bytes(range(20, 40))
NI, NR, SPI, GXY = b"\x11" * 16, b"\x22" * 32, bytes.fromhex("c0ffee01"), b"\x33" * 192


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha1).digest()


@pytest.mark.parametrize("shared", [b"", GXY], ids=["no-pfs", "pfs"])
def test_keymat_is_k1_k2_of_rfc_2409_5_5(shared: bytes) -> None:
    seed = shared + b"\x03" + SPI + NI + NR
    k1 = mac(SKEYID_D, seed)
    k2 = mac(SKEYID_D, k1 + seed)
    k3 = mac(SKEYID_D, k2 + seed)
    got = quick_mode_keymat(PRF_HMAC_SHA1, SKEYID_D, 3, SPI, NI, NR, 52, shared)
    assert got == (k1 + k2 + k3)[:52]  # aes-256 (32) + hmac-sha1 (20)


def test_quick_mode_hashes() -> None:
    mid, rest = 0x01020304, b"payloads"
    assert quick_mode_hash(PRF_HMAC_SHA1, SKEYID_A, mid, rest) == mac(
        SKEYID_A, b"\x01\x02\x03\x04" + rest
    )
    assert quick_mode_hash(PRF_HMAC_SHA1, SKEYID_A, mid, NI, rest) == mac(
        SKEYID_A, b"\x01\x02\x03\x04" + NI + rest
    )
    assert quick_mode_hash3(PRF_HMAC_SHA1, SKEYID_A, mid, NI, NR) == mac(
        SKEYID_A, b"\x00\x01\x02\x03\x04" + NI + NR
    )


@pytest.mark.parametrize(
    ("encryption", "integrity", "v2", "sizes"),
    [
        ("esp-aes-256", "esp-sha-hmac", ("aes-256", "sha-1"), (32, 20)),
        ("esp-aes", "esp-md5-hmac", ("aes", "md5"), (16, 16)),
        ("esp-3des", None, ("3des", "null"), (24, 0)),
        ("esp-null", "esp-sha-hmac", ("null", "sha-1"), (0, 20)),
    ],
)
def test_transform_set_keywords_map_to_the_data_path(
    encryption: str, integrity: str | None, v2: tuple[str, str], sizes: tuple[int, int]
) -> None:
    ts = TransformSet("TS", encryption, integrity)
    assert esp_keywords(ts) == v2
    assert keymat_sizes(ts) == sizes


def test_offer_reads_back_as_the_transform_sets() -> None:
    sets = (
        TransformSet("A", "esp-aes-256", "esp-sha-hmac"),
        TransformSet("B", "esp-3des", "esp-md5-hmac", "transport"),
    )
    sa = esp_offer(sets, SPI, 5, 3600, None, nat=True)
    offers = esp_offers(sa)
    assert [(o.proposal.number, o.proposal.spi) for o in offers] == [(1, SPI), (2, SPI)]
    got = [
        (o.transform_set.encryption, o.transform_set.integrity, o.transform_set.mode)
        for o in offers
    ]
    assert got == [
        ("esp-aes-256", "esp-sha-hmac", "tunnel"),
        ("esp-3des", "esp-md5-hmac", "transport"),
    ]
    assert all(o.group == 5 and o.lifetime_seconds == 3600 and o.udp_encapsulated for o in offers)
    assert [o.encapsulation for o in offers] == [3, 4]
    assert encapsulation_mode("tunnel", nat=True, draft=True) == 61443
    assert encapsulation_mode("transport", nat=False) == 2


def test_proxy_identities_round_trip() -> None:
    net = Selector(0, Range(0x0A010000, 0x0A01FFFF), Range(0x0A020000, 0x0A02FFFF))
    idci, idcr = proxy_ids(net)
    assert idci.id_type == idcr.id_type == IdType.ID_IPV4_ADDR_SUBNET
    assert responder_selector(idci, idcr) == net.mirrored()
    host = Selector(6, Range(1, 1), Range(5, 9), Range(443, 443), ALL_PORTS)
    idci, idcr = proxy_ids(host)
    assert (idci.id_type, idci.port, idcr.id_type, idcr.port) == (
        IdType.ID_IPV4_ADDR,
        443,
        IdType.ID_IPV4_ADDR_RANGE,
        0,
    )
    assert responder_selector(idci, idcr) == host.mirrored()


def test_proxy_identity_errors() -> None:
    with pytest.raises(ValueError, match="one port"):
        id_of(Range(1, 1), Range(1000, 2000), 6)
    good = id_of(Range(1, 1), ALL_PORTS, 6)
    with pytest.raises(Phase1Error, match="protocol"):
        responder_selector(good, id_of(Range(1, 1), ALL_PORTS, 17))
    bad_mask = type(good)(IdType.ID_IPV4_ADDR_SUBNET, bytes(4) + bytes.fromhex("ff00ff00"))
    with pytest.raises(Phase1Error, match="contiguous"):
        responder_selector(bad_mask, bad_mask)
