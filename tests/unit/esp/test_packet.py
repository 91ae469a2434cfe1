"""The RFC 4303 packet transform: draft-mcgrew-gcm-test-01 vectors, round trips for every
algorithm pair, tampering and truncation, and a cross-check against scapy's ESP."""

from __future__ import annotations

import ipaddress
import random as _random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw

from tests.unit.crypto.test_cipher import ESP_GCM_VECTORS
from tunnelgate.crypto import cipher, integrity
from tunnelgate.crypto.cipher import EncryptionAlgorithm, KeyedCipher
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.registry import Kind, encryption, integrity_algorithm, keywords
from tunnelgate.esp.ipv4 import Ipv4Error, build_outer_ipv4, checksum, parse_ipv4
from tunnelgate.esp.packet import (
    Decapsulated,
    EspError,
    EspKeys,
    EspTransform,
    decapsulate,
    encapsulate,
    peek_spi_seq,
    tunnel_encapsulate,
)

H = bytes.fromhex
SPI = 0x1234ABCD


def seeded(seed: int = 7) -> Callable[[int], bytes]:
    return _random.Random(seed).randbytes


# Every ESP encryption keyword of both ASA tables, and every integrity it may pair with.
ENCRYPTIONS: dict[str, EncryptionAlgorithm] = {
    **{kw: encryption(Kind.ESP_V2_ENCRYPTION, kw) for kw in keywords(Kind.ESP_V2_ENCRYPTION)},
    **{kw: encryption(Kind.ESP_V1_ENCRYPTION, kw) for kw in keywords(Kind.ESP_V1_ENCRYPTION)},
}
INTEGRITIES: dict[str, Integrity] = {
    kw: integrity_algorithm(Kind.ESP_V2_INTEGRITY, kw) for kw in keywords(Kind.ESP_V2_INTEGRITY)
}
# One keyword pair per distinct (cipher, integrity) implementation pair ESP allows.
_PAIRS: dict[tuple[EncryptionAlgorithm, Integrity], tuple[str, str]] = {}
for _e, _enc in ENCRYPTIONS.items():
    for _i, _integ in INTEGRITIES.items():
        if _enc.aead == (_integ.icv_bytes == 0):
            _PAIRS.setdefault((_enc, _integ), (_e, _i))
COMBOS = list(_PAIRS.values())


def make(enc_kw: str, integ_kw: str, *, esn: bool = False, seed: int = 1) -> EspTransform:
    enc, integ = ENCRYPTIONS[enc_kw], INTEGRITIES[integ_kw]
    rnd = seeded(seed)
    keys = EspKeys(rnd(enc.keymat_bytes), rnd(integ.key_bytes))
    return EspTransform(SPI, enc, integ, keys, esn)


def inner_ipv4(payload: bytes = b"hello", proto: int = 17) -> bytes:
    return build_outer_ipv4("10.1.1.1", "10.2.2.2", payload, protocol=proto, ident=7)


def test_every_esp_algorithm_is_covered() -> None:
    ciphers = {enc for enc, _ in _PAIRS}
    assert ciphers == set(ENCRYPTIONS.values())
    assert len(ciphers) == 12  # des, 3des, aes-cbc ×3, aes-gcm ×3, aes-gmac ×3, null
    assert {i for _, i in _PAIRS} == set(INTEGRITIES.values())
    assert len(COMBOS) == 6 * 1 + 6 * 5  # AEAD with none; CBC/NULL with each HMAC
    v1 = {integrity_algorithm(Kind.ESP_V1_INTEGRITY, k) for k in ("esp-sha-hmac", "esp-md5-hmac")}
    assert v1 <= set(INTEGRITIES.values())


