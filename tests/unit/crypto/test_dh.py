"""Diffie-Hellman groups: RFC 5903 §8, RFC 7748 §6.1, RFC 5114 §2.3 / A.3, RFC 6989 checks."""

from __future__ import annotations

import hashlib
import itertools

import gmpy2  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tunnelgate.crypto import dh
from tunnelgate.crypto.dh import DhPrivateKey, EcpGroup, ModpGroup, group
from tunnelgate.crypto.errors import InvalidKeyExchange, UnknownAlgorithm


def H(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


def seeded_source(seed: bytes) -> dh.PrivateSource:
    """Deterministic random bytes (SHA-256 in counter mode) standing in for the RNG."""
    counter = itertools.count()

    def source(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + next(counter).to_bytes(8, "big")).digest()
        return out[:n]

    return source


# ------------------------------------------------------------------ RFC 5903 §8 (ECP)

# (section, group, i, gix || giy, r, grx || gry, girx)
RFC5903 = [
    (
        "RFC 5903 §8.1",
        19,
        "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
        "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180"
        "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
        "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
        "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63"
        "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
        "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE",
    ),
    (
        "RFC 5903 §8.2",
        20,
        "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655"
        "E35B5380 41E649EE 3FAEF896 783AB194",
        "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6"
        "DE3AC808 ACB4BDB4 C88732AE E95F41AA"
        "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E"
        "EB9FCFF3 C2C947DA E69B4C63 4573A81C",
        "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942"
        "E0308312 916B8ED2 960E4BD5 5A7448FC",
        "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D"
        "0D1AC43A 0336DEF9 6FDA41D0 774A3571"
        "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF"
        "F83FA401 42209DFF 5EAAD96D B9E6386C",
        "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4"
        "D6031355 69B9E9D0 9CF5D4A2 70F59746",
    ),
    (
        "RFC 5903 §8.3",
        21,
        "0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0"
        "95AA85A3 0FE1C295 2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D"
        "4A52",
        "0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE"
        "E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C"
        "ED3E"
        "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A"
        "D8A78801 5AC405D7 799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F"
        "9582",
        "0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E"
        "9C677D60 0B343757 A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168"
        "5EB9",
        "00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21"
        "9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9"
        "460F"
        "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87"
        "220B6536 C5C408A1 D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F"
        "C56A",
        "01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04"
        "D1427E73 CA4BAA24 0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3"
        "DDEA",
    ),
]


def _ecp_private(grp: EcpGroup, scalar: str) -> tuple[DhPrivateKey, bytes]:
    key = ec.derive_private_key(int.from_bytes(H(scalar), "big"), grp.curve)
    public = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]
    return DhPrivateKey(grp.number, key), public


@pytest.mark.parametrize(
    ("source", "number", "i", "gi", "r", "gr", "gir"), RFC5903, ids=[v[0] for v in RFC5903]
)
def test_ecp_rfc5903(source: str, number: int, i: str, gi: str, r: str, gr: str, gir: str) -> None:
    grp = group(number)
    assert isinstance(grp, EcpGroup)
    initiator, public_i = _ecp_private(grp, i)
    responder, public_r = _ecp_private(grp, r)
    # KE payload data is x || y with no 0x04 octet (RFC 5903 §7).
    assert public_i == H(gi) and public_r == H(gr), source
    assert len(public_i) == grp.public_length
    assert grp.shared_secret(initiator, H(gr)) == H(gir), source
    assert grp.shared_secret(responder, H(gi)) == H(gir), source


@pytest.mark.parametrize("number", [19, 20, 21])
def test_ecp_rejects_points_off_the_curve_and_bad_lengths(number: int) -> None:
    grp = group(number)
    private, public = grp.generate(seeded_source(b"ecp"))
    off_curve = public[:-1] + bytes([public[-1] ^ 1])
    with pytest.raises(InvalidKeyExchange, match="not a point on the curve"):
        grp.shared_secret(private, off_curve)
    with pytest.raises(InvalidKeyExchange, match="not a point on the curve"):
        grp.shared_secret(private, bytes(grp.public_length))  # (0, 0): no encoding of infinity
    with pytest.raises(InvalidKeyExchange, match="expected"):
        grp.shared_secret(private, b"\x04" + public)  # SEC 1 form is not the IKE form


