"""The RFC 4303 ESP packet transform: ``encapsulate`` and ``decapsulate`` one packet.

Wire format (RFC 4303 §2)::

    SPI (4) | Sequence Number (4, low 32 bits) | IV | ciphertext | ICV
    ciphertext = E(payload | TFC padding | padding 1,2,3… | pad length | next header)

Algorithms come from the crypto registry; nothing here is a primitive:

* CBC ciphers (DES RFC 2405, 3DES RFC 2451, AES RFC 3602) with a separate HMAC ICV
  (RFC 2403, 2404, 4868) computed over SPI | seq | IV | ciphertext (with the high 32 bits of
  an extended sequence number appended, RFC 4303 §2.2.1). The IV comes from the injected
  random source.
* AES-GCM (RFC 4106) and AES-GMAC (RFC 4543): the cipher authenticates SPI | seq (with the
  ESN high bits in between, RFC 4106 §5 / RFC 4543 §3.3) as AAD and produces the 16-byte
  ICV. The 8-byte explicit IV **is the 64-bit sequence number** (RFC 4106 §3.1 allows a
  counter; RFC 4543 §3.1 likewise): a sequence number is never reused under one SA's key
  (RFC 4303 §3.3.3 forbids cycling — the SA is rekeyed instead), so salt | IV never repeats.
* NULL encryption (RFC 2410), which ESP allows only with an integrity algorithm (§3.2).

``decapsulate`` verifies the ICV first, in constant time (``Integrity.verify``; for AEAD the
tag check inside pyca releases no plaintext), and only then decrypts and checks the
trailer. Malformed input raises ``EspError(reason)`` and nothing else. Replay checks and
counters belong to the SA context (``esp/sa.py``), not to this module.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tunnelgate.crypto.cipher import CipherMode, EncryptionAlgorithm, KeyedCipher
from tunnelgate.crypto.errors import CryptoError
from tunnelgate.crypto.integrity import Integrity, KeyedIntegrity
from tunnelgate.crypto.registry import Kind, encryption, integrity_algorithm
from tunnelgate.esp.ipv4 import Ipv4Error, parse_ipv4

RandomSource = Callable[[int], bytes]

# IANA protocol numbers used as the ESP Next Header (RFC 4303 §2.6).
NEXT_HEADER_IPV4 = 4  # tunnel mode, IPv4 inner packet
NEXT_HEADER_IPV6 = 41  # tunnel mode, IPv6 inner packet
NEXT_HEADER_NO_NEXT = 59  # dummy packet (RFC 4303 §2.6): discarded by the receiver

HEADER_BYTES = 8  # SPI + sequence number
TRAILER_BYTES = 2  # pad length + next header
MAX_PAD_BYTES = 255
_HEADER = struct.Struct("!II")
_IPV4_MIN_BYTES = 20
_IPV6_HEADER_BYTES = 40
_PADDING = tuple(bytes(range(1, n + 1)) for n in range(MAX_PAD_BYTES + 1))  # 1, 2, 3 …
# by next header: padding + pad length + next header, for each pad length (``seal``)
_TRAILERS: dict[int, tuple[bytes, ...]] = {}


class EspError(ValueError):
    """A packet this SA refuses; ``reason`` is a short name usable as a drop counter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EspKeys:
    """Keying material of one direction: cipher key (with the GCM/GMAC salt) and HMAC key.

    ``encryption_key`` is the whole KEYMAT slice for the cipher: for GCM/GMAC the AES key
    followed by the 4-byte salt (RFC 4106 §8.1, RFC 4543 §8), as ``ChildKeys`` hands it out.
    """

    encryption_key: bytes = field(repr=False)
    integrity_key: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class EspTransform:
    """Everything ``encapsulate``/``decapsulate`` need for one SA direction.

    The keyed contexts (``keyed_cipher``, ``keyed_integrity``, ``data_path``) are set up on
    the first packet, not when the SA is installed: a pyca ``AESGCM`` holds about 2.5 KB of
    OpenSSL state and an HMAC about 0.8 KB, which an idle tunnel does not need (issue 8:
    20,000 tunnels, most of them idle). Once set up they stay for the SA's life; the GCM
    data path and ``keyed_cipher`` share one ``AESGCM`` per direction.
    """

    spi: int
    encryption: EncryptionAlgorithm
    integrity: Integrity
    keys: EspKeys
    esn: bool = False  # extended (64-bit) sequence numbers, RFC 4303 §2.2.1
    # keyed once per SA on first use, not per packet (``_key``; None until then)
    _cipher: KeyedCipher | None = field(init=False, repr=False, compare=False)
    _integrity: KeyedIntegrity | None = field(init=False, repr=False, compare=False)
    # the per-packet constants and keyed contexts of ``seal``/``open_esp``: None until the
    # first packet, and for ESN, GMAC or NULL encryption (which take
    # ``encapsulate``/``decapsulate``; ``_fast`` tells which)
    data_path: _DataPath | None = field(init=False, repr=False, compare=False)
    _fast: bool = field(init=False, repr=False, compare=False)
    _alignment: int = field(init=False, repr=False, compare=False)
    _overhead: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 256 <= self.spi <= 0xFFFFFFFF:
            raise ValueError(f"SPI {self.spi} is reserved or out of range (RFC 4303 §2.1)")
        enc, integ = self.encryption, self.integrity
        if len(self.keys.encryption_key) != enc.keymat_bytes:
            raise ValueError(f"{enc.name} takes {enc.keymat_bytes} bytes of keying material")
        if len(self.keys.integrity_key) != integ.key_bytes:
            raise ValueError(f"{integ.name} takes a {integ.key_bytes}-byte key")
        if enc.aead and integ.icv_bytes:
            raise ValueError(f"{enc.name} is combined mode: integrity must be none")
        if not enc.aead and not integ.icv_bytes:
            raise ValueError(f"{enc.name} without integrity is not allowed (RFC 4303 §3.2)")
        alignment = math.lcm(enc.block_bytes, 4)
        overhead = HEADER_BYTES + enc.iv_bytes + TRAILER_BYTES + enc.icv_bytes + integ.icv_bytes
        object.__setattr__(self, "_alignment", alignment)
        object.__setattr__(self, "_overhead", overhead)
        object.__setattr__(self, "_cipher", None)
        object.__setattr__(self, "_integrity", None)
        object.__setattr__(self, "data_path", None)
        fast = not self.esn and enc.mode in (CipherMode.GCM, CipherMode.CBC)
        object.__setattr__(self, "_fast", fast)

    @property
    def keyed_cipher(self) -> KeyedCipher:
        """The cipher keyed for this SA (set up on first use, then kept)."""
        keyed = self._cipher
        if keyed is None:
            keyed = KeyedCipher(self.encryption, self.keys.encryption_key)
            object.__setattr__(self, "_cipher", keyed)
        return keyed

    @property
    def keyed_integrity(self) -> KeyedIntegrity:
        """The HMAC keyed for this SA (set up on first use, then kept)."""
        keyed = self._integrity
        if keyed is None:
            keyed = KeyedIntegrity(self.integrity, self.keys.integrity_key)
            object.__setattr__(self, "_integrity", keyed)
        return keyed

    def key_data_path(self) -> _DataPath | None:
        """``data_path``, set up now if it was not yet (None: this SA takes the slow path)."""
        fast = self.data_path
        if fast is None and self._fast:
            fast = _DataPath(self, self._alignment, self._overhead)
            object.__setattr__(self, "data_path", fast)
        return fast

    @property
    def keyed(self) -> bool:
        """Whether any keyed context was set up (a packet was protected or checked)."""
        return self._cipher is not None or self.data_path is not None

    @classmethod
    def from_keywords(
        cls,
        spi: int,
        encryption_keyword: str,
        integrity_keyword: str,
        keys: EspKeys,
        *,
        ikev1: bool = False,
        esn: bool = False,
    ) -> EspTransform:
        """Build from ASA keywords (``ipsec-proposal`` ones, or transform-set ones if ikev1)."""
        enc_kind = Kind.ESP_V1_ENCRYPTION if ikev1 else Kind.ESP_V2_ENCRYPTION
        integ_kind = Kind.ESP_V1_INTEGRITY if ikev1 else Kind.ESP_V2_INTEGRITY
        return cls(
            spi,
            encryption(enc_kind, encryption_keyword),
            integrity_algorithm(integ_kind, integrity_keyword),
            keys,
            esn,
        )

    @property
    def salt(self) -> bytes:
        """The GCM/GMAC salt: keying material after the AES key (empty for other ciphers)."""
        return self.keys.encryption_key[self.encryption.key_bytes :]

    @property
    def icv_bytes(self) -> int:
        return self.encryption.icv_bytes + self.integrity.icv_bytes

    @property
    def alignment(self) -> int:
        """Padding alignment: the cipher block, and at least 4 (RFC 4303 §2.4)."""
        return self._alignment

    @property
    def overhead_bytes(self) -> int:
        """Fixed bytes around the payload, padding excluded: header, IV, trailer, ICV."""
        return self._overhead