# ------------------------------------------------------------------ known answers
@pytest.mark.parametrize(
    ("source", "alg", "key", "salt", "iv", "aad", "pt", "ct", "tag"),
    ESP_GCM_VECTORS,
    ids=[v[0] for v in ESP_GCM_VECTORS],
)
def test_draft_mcgrew_gcm_test_01_packets(
    source: str,
    alg: EncryptionAlgorithm,
    key: str,
    salt: str,
    iv: str,
    aad: str,
    pt: str,
    ct: str,
    tag: str,
) -> None:
    # The draft gives each packet as SPI | seq (the AAD), IV, ciphertext and ICV; a 12-byte
    # AAD is SPI | 64-bit extended sequence number, of which the wire carries the low half.
    esn = len(H(aad)) == 12
    spi, seq_bytes = H(aad)[:4], H(aad)[4:]
    wire = spi + seq_bytes[-4:] + H(iv) + H(ct) + H(tag)
    transform = EspTransform(
        int.from_bytes(spi, "big"), alg, integrity.AUTH_NONE, EspKeys(H(key + salt)), esn
    )
    seq = int.from_bytes(seq_bytes, "big")
    plaintext = H(pt)
    pad = plaintext[-2]
    assert plaintext[-2 - pad : -2] == bytes(range(1, pad + 1)), source
    got = decapsulate(transform, wire, seq_high=seq >> 32)
    assert got == Decapsulated(seq, plaintext[: -2 - pad], plaintext[-1]), source
    assert peek_spi_seq(wire) == (transform.spi, seq & 0xFFFFFFFF)
    for i in range(len(wire)):  # the tag belongs to exactly these bytes
        bad = bytearray(wire)
        bad[i] ^= 0x80
        with pytest.raises(EspError, match="icv-failed"):
            decapsulate(transform, bytes(bad), seq_high=seq >> 32)
    if esn:
        with pytest.raises(EspError, match="icv-failed"):
            decapsulate(transform, wire, seq_high=(seq >> 32) ^ 1)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize(("enc_kw", "integ_kw"), COMBOS)
@settings(max_examples=8, deadline=None)
@given(
    inner=st.binary(max_size=300),
    seq=st.integers(1, 2**32 - 1),
    next_header=st.integers(0, 255).filter(lambda n: n not in (4, 41)),
    pad_to=st.sampled_from([1, 4, 8, 16, 32]),
)
def test_round_trip(
    enc_kw: str, integ_kw: str, inner: bytes, seq: int, next_header: int, pad_to: int
) -> None:
    transform = make(enc_kw, integ_kw)
    data = encapsulate(transform, seq, inner, next_header, seeded(seq), pad_to=pad_to)
    enc = transform.encryption
    assert (len(data) - 8 - enc.iv_bytes - transform.icv_bytes) % transform.alignment == 0
    assert data[:8] == SPI.to_bytes(4, "big") + seq.to_bytes(4, "big")
    assert decapsulate(transform, data) == (seq, inner, next_header)


@pytest.mark.parametrize("enc_kw", ["aes-gcm-256", "aes-gmac", "aes-256", "esp-3des", "null"])
@settings(max_examples=15, deadline=None)
@given(seq=st.integers(1, 2**64 - 1), inner=st.binary(max_size=64))
def test_round_trip_extended_sequence_numbers(enc_kw: str, seq: int, inner: bytes) -> None:
    transform = make(enc_kw, "null" if ENCRYPTIONS[enc_kw].aead else "sha-256", esn=True)
    data = encapsulate(transform, seq, inner, 6, seeded())
    assert data[4:8] == (seq & 0xFFFFFFFF).to_bytes(4, "big")  # only the low half is sent
    assert decapsulate(transform, data, seq_high=seq >> 32) == (seq, inner, 6)
    with pytest.raises(EspError, match="icv-failed"):  # the high half is authenticated
        decapsulate(transform, data, seq_high=(seq >> 32) ^ 1)


@pytest.mark.parametrize("enc_kw", ["aes-gcm", "aes-gcm-192", "aes-gcm-256", "aes-gmac-256"])
def test_gcm_iv_is_the_sequence_number(enc_kw: str) -> None:
    transform = make(enc_kw, "null", esn=True)
    ivs = [encapsulate(transform, seq, b"x", 17, seeded())[8:16] for seq in range(1, 200)]
    assert ivs == [seq.to_bytes(8, "big") for seq in range(1, 200)]
    big = 2**40 + 5
    assert encapsulate(transform, big, b"", 17, seeded())[8:16] == big.to_bytes(8, "big")


