"""The state of an ISAKMP SA in main mode (RFC 2409 §5): the states of libreswan's
``v1_state_microcode_table`` naming, and the mutable ``Phase1Sa`` owning one negotiation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from tunnelgate.crypto import dh
from tunnelgate.ike.v1.keymat import Phase1Keys
from tunnelgate.ike.v1.protection import Protection
from tunnelgate.policy.ike import PreSharedKey
from tunnelgate.policy.ike_proposal import Ikev1Choice

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

    @property
    def established(self) -> bool:
        return self in (MainModeState.MAIN_R3, MainModeState.MAIN_I4)


@dataclass(slots=True)
class Phase1Sa:
    """One ISAKMP SA being negotiated or established (the mutable owner of its state)."""

    initiator: bool
    peer: Address
    cookie_i: bytes
    cookie_r: bytes = bytes(COOKIE_BYTES)
    state: MainModeState = MainModeState.MAIN_I1
    psk: PreSharedKey | None = field(default=None, repr=False)
    choice: Ikev1Choice | None = None
    sa_i_body: bytes = b""  # SAi_b: the initiator's SA payload body, for HASH_I / HASH_R
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    public_i: bytes = b""  # g^xi
    public_r: bytes = b""  # g^xr
    private: dh.DhPrivateKey | None = field(default=None, repr=False)
    keys: Phase1Keys | None = field(default=None, repr=False)
    protection: Protection | None = field(default=None, repr=False)
    peer_nat_t: bool = False  # the peer announced RFC 3947 NAT-T (vendor ID)
    nat_detected: bool = False  # NAT-D hashes differ: later, float to UDP 4500 (RFC 3947 §4)
    # reliability: the last datagram each way (a repeat of the peer's is answered with ours)
    last_sent: bytes = b""
    last_received: bytes = b""
    retransmit_at: float | None = None  # initiator only: the peer answers each message
    retransmits: int = 0
    expire_at: float | None = None  # half-open negotiations give up; then the lifetime ends
    established_at: float | None = None

    @property
    def key(self) -> tuple[bytes, str]:
        """How the engine files it: the initiator cookie and the peer's address."""
        return (self.cookie_i, self.peer[0])