@pytest.mark.parametrize("number", [19, 20, 21])
def test_curve_orders(number: int) -> None:
    grp = group(number)
    assert isinstance(grp, EcpGroup)

    def point(d: int) -> bytes:
        key = ec.derive_private_key(d, grp.curve).public_key()
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)[1:]

    size = grp.secret_length
    g, minus_g = point(1), point(grp.order - 1)
    assert minus_g[:size] == g[:size] and minus_g[size:] != g[size:]  # (n-1)G = -G
    with pytest.raises(ValueError):
        ec.derive_private_key(grp.order, grp.curve)  # nG is the point at infinity


# ------------------------------------------------------------------ RFC 7748 §6.1 (X25519)


def test_x25519_rfc7748_6_1() -> None:
    grp = group(31)
    alice_private = H("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    alice_public = H("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    bob_private = H("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    bob_public = H("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = H("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    alice, public_a = grp.generate(lambda n: alice_private[:n])
    bob, public_b = grp.generate(lambda n: bob_private[:n])
    assert (public_a, public_b) == (alice_public, bob_public)
    assert grp.shared_secret(alice, bob_public) == shared
    assert grp.shared_secret(bob, alice_public) == shared


def test_x25519_rejects_low_order_points() -> None:
    grp = group(31)
    private, _ = grp.generate(seeded_source(b"x25519"))
    with pytest.raises(InvalidKeyExchange, match="all-zero"):
        grp.shared_secret(private, bytes(32))  # u = 0 gives an all-zero result
    with pytest.raises(InvalidKeyExchange, match="expected"):
        grp.shared_secret(private, bytes(31))


# ------------------------------------------------------------------ MODP

# RFC 2409 §6 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k)
MODP_FORMULA = {
    1: (768, 149686),
    2: (1024, 129093),
    5: (1536, 741804),
    14: (2048, 124476),
    15: (3072, 1690314),
    16: (4096, 240904),
}


@pytest.mark.parametrize("number", sorted(MODP_FORMULA))
def test_modp_primes_follow_the_rfc_formula(number: int) -> None:
    bits, k = MODP_FORMULA[number]
    with gmpy2.context(precision=bits + 64):
        floor_pi = int(gmpy2.floor(gmpy2.mpfr(2) ** (bits - 130) * gmpy2.const_pi()))
    expected = 2**bits - 2 ** (bits - 64) - 1 + 2**64 * (floor_pi + k)
    grp = group(number)
    assert isinstance(grp, ModpGroup)
    assert grp.prime == expected and grp.generator == 2
    assert gmpy2.is_prime(grp.prime) and gmpy2.is_prime((grp.prime - 1) // 2)  # safe prime
    assert grp.public_length == bits // 8


def test_group24_parameters_rfc5114_2_3() -> None:
    grp = group(24)
    assert isinstance(grp, ModpGroup) and grp.subgroup_order is not None
    p, g, q = grp.prime, grp.generator, grp.subgroup_order
    assert p.bit_length() == 2048 and q.bit_length() == 256
    assert gmpy2.is_prime(p) and gmpy2.is_prime(q) and (p - 1) % q == 0
    assert pow(g, q, p) == 1 and g != 1


# RFC 5114 Appendix A.3 (2048-bit MODP group with 256-bit prime order subgroup)
A3_XA = "0881382CDB87660C6DC13E614938D5B9C8B2F248581CC5E31B35454397FCE50E"
A3_YA = (
    "2E9380C8323AF97545BC4941DEB0EC3742C62FE0ECE824A6ABDBE66C59BEE0242911BFB967235CEB"
    "A35AE13E4EC752BE630B92DC4BDE2847A9C62CB8152745421FB7EB60A63C0FE9159FCCE726CE7CD8"
    "523D7450667EF840E4919121EB5F01C8C9B0D3D648A93BFB75689E8244AC134AF544711CE79A02DC"
    "C34226684780DDDCB498594106C37F5BC79856487AF5AB022A2E5E42F09897C1A85A11EA0212AF04"
    "D9B4CEBC937C3C1A3E15A8A0342E337615C84E7FE3B8B9B87FB1E73A15AF12A30D746E06DFC34F29"
    "0D797CE51AA13AA785BF6658AFF5E4B093003CBEAF665B3C2E113A3A4E905269341DC0711426685F"
    "4EF37E868A8126FF3F2279B57CA67E29"
)
A3_XB = "7D62A7E3EF36DE617B13D1AFB82C780D83A23BD4EE6705645121F371F546A53D"
A3_YB = (
    "575F0351BD2B1B817448BDF87A6C362C1E289D3903A30B9832C5741FA250363E7ACBC7F77F3DACBC"
    "1F131ADD8E03367EFF8FBBB3E1C5784424809B25AFE4D2262A1A6FD2FAB64105CA30A674E07F7809"
    "852088632FC049233791AD4EDD083A978B883EE618BC5E0DD047415F2D95E683CF14826B5FBE10D3"
    "CE41C6C120C78AB20008C698BF7F0BCAB9D7F407BED0F43AFB2970F57F8D12043963E66DDD320D59"
    "9AD9936C8F44137C08B180EC5E985CEBE186F3D549677E80607331EE17AF3380A725B0782317D7DD"
    "43F59D7AF9568A9BB63A84D365F92244ED120988219302F42924C7CA90B89D24F71B0AB697823D7D"
    "EB1AFF5B0E8E4A45D49F7F53757E1913"
)
A3_Z = (
    "86C70BF8D0BB81BB01078A17219CB7D27203DB2A19C877F1D1F19FD7D77EF22546A68F005AD52DC8"
    "4553B78FC60330BE51EA7C0672CAC1515E4B35C047B9A551B88F39DC26DA14A09EF74774D47C762D"
    "D177F9ED5BC2F11E52C879BD95098504CD9EECD8A8F9B3EFBD1F008AC5853097D9D1837F2B18F77C"
    "D7BE01AF80A7C7B5EA3CA54CC02D0C116FEE3F95BB87399385875D7E86747E676E728938ACBFF709"
    "8E05BE4DCFB24052B83AEFFB14783F029ADBDE7F53FAE92084224090E007CEE94D4BF2BACE9FFD4B"
    "57D2AF7C724D0CAA19BF0501F6F17B4AA10F425E3EA76080B4B9D6B3CEFEA115B2CEB8789BB8A3B0"
    "EA87FEBE63B6C8F846EC6DB0C26C5D7C"
)


def test_group24_rfc5114_appendix_a3() -> None:
    grp = group(24)
    assert isinstance(grp, ModpGroup)
    x_a, x_b = int(A3_XA, 16), int(A3_XB, 16)
    assert pow(grp.generator, x_a, grp.prime).to_bytes(256, "big") == H(A3_YA)
    assert pow(grp.generator, x_b, grp.prime).to_bytes(256, "big") == H(A3_YB)
    assert grp.shared_secret(DhPrivateKey(24, x_a), H(A3_YB)) == H(A3_Z)
    assert grp.shared_secret(DhPrivateKey(24, x_b), H(A3_YA)) == H(A3_Z)


@pytest.mark.parametrize("number", [1, 2, 5, 14, 15, 16, 24])
def test_modp_rfc6989_rejections(number: int) -> None:
    grp = group(number)
    assert isinstance(grp, ModpGroup)
    private, _ = grp.generate(seeded_source(b"modp"))
    size, p = grp.public_length, grp.prime
    for bad in (0, 1, p - 1, p, p + 1, 2 ** (8 * size) - 1):
        with pytest.raises(InvalidKeyExchange, match="RFC 6989"):
            grp.shared_secret(private, bad.to_bytes(size, "big"))
    with pytest.raises(InvalidKeyExchange, match="expected"):
        grp.shared_secret(private, (2).to_bytes(size - 1, "big"))


def test_group24_rejects_values_outside_the_subgroup() -> None:
    grp = group(24)
    private, _ = grp.generate(seeded_source(b"24"))
    # 2 is not in the order-q subgroup (its order is not q), though 1 < 2 < p - 1.
    with pytest.raises(InvalidKeyExchange, match=r"y\^q mod p"):
        grp.shared_secret(private, (2).to_bytes(256, "big"))


@pytest.mark.parametrize("number", sorted(dh.GROUPS))
def test_round_trip_between_two_generated_keys(number: int) -> None:
    grp = group(number)
    a, public_a = grp.generate(seeded_source(b"a%d" % number))
    b, public_b = grp.generate(seeded_source(b"b%d" % number))
    assert len(public_a) == len(public_b) == grp.public_length
    secret = grp.shared_secret(a, public_b)
    assert secret == grp.shared_secret(b, public_a)
    assert len(secret) == grp.secret_length


def test_modp_secret_is_left_padded_to_the_prime_length() -> None:
    # RFC 7296 §2.14: g^ir is as long as the prime, with leading zeros kept.
    grp = group(2)
    assert isinstance(grp, ModpGroup)
    x = 1
    while pow(pow(grp.generator, 3, grp.prime), x, grp.prime) >> (8 * 127):
        x += 1  # find x making (g^3)^x have a leading zero byte
    peer = pow(grp.generator, 3, grp.prime).to_bytes(128, "big")
    secret = grp.shared_secret(DhPrivateKey(2, x), peer)
    assert len(secret) == 128 and secret[0] == 0


def test_modp_without_gmpy2(monkeypatch: pytest.MonkeyPatch) -> None:
    grp = group(14)
    with_gmpy2 = grp.generate(seeded_source(b"same"))
    monkeypatch.setattr(dh, "_gmpy2", None)
    without = grp.generate(seeded_source(b"same"))
    assert without == with_gmpy2
    other, public = grp.generate(seeded_source(b"other"))
    assert grp.shared_secret(without[0], public) == grp.shared_secret(other, without[1])
    test_group24_rfc5114_appendix_a3()


def test_private_exponent_sizes() -> None:
    grp = group(14)
    assert isinstance(grp, ModpGroup)
    private, _ = grp.generate(seeded_source(b"size"))
    assert isinstance(private.secret, int) and private.secret.bit_length() == 320
    assert "secret" not in repr(private).split("(", 1)[1]


def test_generate_needs_exact_random_bytes_and_matching_keys() -> None:
    with pytest.raises(ValueError, match="private source"):
        group(14).generate(lambda n: b"\x01")
    private, public = group(19).generate(seeded_source(b"k"))
    with pytest.raises(ValueError, match="group 19 used with group 20"):
        group(20).shared_secret(private, public)


def test_unknown_group() -> None:
    with pytest.raises(UnknownAlgorithm):
        group(22)


def test_x25519_public_is_pyca_raw_encoding() -> None:
    private, public = group(31).generate(seeded_source(b"pub"))
    assert isinstance(private.secret, x25519.X25519PrivateKey)
    assert private.secret.public_key().public_bytes_raw() == public


@pytest.mark.parametrize("number", [1, 2, 5, 14])
def test_modp_openssl_path_agrees_with_powmod(number: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """pyca's (OpenSSL's) constant-time DH and gmpy2/pow give the same values."""
    grp = group(number)
    assert isinstance(grp, ModpGroup)
    fast_a, fast_public = grp.generate(seeded_source(b"fast%d" % number))
    _other, other_public = grp.generate(seeded_source(b"other%d" % number))
    fast_secret = grp.shared_secret(fast_a, other_public)
    monkeypatch.setitem(dh._FFDH_PARAMETERS, number, None)  # the portable path
    slow_a, slow_public = grp.generate(seeded_source(b"fast%d" % number))
    assert (slow_a, slow_public) == (fast_a, fast_public)
    assert grp.shared_secret(slow_a, other_public) == fast_secret
    assert fast_public == pow(grp.generator, fast_a.secret, grp.prime).to_bytes(  # type: ignore[arg-type]
        grp.public_length, "big"
    )
