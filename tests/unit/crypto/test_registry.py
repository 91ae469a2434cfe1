"""The registry against the config keyword tables and the IANA numbers."""

from __future__ import annotations

import pytest

from tunnelgate.config import keywords as config_keywords
from tunnelgate.crypto import cipher, integrity, prf, registry
from tunnelgate.crypto.dh import DhGroup
from tunnelgate.crypto.errors import UnknownAlgorithm
from tunnelgate.crypto.registry import Kind, TransformType, by_keyword, by_transform
from tunnelgate.policy import strength

CONFIG_TABLES: dict[Kind, tuple[object, ...]] = {
    Kind.IKEV1_ENCRYPTION: strength.IKEV1_ENCRYPTION,
    Kind.IKEV1_HASH: strength.IKEV1_HASH,
    Kind.IKEV1_GROUP: strength.IKEV1_GROUPS,
    Kind.IKEV2_ENCRYPTION: strength.IKEV2_ENCRYPTION,
    Kind.IKEV2_INTEGRITY: strength.IKEV2_INTEGRITY,
    Kind.IKEV2_PRF: strength.IKEV2_PRF,
    Kind.IKEV2_GROUP: strength.IKEV2_GROUPS,
    Kind.ESP_V1_ENCRYPTION: strength.ESP_V1_ENCRYPTION,
    Kind.ESP_V1_INTEGRITY: strength.ESP_V1_INTEGRITY,
    Kind.ESP_V2_ENCRYPTION: strength.ESP_V2_ENCRYPTION,
    Kind.ESP_V2_INTEGRITY: strength.ESP_V2_INTEGRITY,
    Kind.PFS_GROUP: config_keywords.PFS_GROUPS,
}


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_every_config_keyword_has_exactly_one_row(kind: Kind) -> None:
    config = {str(v) for v in CONFIG_TABLES[kind]}
    rows = registry.keywords(kind)
    assert len(rows) == len(set(rows))
    assert set(rows) == config


def test_aead_flags_match_the_strength_tables() -> None:
    for kind, aead in (
        (Kind.IKEV2_ENCRYPTION, strength.IKEV2_AEAD),
        (Kind.ESP_V2_ENCRYPTION, strength.ESP_V2_AEAD),
    ):
        for word in registry.keywords(kind):
            assert registry.encryption(kind, word).aead == (word in aead), word


# (kind, keyword, transform type, IANA id, key length, IKEv1 value, implementation)
EXPECTED = [
    (Kind.IKEV2_ENCRYPTION, "aes-gcm-256", 1, 20, 256, None, cipher.AES_GCM_16_256),
    (Kind.IKEV2_ENCRYPTION, "aes", 1, 12, 128, None, cipher.AES_CBC_128),
    (Kind.IKEV2_ENCRYPTION, "3des", 1, 3, None, None, cipher.TRIPLE_DES_CBC),
    (Kind.IKEV2_ENCRYPTION, "des", 1, 2, None, None, cipher.DES_CBC),
    (Kind.IKEV2_ENCRYPTION, "null", 1, 11, None, None, cipher.NULL),
    (Kind.IKEV2_INTEGRITY, "sha256", 3, 12, None, None, integrity.AUTH_HMAC_SHA2_256_128),
    (Kind.IKEV2_INTEGRITY, "sha", 3, 2, None, None, integrity.AUTH_HMAC_SHA1_96),
    (Kind.IKEV2_INTEGRITY, "null", 3, 0, None, None, integrity.AUTH_NONE),
    (Kind.IKEV2_PRF, "sha384", 2, 6, None, None, prf.PRF_HMAC_SHA2_384),
    (Kind.IKEV2_PRF, "md5", 2, 1, None, None, prf.PRF_HMAC_MD5),
    (Kind.ESP_V2_ENCRYPTION, "aes-gmac-192", 1, 21, 192, None, cipher.AES_GMAC_192),
    (Kind.ESP_V2_INTEGRITY, "sha-384", 3, 13, None, None, integrity.AUTH_HMAC_SHA2_384_192),
    (Kind.ESP_V2_INTEGRITY, "sha-512", 3, 14, None, None, integrity.AUTH_HMAC_SHA2_512_256),
    (Kind.ESP_V1_ENCRYPTION, "esp-aes-256", 1, 12, 256, 12, cipher.AES_CBC_256),
    (Kind.ESP_V1_ENCRYPTION, "esp-null", 1, 11, None, 11, cipher.NULL),
    (Kind.ESP_V1_INTEGRITY, "esp-sha-hmac", 3, 2, None, 2, integrity.AUTH_HMAC_SHA1_96),
    (Kind.ESP_V1_INTEGRITY, "esp-md5-hmac", 3, 1, None, 1, integrity.AUTH_HMAC_MD5_96),
    (Kind.ESP_V1_INTEGRITY, "esp-none", 3, 0, None, None, integrity.AUTH_NONE),
    (Kind.IKEV1_ENCRYPTION, "aes-192", 1, 12, 192, 7, cipher.AES_CBC_192),
    (Kind.IKEV1_ENCRYPTION, "3des", 1, 3, None, 5, cipher.TRIPLE_DES_CBC),
    (Kind.IKEV1_ENCRYPTION, "des", 1, 2, None, 1, cipher.DES_CBC),
    (Kind.IKEV1_HASH, "sha", 2, 2, None, 2, prf.PRF_HMAC_SHA1),
    (Kind.IKEV1_HASH, "md5", 2, 1, None, 1, prf.PRF_HMAC_MD5),
]