class _DataPath:
    """What ``seal`` and ``open_esp`` need per packet, set up once per SA direction (on its
    first packet): AES-GCM (the ``AESGCM`` of the SA's keyed cipher) or the SA's keyed CBC
    cipher with its HMAC. (A CBC context kept across packets, with the IV folded into the
    first block by hand, measured +50 % on CBC but is refused: it re-implements CBC
    chaining — the house rule against hand-rolled crypto — see docs/data-plane.md.)"""

    __slots__ = (
        "alignment",
        "cbc",
        "gcm",
        "icv_cipher",
        "icv_integrity",
        "integrity",
        "iv_bytes",
        "iv_end",
        "overhead",
        "salt",
        "spi",
    )

    def __init__(self, transform: EspTransform, alignment: int, overhead: int) -> None:
        enc, key = transform.encryption, transform.keys.encryption_key
        self.spi = transform.spi
        self.alignment = alignment
        self.overhead = overhead
        self.iv_bytes = enc.iv_bytes
        self.iv_end = HEADER_BYTES + enc.iv_bytes
        self.icv_cipher = enc.icv_bytes
        self.icv_integrity = transform.integrity.icv_bytes
        self.integrity = transform.keyed_integrity
        self.salt = key[enc.key_bytes :]
        self.gcm: AESGCM | None = None
        self.cbc: KeyedCipher | None = None
        if enc.mode is CipherMode.GCM:
            # the keyed cipher's own AESGCM: one OpenSSL context pair per SA direction
            self.gcm = transform.keyed_cipher.aesgcm
        else:
            self.cbc = transform.keyed_cipher


