"""The state of IKEv2 SAs (RFC 7296 §2.1-2.3, §2.8, §2.17): the mutable ``IkeSa`` that owns
an IKE SA's negotiation, keys, message IDs and children, the established ``Child`` SAs, the
``Pending`` request of an established SA (window size 1), and the algorithms of a proposal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from tunnelgate.crypto import dh
from tunnelgate.crypto.cipher import EncryptionAlgorithm
from tunnelgate.crypto.integrity import Integrity
from tunnelgate.crypto.prf import Prf
from tunnelgate.crypto.registry import Kind, encryption, integrity_algorithm, prf_algorithm
from tunnelgate.ike.v2.keymat import IkeKeys
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.ike import PreSharedKey, TunnelGroup
from tunnelgate.policy.ike_proposal import Ikev2Choice
from tunnelgate.policy.selector import Selector

Address = tuple[str, int]
RandomSource = Callable[[int], bytes]
NONCE_BYTES = 32
NAT_T_PORT = 4500
# shared empty values: most SAs never hold anything else there (a dict or list per SA
# would cost 60-220 bytes each, times 20,000 tunnels: issue 8)
NO_HASHES: frozenset[int] = frozenset()
_NO_RESPONSES: Mapping[int, list[bytes]] = MappingProxyType({})
# RFC 7427 hash algorithm ids 1-8 (SHA1 .. Streebog-512): the sets of them are shared
_HASH_IDS = frozenset(range(1, 9))
_HASH_SETS: dict[frozenset[int], frozenset[int]] = {NO_HASHES: NO_HASHES}


def shared_hashes(hashes: frozenset[int]) -> frozenset[int]:
    """One object per distinct set of the registered hash ids (at most 256 of them), so
    20,000 SAs with peers announcing the same algorithms hold one frozenset, not 20,000.
    Sets with other values (the peer chooses them) stay the SA's own."""
    if not hashes <= _HASH_IDS:
        return hashes
    return _HASH_SETS.setdefault(hashes, hashes)


@dataclass(frozen=True, slots=True)
class _Algorithms:
    """The implementations behind a chosen IKE proposal."""

    prf: Prf
    encryption: EncryptionAlgorithm
    integrity: Integrity

    @classmethod
    def of(cls, c: Ikev2Choice) -> _Algorithms:
        key = (c.prf, c.encryption, c.integrity)
        found = _ALGORITHMS.get(key)
        if found is None:  # registry look-ups once per keyword triple, not per message
            found = cls(
                prf_algorithm(Kind.IKEV2_PRF, c.prf),
                encryption(Kind.IKEV2_ENCRYPTION, c.encryption),
                integrity_algorithm(Kind.IKEV2_INTEGRITY, c.integrity),
            )
            _ALGORITHMS[key] = found
        return found


_ALGORITHMS: dict[tuple[str, str, str], _Algorithms] = {}


@dataclass(slots=True)
class Child:
    """An established child SA, by the SPI we receive on."""

    spi_in: bytes
    spi_out: bytes
    encryption: str
    integrity: str
    mode: str
    selector: Selector  # source = our side
    entry: MapEntry
    rekey_at: float | None = None  # 85-95 % of the lifetime (jitter from the random source)
    expire_at: float | None = None  # the hard lifetime
    # the peer rekeyed this child while our own rekey of it was outstanding (RFC 7296
    # §2.8.1): the nonces of the peer's exchange (Ni, Nr), to find the redundant new SA
    collision: tuple[bytes, bytes] | None = None
    # we asked the peer to delete it (after our rekey of it, or as the redundant SA of a
    # collision): a request to rekey it gets TEMPORARY_FAILURE (RFC 7296 §2.8.1)
    closing: bool = False
    invalid_selectors_sent_at: float | None = None  # rate limit: one per SA per 5 s


@dataclass(slots=True)
class Pending:
    """What our outstanding request is for (one at a time: window size 1)."""

    kind: str  # new-child | rekey-child | rekey-ike | delete-child | delete-ike | liveness
    child: Child | None = None
    new_spi: bytes = b""
    nonce: bytes = b""
    group: int | None = None
    private: dh.DhPrivateKey | None = field(default=None, repr=False)