@pytest.mark.parametrize(
    ("kind", "word", "ttype", "tid", "bits", "v1", "impl"),
    EXPECTED,
    ids=[f"{e[0].name}:{e[1]}" for e in EXPECTED],
)
def test_keyword_rows(
    kind: Kind, word: str, ttype: int, tid: int, bits: int | None, v1: int | None, impl: object
) -> None:
    row = by_keyword(kind, word)
    t = row.transform
    assert (t.transform_type, t.transform_id, t.key_bits, row.ikev1_value) == (ttype, tid, bits, v1)
    assert row.implementation is impl
    assert by_transform(ttype, tid, bits) is t


@pytest.mark.parametrize(
    "kind", [Kind.IKEV1_GROUP, Kind.IKEV2_GROUP, Kind.PFS_GROUP], ids=lambda k: k.name
)
def test_group_rows(kind: Kind) -> None:
    for number in CONFIG_TABLES[kind]:
        assert isinstance(number, int)
        grp = registry.dh_group(kind, number)
        assert isinstance(grp, DhGroup) and grp.number == number
        row = by_keyword(kind, number)
        assert row.transform.transform_type is TransformType.DH
        assert row.transform.transform_id == number
        assert row.ikev1_value == (None if kind is Kind.IKEV2_GROUP else number)


def test_curve25519_is_a_transform_without_an_asa_keyword() -> None:
    assert by_transform(TransformType.DH, 31).name == "CURVE_25519"
    with pytest.raises(UnknownAlgorithm):
        by_keyword(Kind.IKEV2_GROUP, 31)


def test_transform_lookup_needs_the_right_key_length() -> None:
    assert by_transform(1, 20, 128).implementation is cipher.AES_GCM_16_128
    for args in (
        (1, 12, None),
        (1, 12, 64),
        (1, 3, 192),
        (3, 12, 128),
        (2, 99, None),
        (9, 1, None),
    ):
        with pytest.raises(UnknownAlgorithm):
            by_transform(*args)


def test_transform_table_has_no_duplicate_keys() -> None:
    keys = [(t.transform_type, t.transform_id, t.key_bits) for t in registry.TRANSFORMS]
    assert len(keys) == len(set(keys))


def test_typed_accessors_refuse_the_wrong_kind_of_row() -> None:
    assert registry.prf_algorithm(Kind.IKEV2_PRF, "sha256") is prf.PRF_HMAC_SHA2_256
    assert registry.integrity_algorithm(Kind.ESP_V2_INTEGRITY, "md5").icv_bytes == 12
    with pytest.raises(UnknownAlgorithm):
        registry.encryption(Kind.IKEV2_PRF, "sha256")
    with pytest.raises(UnknownAlgorithm):
        registry.prf_algorithm(Kind.IKEV2_ENCRYPTION, "aes")
    with pytest.raises(UnknownAlgorithm):
        by_keyword(Kind.ESP_V2_INTEGRITY, "sha")  # IKEv2 policy spelling, not the proposal's


def test_key_material_lengths() -> None:
    # What SK_e / SK_a / SK_d and the ESP keys take (RFC 7296 §2.14, RFC 4106/4543/5282 salt).
    lengths = {
        word: registry.encryption(Kind.ESP_V2_ENCRYPTION, word).keymat_bytes
        for word in registry.keywords(Kind.ESP_V2_ENCRYPTION)
    }
    assert lengths == {
        "aes-gcm-256": 36,
        "aes-gcm-192": 28,
        "aes-gcm": 20,
        "aes-gmac-256": 36,
        "aes-gmac-192": 28,
        "aes-gmac": 20,
        "aes-256": 32,
        "aes-192": 24,
        "aes": 16,
        "3des": 24,
        "des": 8,
        "null": 0,
    }
