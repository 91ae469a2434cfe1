"""Diffie-Hellman groups for IKE: MODP (RFC 2409, 3526, 5114), ECP (RFC 5903), X25519 (RFC 8031).

``group(n).generate(private_source)`` returns the private key and the Key Exchange payload
data; ``shared_secret(private, peer_public)`` checks the peer's data and returns g^ir as
RFC 7296 §2.14 wants it: MODP left-padded to the prime's length, ECP the x coordinate
(RFC 5903 §7), Curve25519 the 32-byte X25519 output (RFC 8031 §2).

Peer checks: MODP per RFC 6989 §2.1 (length equal to the prime's, 1 < y < p-1) and, for
group 24, y^q mod p == 1 (RFC 6989 §2.2); ECP data is x || y (no 0x04 prefix, RFC 5903 §7)
and must be a point on the curve (pyca validates it on load); X25519 refuses an all-zero
result (RFC 8031 §2.3). Failures raise ``InvalidKeyExchange``.

MODP exponentiation with a secret exponent (our public value and g^ir) uses OpenSSL's
constant-time modular exponentiation through pyca's finite-field DH while pyca still ships it
(deprecated since cryptography 46; about 1.7x faster than gmpy2's ``powmod_sec`` for the RFC 3526
groups): a key object is built from our exponent and asked to "exchange" with g (giving g^x)
or with the peer's value (giving g^xy); its public half is never used. Otherwise, and for the
RFC 5114 group with its subgroup check, gmpy2 (``powmod_sec``, the side-channel resistant
variant, for secret exponents), or Python's ``pow`` without gmpy2. Elliptic-curve and X25519
arithmetic is pyca/cryptography's.
"""

from __future__ import annotations

import abc
import importlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tunnelgate.crypto.errors import InvalidKeyExchange, UnknownAlgorithm

try:
    _gmpy2: ModuleType | None = importlib.import_module("gmpy2")
except ImportError:  # pragma: no cover - gmpy2 is a dependency, but optional at run time
    _gmpy2 = None

try:  # pyca's finite-field DH: deprecated (cryptography 46), to be removed in a later release
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.primitives.asymmetric import dh as _pyca_dh

        _FFDH: tuple[Any, Any, Any] | None = (
            _pyca_dh.DHParameterNumbers,
            _pyca_dh.DHPublicNumbers,
            _pyca_dh.DHPrivateNumbers,
        )
except (ImportError, AttributeError):  # pragma: no cover - a cryptography without FFDH
    _FFDH = None

# group number -> pyca parameter numbers, or None where pyca refused the group (then gmpy2)
_FFDH_PARAMETERS: dict[int, Any] = {}

# n -> n bytes from the injected random source (e.g. os.urandom in the shell, seeded in tests)
PrivateSource = Callable[[int], bytes]


def powmod(base: int, exponent: int, modulus: int, *, secret: bool = False) -> int:
    """``base ** exponent % modulus``; with gmpy2, side-channel resistant when ``secret``."""
    if _gmpy2 is None:
        return pow(base, exponent, modulus)
    if secret and exponent > 0 and modulus % 2:
        return int(_gmpy2.powmod_sec(base, exponent, modulus))
    return int(_gmpy2.powmod(base, exponent, modulus))


@dataclass(frozen=True, slots=True)
class DhPrivateKey:
    """A private value bound to its group number (opaque to callers, hidden from repr)."""

    group: int
    secret: int | ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey = field(repr=False)


class DhGroup(abc.ABC):
    """A Diffie-Hellman group as IKE uses it (IANA Transform Type 4 number)."""

    __slots__ = ()
    number: int
    name: str
    public_length: int  # Key Exchange payload data length
    secret_length: int  # length of the shared secret g^ir

    @abc.abstractmethod
    def generate(self, private_source: PrivateSource) -> tuple[DhPrivateKey, bytes]:
        """A fresh private key from ``private_source`` and the public value to send."""

    @abc.abstractmethod
    def shared_secret(self, private: DhPrivateKey, peer_public: bytes) -> bytes:
        """g^ir from our private key and the peer's KE data; ``InvalidKeyExchange`` if bad."""

    def _take(self, private_source: PrivateSource, length: int) -> bytes:
        raw = private_source(length)
        if len(raw) != length:
            raise ValueError(f"private source returned {len(raw)} bytes, {length} asked")
        return raw

    def _own(self, private: DhPrivateKey) -> None:
        if private.group != self.number:
            raise ValueError(f"private key of group {private.group} used with group {self.number}")

    def _check_length(self, peer_public: bytes) -> None:
        if len(peer_public) != self.public_length:
            raise InvalidKeyExchange(
                f"group {self.number} ({self.name}): key exchange data of "
                f"{len(peer_public)} bytes, {self.public_length} expected"
            )