@dataclass(slots=True)
class IkeSa:
    """One IKE SA being negotiated or established (the mutable owner of its state)."""

    initiator: bool
    peer: Address
    spi_i: bytes
    spi_r: bytes = bytes(8)
    state: str = "init"  # init | auth | established | failed
    # our address it uses (one of the engine's ``addresses``, the peer's family): NAT-D, the
    # identity when it is the address, the fragmentation MTU; None: the engine's ``address``
    local_address: Address | None = None
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    group: int = 0
    private: dh.DhPrivateKey | None = None
    public: bytes = b""  # initiator: our KE data, sent again unchanged after a COOKIE
    choice: Ikev2Choice | None = None
    keys: IkeKeys | None = field(default=None, repr=False)
    init_request: bytes = b""
    init_response: bytes = b""
    cookie: bytes = b""
    cookie_rounds: int = 0  # COOKIE challenges followed (ike_sa_init.MAX_COOKIE_ROUNDS)
    nat_detected: bool = False  # NAT-D hashes did not match: IKE moves to UDP 4500
    # initiator's child request
    entry: MapEntry | None = None
    selector: Selector | None = None
    child_spi: bytes = b""
    local_psk: PreSharedKey | None = field(default=None, repr=False)
    remote_psk: PreSharedKey | None = field(default=None, repr=False)
    tunnel_group: TunnelGroup | None = field(default=None, repr=False)  # initiator: the peer's
    # the hash algorithms the peer announced in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4)
    peer_hashes: frozenset[int] = NO_HASHES
    # reliability
    next_message_id: int = 0
    last_request: Sequence[bytes] = ()  # one datagram per fragment (replaced, not appended to)
    retransmit_at: float | None = None
    retransmits: int = 0
    # message id -> datagrams (replaced by a dict of the latest response, not mutated)
    responses: Mapping[int, list[bytes]] = field(default_factory=lambda: _NO_RESPONSES)
    fragmentation: bool = False  # both announced IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383)
    # reassembly (RFC 7383 §2.6): dicts made when the first fragment comes (``fragments``)
    held_fragments: dict[int, dict[int, bytes]] | None = field(default=None, repr=False)
    held_fragment_first: dict[int, int] | None = field(default=None, repr=False)
    expected_request_id: int = 0  # the next request id the peer may send
    pending: Pending | None = None
    children: dict[bytes, Child] = field(default_factory=dict)  # by our inbound SPI
    dpd_at: float | None = None  # next liveness check (tunnel-group isakmp keepalive)
    half_open_until: float | None = None  # responder: forgotten unless IKE_AUTH comes by then
    rekey_at: float | None = None  # IKE SA rekey, 85-95 % of the policy lifetime
    # the peer rekeyed this IKE SA while our own rekey of it was outstanding (RFC 7296
    # §2.8.2): the SA its exchange made, and that exchange's nonces (Ni, Nr)
    collision: tuple[IkeSa, bytes, bytes] | None = None
    dpd_interval: float | None = None
    serial: int = 0  # order of insertion into the engine's table (timers run in this order)

    @property
    def key(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    @property
    def fragments(self) -> dict[int, dict[int, bytes]]:
        """Fragments held for reassembly: message id -> fragment number -> plaintext."""
        held = self.held_fragments
        if held is None:
            held = self.held_fragments = {}
        return held

    @property
    def fragment_first(self) -> dict[int, int]:
        """Message id -> the first-payload type its fragment 1 carried."""
        first = self.held_fragment_first
        if first is None:
            first = self.held_fragment_first = {}
        return first

    def next_deadline(self) -> float | None:
        """The earliest of this SA's timers and its children's (None: no timer)."""
        due = self.retransmit_at
        for t in (self.dpd_at, self.rekey_at, self.half_open_until):
            if t is not None and (due is None or t < due):
                due = t
        for child in self.children.values():
            for t in (child.rekey_at, child.expire_at):
                if t is not None and (due is None or t < due):
                    due = t
        return due