def test_gmac_leaves_the_payload_in_clear() -> None:
    transform = make("aes-gmac-192", "null")
    data = encapsulate(transform, 9, b"visible payload!", 17, seeded())
    assert data[16:32] == b"visible payload!"


def test_cbc_iv_comes_from_the_random_source() -> None:
    transform = make("aes-256", "sha-1")
    data = encapsulate(transform, 1, b"abc", 17, lambda n: b"\x42" * n)
    assert data[8:24] == b"\x42" * 16
    with pytest.raises(ValueError):
        encapsulate(transform, 1, b"abc", 17, lambda n: b"")


def test_tunnel_mode_with_tfc_padding_and_dummy_packets() -> None:
    transform = make("aes-gcm-256", "null")
    packet = inner_ipv4(b"payload")
    for tfc in (0, 1, 37, 200):
        got = decapsulate(
            transform, tunnel_encapsulate(transform, 5, packet, seeded(), tfc_padding=tfc)
        )
        assert got == (5, packet, 4)
        assert not got.dummy
    dummy = decapsulate(transform, encapsulate(transform, 6, bytes(40), 59, seeded()))
    assert dummy.dummy
    assert dummy.next_header == 59
    with pytest.raises(ValueError):  # not IPv4
        tunnel_encapsulate(transform, 7, b"\x60" + bytes(39), seeded())
    with pytest.raises(ValueError):  # trailing bytes after the IPv4 total length
        tunnel_encapsulate(transform, 7, packet + b"\0", seeded())
    with pytest.raises(ValueError):  # the receiver could not find where TCP ends
        encapsulate(transform, 7, b"x", 6, seeded(), tfc_padding=8)


def test_transport_mode_keeps_the_protocol_number() -> None:
    transform = make("esp-aes-256", "sha-512")
    udp = H("d4310035000c0000") + b"abcd"
    assert decapsulate(transform, encapsulate(transform, 3, udp, 17, seeded())) == (3, udp, 17)


def test_bad_arguments_are_programming_errors() -> None:
    transform = make("aes", "md5")
    for seq in (0, 2**32):
        with pytest.raises(ValueError):
            encapsulate(transform, seq, b"", 17, seeded())
    with pytest.raises(ValueError):
        encapsulate(transform, 1, b"", 17, seeded(), pad_to=512)
    with pytest.raises(ValueError):
        encapsulate(transform, 1, b"", 256, seeded())
    enc, integ = cipher.AES_CBC_128, integrity.AUTH_HMAC_SHA1_96
    with pytest.raises(ValueError):  # null encryption needs integrity (RFC 4303 §3.2)
        EspTransform(SPI, cipher.NULL, integrity.AUTH_NONE, EspKeys(b""))
    with pytest.raises(ValueError):  # AEAD takes no separate integrity
        EspTransform(SPI, cipher.AES_GCM_16_128, integ, EspKeys(bytes(20), bytes(20)))
    with pytest.raises(ValueError):  # SPIs 1-255 are reserved
        EspTransform(255, enc, integ, EspKeys(bytes(16), bytes(20)))
    with pytest.raises(ValueError):
        EspTransform(SPI, enc, integ, EspKeys(bytes(15), bytes(20)))
    v1 = EspTransform.from_keywords(
        SPI, "esp-aes-192", "esp-sha-hmac", EspKeys(bytes(24), bytes(20)), ikev1=True
    )
    assert (v1.encryption, v1.integrity) == (cipher.AES_CBC_192, integrity.AUTH_HMAC_SHA1_96)
    gcm = EspTransform.from_keywords(SPI, "aes-gcm", "null", EspKeys(bytes(16) + b"salt"))
    assert gcm.salt == b"salt"


