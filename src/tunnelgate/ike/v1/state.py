"""The state of an ISAKMP SA in main or aggressive mode (RFC 2409 §5): the states of
libreswan's ``v1_state_microcode_table`` naming, and the mutable ``Phase1Sa`` owning one
negotiation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from cryptography import x509

from tunnelgate.crypto import dh
from tunnelgate.ike.v1.keymat import Phase1Keys
from tunnelgate.ike.v1.phase2_proposal import EspOffer
from tunnelgate.ike.v1.proposals import SaPayload
from tunnelgate.ike.v1.protection import Protection
from tunnelgate.ike.v2.events import ChildSaEstablished
from tunnelgate.pki.credentials import LocalCredential
from tunnelgate.policy.acl import Rule
from tunnelgate.policy.crypto_map import MapEntry
from tunnelgate.policy.ike import Ikev1Policy, PreSharedKey
from tunnelgate.policy.ike_proposal import Ikev1Choice
from tunnelgate.policy.selector import Selector

Address = tuple[str, int]
RandomSource = Callable[[int], bytes]
NONCE_BYTES = 32
COOKIE_BYTES = 8


class MainModeState(Enum):
    """Where a main-mode negotiation stands (I: initiator, R: responder; the number counts
    the messages this side has sent, as in libreswan's STATE_MAIN_*)."""

    MAIN_R0 = "MAIN_R0"  # nothing yet: expecting MM1 (never stored; the table's entry state)
    MAIN_I1 = "MAIN_I1"  # sent MM1 SA, expecting MM2
    MAIN_R1 = "MAIN_R1"  # sent MM2 SA, expecting MM3
    MAIN_I2 = "MAIN_I2"  # sent MM3 KE Ni, expecting MM4
    MAIN_R2 = "MAIN_R2"  # sent MM4 KE Nr, expecting MM5
    MAIN_I3 = "MAIN_I3"  # sent MM5 {IDii HASH_I}, expecting MM6
    MAIN_R3 = "MAIN_R3"  # sent MM6 {IDir HASH_R}: established
    MAIN_I4 = "MAIN_I4"  # received MM6: established
    # aggressive mode (RFC 2409 §5.4), libreswan's STATE_AGGR_*
    AGGR_R0 = "AGGR_R0"  # expecting AM1 (the table's entry state, never stored)
    AGGR_I1 = "AGGR_I1"  # sent AM1 SA KE Ni IDii, expecting AM2
    AGGR_R1 = "AGGR_R1"  # sent AM2 SA KE Nr IDir HASH_R, expecting AM3
    AGGR_I2 = "AGGR_I2"  # sent AM3 HASH_I: established
    AGGR_R2 = "AGGR_R2"  # received AM3: established

    @property
    def established(self) -> bool:
        return self in _ESTABLISHED

    @property
    def aggressive(self) -> bool:
        return self.value.startswith("AGGR")

    @property
    def mode_name(self) -> str:
        return "aggressive mode" if self.aggressive else "main mode"


_ESTABLISHED = frozenset(
    {MainModeState.MAIN_R3, MainModeState.MAIN_I4, MainModeState.AGGR_I2, MainModeState.AGGR_R2}
)


class QuickModeState(Enum):
    """Where a quick mode stands (libreswan's STATE_QUICK_*; the number counts the messages
    this side has sent)."""

    QUICK_R0 = "QUICK_R0"  # expecting QM1 (the table's entry state, never stored)
    QUICK_I1 = "QUICK_I1"  # sent QM1 HASH(1) SA Ni [KE] [IDci IDcr], expecting QM2
    QUICK_R1 = "QUICK_R1"  # sent QM2 HASH(2) SA Nr [KE] [IDci IDcr], expecting QM3
    QUICK_I2 = "QUICK_I2"  # sent QM3 HASH(3): established
    QUICK_I2C = "QUICK_I2C"  # sent QM3 to a QM2 with the Commit flag: waiting for CONNECTED
    QUICK_R2 = "QUICK_R2"  # received QM3: established


@dataclass(slots=True)
class QuickMode:
    """One quick mode (RFC 2409 §5.5) of an ISAKMP SA, filed by its message ID."""

    initiator: bool
    message_id: int
    state: QuickModeState
    entry: MapEntry | None = None
    selector: Selector | None = None  # our view: source = our side
    spi_in: bytes = b""  # ours: the peer sends with it
    spi_out: bytes = b""
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    group: int | None = None  # PFS
    private: dh.DhPrivateKey | None = field(default=None, repr=False)
    shared: bytes = field(default=b"", repr=False)  # g(qm)^xy
    offered: SaPayload | None = None  # the initiator's SA payload, to check the answer
    offer: EspOffer | None = None  # the chosen transform
    lifetime_seconds: int = 0
    lifetime_kilobytes: int | None = None
    last_sent: bytes = b""
    last_received: bytes = b""
    retransmit_at: float | None = None  # QM1 and QM2 are repeated until answered
    retransmits: int = 0
    commit: bool = False  # the Commit flag (RFC 2408 §3.1): CONNECTED follows QM3


@dataclass(slots=True)
class Phase1Sa:
    """One ISAKMP SA being negotiated or established (the mutable owner of its state)."""

    initiator: bool
    peer: Address
    cookie_i: bytes
    cookie_r: bytes = bytes(COOKIE_BYTES)
    state: MainModeState = MainModeState.MAIN_I1
    psk: PreSharedKey | None = field(default=None, repr=False)
    # our address it uses (one of the engine's ``addresses``, the peer's family): NAT-D, our
    # ID when it is the address, quick-mode host selectors, the fragment MTU (D115); None:
    # the engine's ``address``
    local_address: Address | None = None
    choice: Ikev1Choice | None = None
    sa_i_body: bytes = b""  # SAi_b: the initiator's SA payload body, for HASH_I / HASH_R
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    public_i: bytes = b""  # g^xi
    public_r: bytes = b""  # g^xr
    private: dh.DhPrivateKey | None = field(default=None, repr=False)
    keys: Phase1Keys | None = field(default=None, repr=False)
    protection: Protection | None = field(default=None, repr=False)
    peer_nat_t: bool = False  # the peer announced NAT-T (RFC 3947 or a draft vendor ID)
    nat_t_draft: bool = False  # ... only a draft one: NAT-D type 130, modes 61443/61444
    nat_detected: bool = False  # NAT-D hashes differ: IKE floats to UDP 4500 (RFC 3947 §4)
    # reliability: the last datagram each way (a repeat of the peer's is answered with ours)
    last_sent: bytes = b""
    last_received: bytes = b""
    retransmit_at: float | None = None  # initiator only: the peer answers each message
    retransmits: int = 0
    expire_at: float | None = None  # half-open negotiations give up; then the lifetime ends
    established_at: float | None = None
    # phase 2 and informational exchanges
    waiting: list[tuple[MapEntry, Rule]] = field(default_factory=list)  # quick modes to start
    quick: dict[int, QuickMode] = field(default_factory=dict)  # by message ID
    children: dict[bytes, ChildSaEstablished] = field(default_factory=dict)  # by our SPI
    peer_dpd: bool = False  # the peer announced RFC 3706 DPD (vendor ID)
    keepalive: tuple[int, int] | None = None  # (threshold, retry) of the tunnel group
    last_heard: float = 0.0  # the last authenticated message from the peer
    dpd_at: float | None = None
    dpd_seq: int = 0  # the R-U-THERE sequence number last sent
    dpd_waiting: bool = False
    dpd_retries: int = 0
    # aggressive mode and rekeying
    peer_id: str | None = None  # aggressive-mode responder: IDii, which found the group
    peer_id_body: bytes = b""  # ... and IDii_b, for HASH_I
    origin: Address | None = None  # where the first message came from / went (NAT-D of AM3)
    rekey_at: float | None = None  # initiator: 85-95 % of the lifetime, a new phase 1 starts
    replaces: tuple[bytes, str] | None = None  # a rekey: the key of the SA it replaces
    # certificate authentication (RFC 2409 §5.1, RFC 4754)
    auth_method: int = 0  # the negotiated method: 1 PSK, 3 RSA, 9/10/11 ECDSA
    offered: tuple[Ikev1Policy, ...] = ()  # initiator: the policies it can authenticate
    signature_method: int = 3  # initiator: what its rsa-sig policies offer (its key's)
    local: LocalCredential | None = field(default=None, repr=False)  # what we sign with
    peer_certificate: x509.Certificate | None = field(default=None, repr=False)
    peer_identity: str | None = None  # the peer's ID (main mode with certificates), as text
    tunnel_group: str | None = None  # the group it authenticated under (certificates)

    @property
    def signatures(self) -> bool:
        """Authenticated with signatures (``rsa-sig``) rather than a pre-shared key."""
        return self.choice is not None and self.choice.authentication == "rsa-sig"

    @property
    def key(self) -> tuple[bytes, str]:
        """How the engine files it: the initiator cookie and the peer's address."""
        return (self.cookie_i, self.peer[0])


def local_of(sa: Phase1Sa, default: Address) -> Address:
    """The local address ``sa`` uses (``default``, the engine's primary address, for an SA
    made without one)."""
    return sa.local_address or default