class Decapsulated(NamedTuple):
    """What ``decapsulate`` recovered: the full sequence number, payload and next header."""

    seq: int
    inner: bytes
    next_header: int

    @property
    def dummy(self) -> bool:
        """A dummy packet (next header 59, RFC 4303 §2.6): to be counted and discarded."""
        return self.next_header == NEXT_HEADER_NO_NEXT


def _max_seq(transform: EspTransform) -> int:
    return 0xFFFFFFFFFFFFFFFF if transform.esn else 0xFFFFFFFF


def _associated(spi: int, seq: int, esn: bool) -> tuple[bytes, bytes, bytes]:
    """(ESP header on the wire, AEAD AAD, bytes appended for the HMAC ICV)."""
    header = _HEADER.pack(spi, seq & 0xFFFFFFFF)
    if not esn:
        return header, header, b""
    high = (seq >> 32).to_bytes(4, "big")
    return header, header[:4] + high + header[4:], high


def encapsulate(
    transform: EspTransform,
    seq: int,
    inner: bytes,
    next_header: int,
    random: RandomSource,
    *,
    pad_to: int = 4,
    tfc_padding: int = 0,
) -> bytes:
    """The ESP payload (header to ICV) carrying ``inner`` with sequence number ``seq``.

    ``pad_to`` asks for a larger alignment of the plaintext (combined with the cipher block
    and 4); ``tfc_padding`` zero bytes go after the payload (RFC 4303 §2.7), allowed only
    when the receiver can find the payload's end (IPv4/IPv6 inner packets, dummies).
    Programming errors (bad seq, pad_to, next header) raise ``ValueError``.
    """
    if not 1 <= seq <= _max_seq(transform):
        raise ValueError(f"sequence number {seq} out of range for this SA")
    if not 0 <= next_header <= 255:
        raise ValueError(f"next header {next_header} is not a protocol number")
    if pad_to < 1 or tfc_padding < 0:
        raise ValueError("pad_to must be positive and tfc_padding non-negative")
    if tfc_padding and next_header not in (NEXT_HEADER_IPV4, NEXT_HEADER_IPV6, 59):
        raise ValueError("TFC padding needs an inner packet that carries its own length")
    enc = transform.encryption
    body_bytes = len(inner) + tfc_padding + TRAILER_BYTES
    align = math.lcm(transform.alignment, pad_to)
    pad_bytes = -body_bytes % align
    if pad_bytes > MAX_PAD_BYTES:
        raise ValueError(f"alignment {align} needs {pad_bytes} bytes of padding (max 255)")
    padding = _PADDING[pad_bytes]
    trailer = bytes((pad_bytes, next_header))
    if tfc_padding:
        plaintext = b"".join((inner, bytes(tfc_padding), padding, trailer))
    else:
        plaintext = b"".join((inner, padding, trailer))
    header, aad, icv_suffix = _associated(transform.spi, seq, transform.esn)
    if enc.aead:
        iv = seq.to_bytes(enc.iv_bytes, "big")  # see the module docstring
    else:
        iv = random(enc.iv_bytes)
        if len(iv) != enc.iv_bytes:
            raise ValueError("the random source returned the wrong number of bytes")
    body = transform.keyed_cipher.encrypt(iv, plaintext, aad)
    packet = header + iv + body
    icv = transform.keyed_integrity.sign(packet + icv_suffix)
    return packet + icv