# ------------------------------------------------------------------ malformed input
@pytest.mark.parametrize(("enc_kw", "integ_kw"), COMBOS)
def test_tampering_any_byte_fails_the_icv_before_decryption(
    enc_kw: str, integ_kw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    transform = make(enc_kw, integ_kw)
    data = tunnel_encapsulate(transform, 77, inner_ipv4(b"secret"), seeded())
    calls: list[bytes] = []
    original = KeyedCipher.decrypt

    def spy(self: KeyedCipher, iv: bytes, ct: bytes, aad: bytes = b"") -> bytes:
        calls.append(ct)
        return original(self, iv, ct, aad)

    monkeypatch.setattr(KeyedCipher, "decrypt", spy)
    for i in range(len(data)):
        for flip in (0x01, 0x80):
            bad = bytearray(data)
            bad[i] ^= flip
            with pytest.raises(EspError) as info:
                decapsulate(transform, bytes(bad))
            assert info.value.reason == "icv-failed"
    if not transform.encryption.aead:  # AEAD: the tag check is the decryption call itself
        assert calls == []
    assert decapsulate(transform, data).inner == inner_ipv4(b"secret")
    assert len(calls) >= 1  # the spy sees the genuine packet's decryption


@pytest.mark.parametrize(("enc_kw", "integ_kw"), COMBOS[::3])
def test_truncation_raises_esp_error_only(enc_kw: str, integ_kw: str) -> None:
    transform = make(enc_kw, integ_kw)
    data = encapsulate(transform, 1, b"some payload", 17, seeded())
    for n in range(len(data)):
        with pytest.raises(EspError):
            decapsulate(transform, data[:n])
    with pytest.raises(EspError, match="short-packet"):
        decapsulate(transform, bytes(7))
    with pytest.raises(EspError, match="short-packet"):
        peek_spi_seq(bytes(7))


def _signed_null_packet(plaintext: bytes) -> tuple[EspTransform, bytes]:
    """ESP-NULL + HMAC-SHA-256 with a hand-made trailer and a valid ICV."""
    transform = make("null", "sha-256")
    data = SPI.to_bytes(4, "big") + (1).to_bytes(4, "big") + plaintext
    return transform, data + transform.integrity.sign(transform.keys.integrity_key, data)


@pytest.mark.parametrize(
    ("plaintext", "reason"),
    [
        (b"abcd" + b"\x01\x03" + b"\x02\x11", "bad-padding"),  # not 1, 2
        (b"abcd" + b"\x00\x00" + b"\x02\x11", "bad-padding"),  # zeros
        (b"\x01\x02" + b"\x09\x11", "bad-padding"),  # pad length past the start
        (b"\xff\xff" + b"\xfe\x11", "bad-padding"),
        (b"abc" + b"\x00\x11", "bad-length"),  # not aligned to 4
        (b"\x45" + bytes(13) + b"\x00\x04", "bad-inner-packet"),  # < 20 bytes of IPv4
        (b"\x60" + bytes(21) + b"\x00\x04", "bad-inner-packet"),  # next header 4, not v4
        (inner_ipv4(b"0123")[:22] + b"\x00\x04", "bad-inner-packet"),  # total length > data
    ],
)
def test_trailer_checks(plaintext: bytes, reason: str) -> None:
    transform, data = _signed_null_packet(plaintext)
    with pytest.raises(EspError) as info:
        decapsulate(transform, data)
    assert info.value.reason == reason


def test_ipv6_inner_packet_tfc_is_stripped() -> None:
    ipv6 = b"\x60" + bytes(39)  # payload length 0
    transform, data = _signed_null_packet(ipv6 + bytes(6) + b"\x00\x29")
    assert decapsulate(transform, data) == (1, ipv6, 41)


def test_padding_checked_after_gcm_decryption() -> None:
    transform = make("aes-gcm", "null")
    header = SPI.to_bytes(4, "big") + (3).to_bytes(4, "big")
    iv = (3).to_bytes(8, "big")
    body = transform.encryption.encrypt(
        transform.keys.encryption_key, iv, b"abcd\x02\x01\x02\x11", header
    )
    with pytest.raises(EspError, match="bad-padding"):
        decapsulate(transform, header + iv + body)


# ------------------------------------------------------------------ IPv4 helpers
def test_ipv4_checksum_and_parse() -> None:
    header = H("450000730000400040110000c0a80001c0a800c7")
    assert checksum(header) == 0xB861  # the classic worked example of the RFC 1071 sum
    packet = build_outer_ipv4("192.0.2.1", ipaddress.IPv4Address("198.51.100.2"), b"esp", df=True)
    parsed, payload = parse_ipv4(packet)
    assert (str(parsed.src), str(parsed.dst)) == ("192.0.2.1", "198.51.100.2")
    assert (parsed.protocol, parsed.ttl, parsed.df, payload) == (50, 64, True, b"esp")
    theirs = IP(src="192.0.2.1", dst="198.51.100.2", proto=50, flags="DF", id=0) / Raw(b"esp")
    assert bytes(theirs) == packet  # scapy computes the same header and checksum
    for bad in (
        packet[:19],
        b"\x65" + packet[1:],
        b"\x44" + packet[1:],
        packet[:-1],
        packet[:8] + b"\x01" + packet[9:],
    ):
        with pytest.raises(Ipv4Error):
            parse_ipv4(bad)


# ------------------------------------------------------------------ scapy cross-check
SCAPY_SUITES = [
    ("aes-256", "sha-1", "AES-CBC", "HMAC-SHA1-96"),
    ("aes", "sha-256", "AES-CBC", "SHA2-256-128"),
    ("aes-gcm-256", "null", "AES-GCM", None),
    ("aes-gcm", "null", "AES-GCM", None),
    ("aes-gmac", "null", "AES-NULL-GMAC", None),
]


def _scapy_sa(transform: EspTransform, crypt: str, auth: str | None, seq: int) -> Any:
    kwargs: dict[str, Any] = {}
    if auth is not None:
        kwargs = {"auth_algo": auth, "auth_key": transform.keys.integrity_key}
    return SecurityAssociation(
        ESP,
        spi=transform.spi,
        seq_num=seq,
        crypt_algo=crypt,
        crypt_key=transform.keys.encryption_key,
        tunnel_header=IP(src="192.0.2.1", dst="198.51.100.2"),
        **kwargs,
    )


@pytest.mark.parametrize(("enc_kw", "integ_kw", "crypt", "auth"), SCAPY_SUITES)
def test_scapy_encrypts_we_decapsulate(
    enc_kw: str, integ_kw: str, crypt: str, auth: str | None
) -> None:
    transform = make(enc_kw, integ_kw, seed=11)
    inner = IP(src="10.1.1.1", dst="10.2.2.2") / ICMP() / Raw(b"ping from scapy" * 3)
    outer = _scapy_sa(transform, crypt, auth, 41).encrypt(inner)
    assert outer[IP].proto == 50
    assert decapsulate(transform, bytes(outer[ESP])) == (41, bytes(inner), 4)


@pytest.mark.parametrize(("enc_kw", "integ_kw", "crypt", "auth"), SCAPY_SUITES)
def test_we_encapsulate_scapy_decrypts(
    enc_kw: str, integ_kw: str, crypt: str, auth: str | None
) -> None:
    transform = make(enc_kw, integ_kw, seed=12)
    inner = bytes(IP(src="10.3.3.3", dst="10.4.4.4") / UDP(sport=1, dport=53) / Raw(b"q" * 50))
    for seq, tfc in ((1, 0), (2, 19)):
        payload = tunnel_encapsulate(transform, seq, inner, seeded(seq), tfc_padding=tfc)
        outer = IP(build_outer_ipv4("198.51.100.2", "192.0.2.1", payload))
        decrypted = _scapy_sa(transform, crypt, auth, seq).decrypt(outer)
        # scapy keeps TFC bytes as the IP layer's trailing padding
        assert bytes(decrypted)[: len(inner)] == inner