@dataclass(frozen=True, slots=True)
class ModpGroup(DhGroup):
    """Modular exponentiation group; ``subgroup_order`` set for RFC 5114 groups."""

    number: int
    name: str
    public_length: int
    secret_length: int
    prime: int
    generator: int
    exponent_bytes: int  # random bytes drawn for the private exponent
    subgroup_order: int | None = None

    def generate(self, private_source: PrivateSource) -> tuple[DhPrivateKey, bytes]:
        raw = int.from_bytes(self._take(private_source, self.exponent_bytes), "big")
        if self.subgroup_order is not None:
            # FIPS 186-4 B.1.1: 64 extra random bits, x = c mod (q - 1) + 1.
            x = raw % (self.subgroup_order - 1) + 1
        else:
            # Full-length exponent of 8 * exponent_bytes bits (RFC 3526 §8 sizes).
            x = raw | (1 << (8 * self.exponent_bytes - 1))
        y = self._secret_power(self.generator, x)
        return DhPrivateKey(self.number, x), y.to_bytes(self.public_length, "big")

    def _secret_power(self, base: int, x: int) -> int:
        """``base ** x mod p`` for our secret ``x``, in constant time: OpenSSL's DH when
        pyca has it and takes this group, else ``powmod`` (module docstring)."""
        parameters = self._pyca_parameters()
        if parameters is not None:
            assert _FFDH is not None
            _, public_numbers, private_numbers = _FFDH
            try:
                # the key's public half is a placeholder (g): only x takes part in exchange
                key = private_numbers(x, public_numbers(self.generator, parameters)).private_key()
                value = key.exchange(public_numbers(base, parameters).public_key())
                return int.from_bytes(value, "big")
            except ValueError:  # OpenSSL refused a value: the portable path decides
                pass
        return powmod(base, x, self.prime, secret=True)

    def _pyca_parameters(self) -> Any:
        """pyca's parameter numbers of this group, or None (no FFDH in pyca, a subgroup
        group, or one OpenSSL refuses: checked once by a test exchange against ``pow``)."""
        if self.number in _FFDH_PARAMETERS:
            return _FFDH_PARAMETERS[self.number]
        parameters = None
        if _FFDH is not None and self.subgroup_order is None:
            parameter_numbers, public_numbers, private_numbers = _FFDH
            try:
                candidate = parameter_numbers(self.prime, self.generator)
                key = private_numbers(3, public_numbers(self.generator, candidate)).private_key()
                probe = key.exchange(public_numbers(self.generator, candidate).public_key())
                if int.from_bytes(probe, "big") == pow(self.generator, 3, self.prime):
                    parameters = candidate
            except ValueError:
                parameters = None
        _FFDH_PARAMETERS[self.number] = parameters
        return parameters

    def shared_secret(self, private: DhPrivateKey, peer_public: bytes) -> bytes:
        self._own(private)
        self._check_length(peer_public)
        y = int.from_bytes(peer_public, "big")
        if y <= 1 or y >= self.prime - 1:
            raise InvalidKeyExchange(
                f"group {self.number} ({self.name}): public value is 0, 1, p-1 or not below p "
                "(RFC 6989 §2.1)"
            )
        if self.subgroup_order is not None and powmod(y, self.subgroup_order, self.prime) != 1:
            raise InvalidKeyExchange(
                f"group {self.number} ({self.name}): public value is not in the prime-order "
                "subgroup, y^q mod p != 1 (RFC 6989 §2.2)"
            )
        assert isinstance(private.secret, int)
        z = self._secret_power(y, private.secret)
        return z.to_bytes(self.secret_length, "big")


@dataclass(frozen=True, slots=True)
class EcpGroup(DhGroup):
    """NIST prime curve group (RFC 5903); KE data is x || y, the secret is x."""

    number: int
    name: str
    public_length: int
    secret_length: int
    curve: ec.EllipticCurve
    order: int  # n, the order of the base point

    def generate(self, private_source: PrivateSource) -> tuple[DhPrivateKey, bytes]:
        raw = self._take(private_source, self.secret_length + 8)
        # FIPS 186-4 B.4.1: 64 extra random bits, d = c mod (n - 1) + 1.
        d = int.from_bytes(raw, "big") % (self.order - 1) + 1
        key = ec.derive_private_key(d, self.curve)
        point = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return DhPrivateKey(self.number, key), point[1:]

    def shared_secret(self, private: DhPrivateKey, peer_public: bytes) -> bytes:
        self._own(private)
        self._check_length(peer_public)
        try:
            peer = ec.EllipticCurvePublicKey.from_encoded_point(self.curve, b"\x04" + peer_public)
        except ValueError:
            raise InvalidKeyExchange(
                f"group {self.number} ({self.name}): public value is not a point on the curve"
            ) from None
        assert isinstance(private.secret, ec.EllipticCurvePrivateKey)
        return private.secret.exchange(ec.ECDH(), peer)