def seal(
    transform: EspTransform, seq: int, inner: bytes, next_header: int, random: RandomSource
) -> bytes:
    """``encapsulate`` without TFC padding or ``pad_to``, for the data path: the same bytes
    (given the same random source), without re-checking what the caller guarantees (a
    sequence number from the SA, a protocol number)."""
    fast = transform.data_path
    if fast is None:
        fast = transform.key_data_path()  # the first packet of this SA, or not a fast one
        if fast is None:
            return encapsulate(transform, seq, inner, next_header, random)
    pad_bytes = -(len(inner) + TRAILER_BYTES) % fast.alignment
    trailer = _TRAILERS.get(next_header)
    if trailer is None:
        trailer = _TRAILERS[next_header] = tuple(
            _PADDING[n] + bytes((n, next_header)) for n in range(MAX_PAD_BYTES + 1)
        )
    plaintext = inner + trailer[pad_bytes]
    header = _HEADER.pack(fast.spi, seq)
    gcm = fast.gcm
    if gcm is not None:
        iv = seq.to_bytes(8)
        return header + iv + gcm.encrypt(fast.salt + iv, plaintext, header)
    assert fast.cbc is not None
    iv = random(fast.iv_bytes)
    if len(iv) != fast.iv_bytes:
        raise ValueError("the random source returned the wrong number of bytes")
    packet = header + iv + fast.cbc.encrypt(iv, plaintext)
    return packet + fast.integrity.sign(packet)


def open_esp(transform: EspTransform, data: bytes) -> tuple[bytes, int]:
    """``decapsulate`` for the data path: (inner packet, next header), the same checks in
    the same order with the same ``EspError`` reasons."""
    fast = transform.data_path
    if fast is None:
        fast = transform.key_data_path()  # the first packet of this SA, or not a fast one
        if fast is None:
            result = decapsulate(transform, data)
            return result.inner, result.next_header
    size = len(data)
    if size < fast.overhead:
        raise EspError("short-packet")
    iv_end = fast.iv_end
    end = size - fast.icv_integrity
    body = data[iv_end:end]
    if (len(body) - fast.icv_cipher) % fast.alignment:
        raise EspError("bad-length")
    gcm = fast.gcm
    if gcm is not None:
        try:
            plaintext = gcm.decrypt(fast.salt + data[HEADER_BYTES:iv_end], body, data[:8])
        except InvalidTag:
            raise EspError("icv-failed") from None
    else:
        assert fast.cbc is not None
        try:
            fast.integrity.verify(data[:end], data[end:])
        except CryptoError:
            raise EspError("icv-failed") from None
        plaintext = fast.cbc.decrypt(data[HEADER_BYTES:iv_end], body)
    pad_bytes, next_header = plaintext[-2], plaintext[-1]
    payload_end = len(plaintext) - TRAILER_BYTES - pad_bytes
    if payload_end < 0 or plaintext[payload_end:-TRAILER_BYTES] != _PADDING[pad_bytes]:
        raise EspError("bad-padding")
    inner = plaintext[:payload_end]
    if (
        next_header == NEXT_HEADER_IPV4
        and payload_end >= _IPV4_MIN_BYTES
        and inner[0] >> 4 == 4
        and int.from_bytes(inner[2:4]) == payload_end
    ):
        return inner, next_header  # no TFC padding: what ``_strip_tfc`` would return
    return _strip_tfc(inner, next_header), next_header


