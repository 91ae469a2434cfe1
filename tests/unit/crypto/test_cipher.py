"""Ciphers against published vectors: RFC 3602, FIPS 81, SP 800-67, GCM papers, NIST CAVP."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tunnelgate.crypto import cipher
from tunnelgate.crypto.cipher import CipherMode, EncryptionAlgorithm
from tunnelgate.crypto.errors import IntegrityCheckFailed, InvalidCiphertext

H = bytes.fromhex

# RFC 3602 §4, AES-CBC test cases 1-4 (128-bit keys): (case, key, iv, plaintext, ciphertext)
RFC3602 = [
    (
        "RFC 3602 §4 case 1",
        "06a9214036b8a15b512e03d534120006",
        "3dafba429d9eb430b422da802c9fac41",
        b"Single block msg".hex(),
        "e353779c1079aeb82708942dbe77181a",
    ),
    (
        "RFC 3602 §4 case 2",
        "c286696d887c9aa0611bbb3e2025a45a",
        "562e17996d093d28ddb3ba695a2e6f58",
        bytes(range(32)).hex(),
        "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
    ),
    (
        "RFC 3602 §4 case 3",
        "6c3ea0477630ce21a2ce334aa746c2cd",
        "c782dc4c098c66cbd9cd27d825682c81",
        b"This is a 48-byte message (exactly 3 AES blocks)".hex(),
        "d0a02b3836451753d493665d33f0e8862dea54cdb293abc7506939276772f8d5"
        "021c19216bad525c8579695d83ba2684",
    ),
    (
        "RFC 3602 §4 case 4",
        "56e47a38c5598974bc46903dba290349",
        "8ce82eefbea0da3c44699ed7db51b7d9",
        bytes(range(0xA0, 0xE0)).hex(),
        "c30e32ffedc0774e6aff6af0869f71aa0f3af07a9a31a9c684db207eb0ef8e4e"
        "35907aa632c3ffdf868bb7b29d3d46ad83ce9f9a102ee99d49a53e87f4c3da55",
    ),
]


@pytest.mark.parametrize(("source", "key", "iv", "pt", "ct"), RFC3602, ids=[v[0] for v in RFC3602])
def test_aes_cbc_rfc3602(source: str, key: str, iv: str, pt: str, ct: str) -> None:
    assert cipher.AES_CBC_128.encrypt(H(key), H(iv), H(pt)) == H(ct), source
    assert cipher.AES_CBC_128.decrypt(H(key), H(iv), H(ct)) == H(pt), source


def test_des_cbc_fips81() -> None:
    # FIPS 81 (DES modes of operation), the CBC example: "Now is the time for all ".
    key, iv, pt = H("0123456789abcdef"), H("1234567890abcdef"), b"Now is the time for all "
    ct = H("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6")
    assert cipher.DES_CBC.encrypt(key, iv, pt) == ct
    assert cipher.DES_CBC.decrypt(key, iv, ct) == pt


def test_3des_sp800_67_example() -> None:
    # NIST SP 800-67 Rev. 1 Appendix B (TDEA, three keys): "The qufck brown fox jump" in ECB.
    # CBC with a zero IV gives the ECB result for the first block; the rest round-trips.
    key = H("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")
    pt = b"The qufck brown fox jump"
    ct = cipher.TRIPLE_DES_CBC.encrypt(key, bytes(8), pt)
    assert ct[:8] == H("A826FD8CE53B855F")
    assert cipher.TRIPLE_DES_CBC.decrypt(key, bytes(8), ct) == pt


# McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", Appendix B test cases 3, 4
# and 16: the 96-bit IV cafebabe facedbaddecaf888 splits into RFC 4106 salt || explicit IV.
GCM_KEY = "feffe9928665731c6d6a8f9467308308"
GCM_PT = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
)
GCM_AAD = "feedfacedeadbeeffeedfacedeadbeefabaddad2"
GCM_VECTORS = [
    (
        "McGrew-Viega test case 3",
        cipher.AES_GCM_16_128,
        GCM_KEY,
        GCM_PT,
        "",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
        "4d5c2af327cd64a62cf35abd2ba6fab4",
    ),
    (
        "McGrew-Viega test case 4",
        cipher.AES_GCM_16_128,
        GCM_KEY,
        GCM_PT[:120],
        GCM_AAD,
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        "5bc94fbc3221a5db94fae95ae7121a47",
    ),
    (
        "McGrew-Viega test case 16",
        cipher.AES_GCM_16_256,
        GCM_KEY * 2,
        GCM_PT[:120],
        GCM_AAD,
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    ),
]


@pytest.mark.parametrize(
    ("source", "alg", "key", "pt", "aad", "ct", "tag"), GCM_VECTORS, ids=[v[0] for v in GCM_VECTORS]
)
def test_aes_gcm_mcgrew_viega(
    source: str, alg: EncryptionAlgorithm, key: str, pt: str, aad: str, ct: str, tag: str
) -> None:
    keymat, iv = H(key + "cafebabe"), H("facedbaddecaf888")
    assert alg.encrypt(keymat, iv, H(pt), H(aad)) == H(ct + tag), source
    assert alg.decrypt(keymat, iv, H(ct + tag), H(aad)) == H(pt), source


# draft-mcgrew-gcm-test-01 (GCM in IPsec ESP): keymat = key || salt, nonce = salt || IV,
# AAD = SPI || sequence number; the plaintext is the ESP payload with its trailer.
ESP_GCM_VECTORS = [
    (
        "draft-mcgrew-gcm-test-01 AES-128",
        cipher.AES_GCM_16_128,
        "4c80cdefbb5d10da906ac73c3613a634",
        "2e443b68",
        "4956ed7e3b244cfe",
        "000043218765432100000000",
        "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
        "00000000045f736970045f756470037369700963796265726369747902646b00"
        "0021000101020201",
        "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34"
        "cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce"
        "61bc17d768fd9732",
        "459018148f6cbe722fd04796562dfdb4",
    ),
    (
        "draft-mcgrew-gcm-test-01 AES-192",
        cipher.AES_GCM_16_192,
        "feffe9928665731c6d6a8f9467308308feffe9928665731c",
        "cafebabe",
        "facedbaddecaf888",
        "0000a5f80000000a",
        "45000028a4ad4000400678800a01038f0a010612802306b8cb712602dd6bb03e501016d075680001",
        "a5b1f8066029aea40e598b8122de02420938b3ab33f828e687b8858b5bfbdbd0315b27452144cc77",
        "95457b9652037f5318027b5b4cd7a636",
    ),
    (
        "draft-mcgrew-gcm-test-01 AES-256",
        cipher.AES_GCM_16_256,
        "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
        "11223344",
        "0102030405060708",
        "4a2cbfe300000002",
        "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000"
        "020405b40101040201020201",
        "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d34"
        "7f0545659f14e99def842d8e",
        "b335f4eecfdbf831824b4c4915956c96",
    ),
]


@pytest.mark.parametrize(
    ("source", "alg", "key", "salt", "iv", "aad", "pt", "ct", "tag"),
    ESP_GCM_VECTORS,
    ids=[v[0] for v in ESP_GCM_VECTORS],
)
def test_aes_gcm_esp_packets(
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
    keymat = H(key + salt)
    assert alg.encrypt(keymat, H(iv), H(pt), H(aad)) == H(ct + tag), source
    assert alg.decrypt(keymat, H(iv), H(ct + tag), H(aad)) == H(pt), source


def test_gmac_nist_cavp_aad_only() -> None:
    # NIST CAVP gcmEncryptExtIV128.rsp [Keylen=128 IVlen=96 PTlen=0 AADlen=128 Taglen=128]
    # Count 0: GMAC is GCM with an empty plaintext, all input authenticated as AAD.
    key, nonce = H("77be63708971c4e240d1cb79e8d77feb"), H("e0e00f19fed7ba0136a797f3")
    aad = H("7a43ec1d9c0a5a78a0b16533a6213cab")
    tag = H("209fcc8d3675ed938e9c7166709dd946")
    assert AESGCM(key).encrypt(nonce, b"", aad) == tag
    # RFC 4543 §3.3: ESP GMAC authenticates SPI || sequence number || IV || payload under
    # the nonce salt || IV. Splitting the vector's AAD into header and payload around an
    # IV gives the same tag as GCM over that concatenation.
    salt, iv = nonce[:4], nonce[4:]
    header, payload = aad[:8], aad[8:]
    out = cipher.AES_GMAC_128.encrypt(key + salt, iv, payload, header)
    assert out == payload + AESGCM(key).encrypt(nonce, b"", header + iv + payload)


def test_gmac_authenticates_without_encrypting() -> None:
    alg = cipher.AES_GMAC_256
    keymat, iv, aad, payload = bytes(range(36)), b"\x07" * 8, b"\x00\x00\x12\x34" * 2, b"data"
    out = alg.encrypt(keymat, iv, payload, aad)
    assert out[:-16] == payload and len(out) == len(payload) + 16
    assert alg.decrypt(keymat, iv, out, aad) == payload
    for tampered in (b"Data" + out[4:], out[:-1] + bytes([out[-1] ^ 1])):
        with pytest.raises(IntegrityCheckFailed):
            alg.decrypt(keymat, iv, tampered, aad)
    with pytest.raises(IntegrityCheckFailed):
        alg.decrypt(keymat, b"\x08" * 8, out, aad)  # the IV is authenticated
    with pytest.raises(IntegrityCheckFailed):
        alg.decrypt(keymat, iv, out, b"\x00" * 8)


@pytest.mark.parametrize("alg", [cipher.AES_GCM_16_128, cipher.AES_GMAC_128], ids=lambda a: a.name)
def test_aead_rejects_tampering_and_short_input(alg: EncryptionAlgorithm) -> None:
    keymat, iv = bytes(alg.keymat_bytes), bytes(8)
    out = alg.encrypt(keymat, iv, b"secret payload", b"hdr")
    with pytest.raises(IntegrityCheckFailed):
        alg.decrypt(keymat, iv, out, b"HDR")
    with pytest.raises(InvalidCiphertext):
        alg.decrypt(keymat, iv, out[:15])


@pytest.mark.parametrize(
    "alg",
    [cipher.AES_CBC_192, cipher.AES_CBC_256, cipher.TRIPLE_DES_CBC, cipher.DES_CBC],
    ids=lambda a: a.name,
)
def test_cbc_round_trip_and_block_checks(alg: EncryptionAlgorithm) -> None:
    key, iv = bytes(range(alg.keymat_bytes)), bytes(range(alg.iv_bytes))
    pt = bytes(range(alg.block_bytes * 3))
    assert alg.decrypt(key, iv, alg.encrypt(key, iv, pt)) == pt
    with pytest.raises(ValueError, match="padded"):
        alg.encrypt(key, iv, pt[:-1])
    with pytest.raises(InvalidCiphertext):
        alg.decrypt(key, iv, pt[:-1])


def test_des_is_ede_with_equal_keys() -> None:
    key, iv, pt = H("0123456789abcdef"), bytes(8), bytes(16)
    assert cipher.DES_CBC.encrypt(key, iv, pt) == cipher.TRIPLE_DES_CBC.encrypt(key * 3, iv, pt)


def test_null_encryption_rfc2410() -> None:
    assert cipher.NULL.encrypt(b"", b"", b"anything") == b"anything"
    assert cipher.NULL.decrypt(b"", b"", b"anything") == b"anything"


def test_key_and_iv_lengths_are_checked() -> None:
    with pytest.raises(ValueError, match="20 bytes of key"):
        cipher.AES_GCM_16_128.encrypt(bytes(16), bytes(8), b"")
    with pytest.raises(ValueError, match="16-byte IV"):
        cipher.AES_CBC_128.encrypt(bytes(16), bytes(8), b"")


@pytest.mark.parametrize(
    ("alg", "mode", "key", "salt", "block", "iv", "icv"),
    [
        (cipher.AES_CBC_128, CipherMode.CBC, 16, 0, 16, 16, 0),
        (cipher.AES_CBC_256, CipherMode.CBC, 32, 0, 16, 16, 0),
        (cipher.TRIPLE_DES_CBC, CipherMode.CBC, 24, 0, 8, 8, 0),
        (cipher.DES_CBC, CipherMode.CBC, 8, 0, 8, 8, 0),
        (cipher.AES_GCM_16_192, CipherMode.GCM, 24, 4, 1, 8, 16),
        (cipher.AES_GMAC_256, CipherMode.GMAC, 32, 4, 1, 8, 16),
        (cipher.NULL, CipherMode.NULL, 0, 0, 1, 0, 0),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_lengths(
    alg: EncryptionAlgorithm,
    mode: CipherMode,
    key: int,
    salt: int,
    block: int,
    iv: int,
    icv: int,
) -> None:
    assert (
        alg.mode,
        alg.key_bytes,
        alg.salt_bytes,
        alg.block_bytes,
        alg.iv_bytes,
        alg.icv_bytes,
    ) == (mode, key, salt, block, iv, icv)
    assert alg.aead == (mode in (CipherMode.GCM, CipherMode.GMAC))
