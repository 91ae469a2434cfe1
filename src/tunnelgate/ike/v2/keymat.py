"""Key derivation of RFC 7296 §2.14 (IKE SA) and §2.17 (child SAs)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.prf import Prf, prf_plus

_ENDS: dict[tuple[int, ...], tuple[int, ...]] = {}  # lengths -> offsets, shared by all SAs


class IkeKeys:
    """SK_d, SK_a*, SK_e*, SK_p* of one IKE SA (never shown by ``repr``).

    Held as one ``bytes`` (the prf+ stream, §2.14 order) with the end offsets shared by
    every SA of the same algorithms, instead of seven objects: each key is sliced out when
    asked for (once per message). ``established`` forgets SK_pi and SK_pr, which only the
    AUTH payloads of IKE_AUTH use (§2.15); they read as empty afterwards.
    """

    __slots__ = ("_ends", "_stream")

    _stream: bytes
    _ends: tuple[int, ...]

    def __init__(
        self,
        sk_d: bytes,
        sk_ai: bytes,
        sk_ar: bytes,
        sk_ei: bytes,
        sk_er: bytes,
        sk_pi: bytes,
        sk_pr: bytes,
    ) -> None:
        parts = (sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr)
        self._set(b"".join(parts), tuple(len(p) for p in parts))

    @classmethod
    def from_stream(cls, stream: bytes, lengths: tuple[int, ...]) -> IkeKeys:
        """The keys cut from ``stream`` by ``lengths`` (the seven, in §2.14 order)."""
        keys = cls.__new__(cls)
        keys._set(stream[: sum(lengths)], lengths)
        return keys

    def _set(self, stream: bytes, lengths: tuple[int, ...]) -> None:
        ends = _ENDS.get(lengths)
        if ends is None:
            total, offsets = 0, []
            for length in lengths:
                total += length
                offsets.append(total)
            ends = _ENDS[lengths] = tuple(offsets)
        object.__setattr__(self, "_stream", stream)
        object.__setattr__(self, "_ends", ends)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"IkeKeys is immutable: cannot set {name}")

    def _key(self, index: int) -> bytes:
        ends = self._ends
        return self._stream[ends[index - 1] if index else 0 : ends[index]]

    @property
    def sk_d(self) -> bytes:
        return self._key(0)

    @property
    def sk_ai(self) -> bytes:
        return self._key(1)

    @property
    def sk_ar(self) -> bytes:
        return self._key(2)

    @property
    def sk_ei(self) -> bytes:
        return self._key(3)

    @property
    def sk_er(self) -> bytes:
        return self._key(4)

    @property
    def sk_pi(self) -> bytes:
        return self._key(5)

    @property
    def sk_pr(self) -> bytes:
        return self._key(6)

    def established(self) -> IkeKeys:
        """The same keys without SK_pi and SK_pr (once IKE_AUTH is done)."""
        ends = self._ends
        kept = ends[4]
        lengths = tuple(b - a for a, b in zip((0, *ends), ends, strict=False))
        return IkeKeys.from_stream(self._stream[:kept], (*lengths[:5], 0, 0))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IkeKeys):
            return NotImplemented
        return self._ends == other._ends and self._stream == other._stream

    def __hash__(self) -> int:
        return hash((self._stream, self._ends))

    def __repr__(self) -> str:
        return "IkeKeys()"


@dataclass(frozen=True, slots=True)
class ChildKeys:
    """ESP keys: initiator→responder first, then responder→initiator (§2.17)."""

    encr_i: bytes = field(repr=False)
    integ_i: bytes = field(repr=False)
    encr_r: bytes = field(repr=False)
    integ_r: bytes = field(repr=False)


def derive_ike_keys(
    prf: Prf,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeKeys:
    """SKEYSEED = prf(Ni | Nr, g^ir); {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr}
    = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)."""
    skeyseed = prf(nonce_i + nonce_r, shared_secret)
    return _split(prf, prf, skeyseed, encryption, integrity, nonce_i + nonce_r + spi_i + spi_r)


def derive_rekeyed_ike_keys(
    old_prf: Prf,
    old_sk_d: bytes,
    new_prf: Prf,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes,
    spi_i: bytes,
    spi_r: bytes,
) -> IkeKeys:
    """The keys of a rekeyed IKE SA (RFC 7296 §2.18): SKEYSEED = prf(SK_d (old), g^ir (new)
    | Ni | Nr), then prf+ over the new SPIs. Both use the old SA's PRF, as strongSwan does;
    key lengths follow the new SA's algorithms."""
    skeyseed = old_prf(old_sk_d, shared_secret + nonce_i + nonce_r)
    seed = nonce_i + nonce_r + spi_i + spi_r
    return _split(old_prf, new_prf, skeyseed, encryption, integrity, seed)


def _split(
    stream_prf: Prf,
    new_prf: Prf,
    skeyseed: bytes,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    seed: bytes,
) -> IkeKeys:
    lengths = (
        new_prf.key_bytes,
        integrity.key_bytes,
        integrity.key_bytes,
        encryption.keymat_bytes,
        encryption.keymat_bytes,
        new_prf.key_bytes,
        new_prf.key_bytes,
    )
    return IkeKeys.from_stream(prf_plus(stream_prf, skeyseed, seed, sum(lengths)), lengths)


def derive_child_keys(
    prf: Prf,
    sk_d: bytes,
    encryption: EncryptionAlgorithm,
    integrity: Integrity,
    nonce_i: bytes,
    nonce_r: bytes,
    shared_secret: bytes = b"",
) -> ChildKeys:
    """KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr), taken in the order of §2.17."""
    e, a = encryption.keymat_bytes, integrity.key_bytes
    stream = prf_plus(prf, sk_d, shared_secret + nonce_i + nonce_r, 2 * (e + a))
    return ChildKeys(
        stream[:e], stream[e : e + a], stream[e + a : 2 * e + a], stream[2 * e + a : 2 * (e + a)]
    )