def tunnel_encapsulate(
    transform: EspTransform,
    seq: int,
    inner_ipv4: bytes,
    random: RandomSource,
    *,
    pad_to: int = 4,
    tfc_padding: int = 0,
) -> bytes:
    """Tunnel mode: ESP payload carrying a whole IPv4 packet (next header 4)."""
    try:
        header, _ = parse_ipv4(inner_ipv4)
    except Ipv4Error as exc:
        raise ValueError(f"inner packet is not IPv4: {exc}") from None
    if header.total_length != len(inner_ipv4):
        raise ValueError("inner packet has bytes after its IPv4 total length")
    return encapsulate(
        transform,
        seq,
        inner_ipv4,
        NEXT_HEADER_IPV4,
        random,
        pad_to=pad_to,
        tfc_padding=tfc_padding,
    )


def peek_spi_seq(data: bytes) -> tuple[int, int]:
    """SPI and low 32 bits of the sequence number, for SAD lookup and the replay pre-check."""
    if len(data) < HEADER_BYTES:
        raise EspError("short-packet")
    spi, seq = _HEADER.unpack_from(data)
    return spi, seq


def decapsulate(transform: EspTransform, data: bytes, *, seq_high: int = 0) -> Decapsulated:
    """Verify, decrypt and strip one ESP payload; ``EspError(reason)`` if it is refused.

    ``seq_high`` is the high 32 bits of the sequence number the replay window inferred
    (RFC 4303 Appendix A); it only matters with ESN. Reasons: ``short-packet``,
    ``bad-length``, ``icv-failed``, ``bad-padding``, ``bad-inner-packet``. For tunnel-mode
    next headers (4, 41) TFC padding is removed using the inner packet's own length. The
    SPI is not compared: the SAD found this SA by it, and the ICV covers it.
    """
    enc, integ = transform.encryption, transform.integrity
    if len(data) < transform.overhead_bytes:
        raise EspError("short-packet")
    spi, seq_low = _HEADER.unpack_from(data)
    seq = (seq_high << 32 | seq_low) if transform.esn else seq_low
    _, aad, icv_suffix = _associated(spi, seq, transform.esn)  # the SPI as received
    iv_end = HEADER_BYTES + enc.iv_bytes
    iv = data[HEADER_BYTES:iv_end]
    end = len(data) - integ.icv_bytes
    body = data[iv_end:end]
    if (len(body) - enc.icv_bytes) % transform.alignment:
        raise EspError("bad-length")
    try:
        if integ.icv_bytes:
            transform.keyed_integrity.verify(data[:end] + icv_suffix, data[end:])
        plaintext = transform.keyed_cipher.decrypt(iv, body, aad)
    except CryptoError:
        raise EspError("icv-failed") from None
    pad_bytes, next_header = plaintext[-2], plaintext[-1]
    payload_end = len(plaintext) - TRAILER_BYTES - pad_bytes
    if payload_end < 0 or plaintext[payload_end:-TRAILER_BYTES] != _PADDING[pad_bytes]:
        raise EspError("bad-padding")
    inner = plaintext[:payload_end]
    return Decapsulated(seq, _strip_tfc(inner, next_header), next_header)


def _strip_tfc(inner: bytes, next_header: int) -> bytes:
    """Cut TFC padding (RFC 4303 §2.7) after an inner IP packet, by its own length field."""
    if next_header == NEXT_HEADER_IPV4:
        if len(inner) < _IPV4_MIN_BYTES or inner[0] >> 4 != 4:
            raise EspError("bad-inner-packet")
        length = int.from_bytes(inner[2:4], "big")
        minimum = _IPV4_MIN_BYTES
    elif next_header == NEXT_HEADER_IPV6:
        if len(inner) < _IPV6_HEADER_BYTES or inner[0] >> 4 != 6:
            raise EspError("bad-inner-packet")
        length = _IPV6_HEADER_BYTES + int.from_bytes(inner[4:6], "big")
        minimum = _IPV6_HEADER_BYTES
    else:
        return bytes(inner)
    if not minimum <= length <= len(inner):
        raise EspError("bad-inner-packet")
    return bytes(inner[:length])


__all__ = [
    "HEADER_BYTES",
    "MAX_PAD_BYTES",
    "NEXT_HEADER_IPV4",
    "NEXT_HEADER_IPV6",
    "NEXT_HEADER_NO_NEXT",
    "TRAILER_BYTES",
    "Decapsulated",
    "EspError",
    "EspKeys",
    "EspTransform",
    "RandomSource",
    "decapsulate",
    "encapsulate",
    "open_esp",
    "peek_spi_seq",
    "seal",
    "tunnel_encapsulate",
]
