"""The key material a quick mode ends with (RFC 2409 §5.5): the PFS secret g(qm)^xy and the
KEYMAT of both directions, handed out as the IKEv2 ``ChildSaEstablished`` the gateway installs.

Each direction is keyed with the SPI its receiver chose: initiator→responder with the
responder's SPI, responder→initiator with the initiator's; the encryption key comes first in
KEYMAT, the integrity key after it. ``ChildKeys`` lists initiator→responder first.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunnelgate.crypto import dh
from tunnelgate.crypto.errors import CryptoError
from tunnelgate.ike.v1.constants import NotifyMessageType, ProtocolId
from tunnelgate.ike.v1.errors import Phase1Error
from tunnelgate.ike.v1.events import ChildSaEstablished
from tunnelgate.ike.v1.informational import phase1_prf
from tunnelgate.ike.v1.keymat import quick_mode_keymat
from tunnelgate.ike.v1.payloads import KePayload
from tunnelgate.ike.v1.phase2_proposal import esp_keywords, keymat_sizes
from tunnelgate.ike.v1.state import Phase1Sa, QuickMode, RandomSource
from tunnelgate.ike.v2.keymat import ChildKeys

N = NotifyMessageType


def pfs_secret(
    qm: QuickMode, ke: Sequence[KePayload], random: RandomSource, *, generate: bool
) -> bytes | None:
    """Set ``qm.shared`` = g(qm)^xy when the SA has a PFS group (one KE required); returns
    our public value when ``generate`` (the responder's, for QM2)."""
    if qm.group is None:
        if ke:
            raise Phase1Error(N.INVALID_PAYLOAD_TYPE, "KE without a PFS group")
        return None
    if len(ke) != 1:
        raise Phase1Error(N.NO_PROPOSAL_CHOSEN, f"PFS group {qm.group} without one KE")
    group = dh.group(qm.group)
    public = None
    if generate:
        qm.private, public = group.generate(random)
    assert qm.private is not None
    try:
        qm.shared = group.shared_secret(qm.private, ke[0].data)
    except CryptoError as exc:
        raise Phase1Error(N.INVALID_KEY_INFORMATION, str(exc)) from None
    qm.private = None
    return public


def child_established(sa: Phase1Sa, qm: QuickMode) -> ChildSaEstablished:
    """KEYMAT of both directions and the event; files the SA under our inbound SPI."""
    assert sa.keys is not None and qm.offer is not None and qm.entry is not None
    assert qm.selector is not None
    ts = qm.offer.transform_set
    encryption, integrity = esp_keywords(ts)
    e, a = keymat_sizes(ts)
    responder_spi, initiator_spi = (
        (qm.spi_out, qm.spi_in) if qm.initiator else (qm.spi_in, qm.spi_out)
    )
    prf, skeyid_d, esp = phase1_prf(sa), sa.keys.skeyid_d, ProtocolId.PROTO_IPSEC_ESP
    i_to_r, r_to_i = (
        quick_mode_keymat(prf, skeyid_d, esp, spi, qm.nonce_i, qm.nonce_r, e + a, qm.shared)
        for spi in (responder_spi, initiator_spi)
    )
    qm.shared = b""
    event = ChildSaEstablished(
        qm.spi_in,
        qm.spi_out,
        encryption,
        integrity,
        ts.mode,
        qm.selector,
        qm.lifetime_seconds,
        qm.lifetime_kilobytes,
        ChildKeys(i_to_r[:e], i_to_r[e:], r_to_i[:e], r_to_i[e:]),
        qm.initiator,
        qm.entry.label,
        peer=sa.peer,
        udp_encapsulation=sa.nat_detected or qm.offer.udp_encapsulated,
        ike_spi_i=sa.cookie_i,
        ike_spi_r=sa.cookie_r,
        local_address=sa.local_address or ("", 0),
    )
    sa.children[qm.spi_in] = event
    return event


__all__ = ["child_established", "pfs_secret"]