@dataclass(frozen=True, slots=True)
class Curve25519Group(DhGroup):
    """X25519 (RFC 7748) for IKEv2 (RFC 8031): 32-byte public values and secrets."""

    number: int
    name: str
    public_length: int = 32
    secret_length: int = 32

    def generate(self, private_source: PrivateSource) -> tuple[DhPrivateKey, bytes]:
        key = x25519.X25519PrivateKey.from_private_bytes(self._take(private_source, 32))
        return DhPrivateKey(self.number, key), key.public_key().public_bytes_raw()

    def shared_secret(self, private: DhPrivateKey, peer_public: bytes) -> bytes:
        self._own(private)
        self._check_length(peer_public)
        assert isinstance(private.secret, x25519.X25519PrivateKey)
        try:
            return private.secret.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
        except ValueError:
            raise InvalidKeyExchange(
                f"group {self.number} ({self.name}): all-zero shared secret, the peer sent a "
                "low-order point (RFC 8031 §2.3)"
            ) from None


# ------------------------------------------------------------------ parameters (data)

# RFC 2409 §6.1-6.2 (groups 1, 2) and RFC 3526 §2-5 (groups 5, 14, 15, 16), generator 2:
# p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) * pi) + k); tests recompute each one.
_MODP_HEX = {
    1: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF"
    ),
    2: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF"
    ),
    5: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA237327FFFFFFFFFFFFFFFF"
    ),
    14: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF"
    ),
    15: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
    ),
    16: (
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74"
        "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437"
        "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05"
        "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB"
        "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
        "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33"
        "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
        "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864"
        "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
        "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7"
        "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8"
        "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2"
        "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9"
        "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF"
    ),
}


# RFC 5114 §2.3, 2048-bit MODP group with a 256-bit prime-order subgroup (IKE group 24).
_GROUP24_P = (
    "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00"
    "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C"
    "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
    "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76"
    "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
    "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
    "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103"
    "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"
)
_GROUP24_G = (
    "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125"
    "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62"
    "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B"
    "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193"
    "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A"
    "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915"
    "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3"
    "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"
)
_GROUP24_Q = "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"

# Private exponent sizes in bytes: RFC 3526 §8 (2x the larger strength estimate),
# never below 256 bits; group 24 draws 256 + 64 bits for its 256-bit subgroup.
_EXPONENT_BYTES = {1: 32, 2: 32, 5: 32, 14: 40, 15: 54, 16: 60}
_MODP_NAMES = {
    1: "MODP_768",
    2: "MODP_1024",
    5: "MODP_1536",
    14: "MODP_2048",
    15: "MODP_3072",
    16: "MODP_4096",
}

# Orders of the NIST curves' base points (FIPS 186-4 D.1.2.3-5); checked in the tests.
_P256_N = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
_P384_N = (
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
    "581A0DB248B0A77AECEC196ACCC52973"
)
_P521_N = (
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
    "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409"
)


def _modp(
    number: int, name: str, p_hex: str, g: int, exponent_bytes: int, q_hex: str | None = None
) -> ModpGroup:
    p = int(p_hex, 16)
    length = (p.bit_length() + 7) // 8
    q = int(q_hex, 16) if q_hex else None
    return ModpGroup(number, name, length, length, p, g, exponent_bytes, q)


def _ecp(number: int, name: str, curve: ec.EllipticCurve, n_hex: str) -> EcpGroup:
    coordinate = (curve.key_size + 7) // 8
    return EcpGroup(number, name, 2 * coordinate, coordinate, curve, int(n_hex, 16))


GROUPS: dict[int, DhGroup] = {
    **{
        n: _modp(n, _MODP_NAMES[n], "".join(_MODP_HEX[n]), 2, _EXPONENT_BYTES[n])
        for n in (1, 2, 5, 14, 15, 16)
    },
    19: _ecp(19, "ECP_256", ec.SECP256R1(), _P256_N),
    20: _ecp(20, "ECP_384", ec.SECP384R1(), _P384_N),
    21: _ecp(21, "ECP_521", ec.SECP521R1(), _P521_N),
    24: _modp(24, "MODP_2048_256", _GROUP24_P, int(_GROUP24_G, 16), 40, _GROUP24_Q),
    31: Curve25519Group(31, "CURVE_25519"),
}


def group(number: int) -> DhGroup:
    """The group with IANA Transform Type 4 number ``number``; ``UnknownAlgorithm`` if none."""
    try:
        return GROUPS[number]
    except KeyError:
        raise UnknownAlgorithm(f"Diffie-Hellman group {number} is not supported") from None


__all__ = [
    "GROUPS",
    "Curve25519Group",
    "DhGroup",
    "DhPrivateKey",
    "EcpGroup",
    "ModpGroup",
    "PrivateSource",
    "group",
    "powmod",
]
