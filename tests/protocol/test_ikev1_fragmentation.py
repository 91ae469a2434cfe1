"""IKEv1 fragmentation (the Cisco extension strongSwan speaks) between two engines on a fake
network. The fragment size is lowered (``fragment_mtu``) so that the pre-shared-key exchange
already has messages too long for it; certificate chains do the same at 576.

Timeline (main mode, HQ initiates; every message after MM1 is cut into fragments):

    HQ  --- MM1 SA VID(FRAGMENTATION) ------------> branch   (the peer is not known yet)
    HQ  <-- MM2 SA VID(FRAGMENTATION), as F1..Fn --- branch   (HQ announced it: both have)
    HQ  --- MM3 KE Ni NAT-D, as F1..Fn ------------> branch
    HQ  <-- MM4 KE Nr NAT-D, as F1..Fn ------------- branch
    HQ  --- MM5 *{IDii HASH_I}: its ciphertext, F1..Fn -> branch
    HQ  <-- MM6 *{IDir HASH_R}, F1..Fn ------------- branch

Each F is an unencrypted ISAKMP message (cookies, exchange type main mode, message ID 0)
with one fragment payload (type 132) holding a slice of the whole encoded datagram.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import load
from tests.protocol.network import Address, FakeClock, FakeNetwork, Rule, SeededRandom, Sent
from tests.unit.tools.test_analyze import BRANCH, HQ, gateway_text
from tunnelgate.config.compile import compile_config
from tunnelgate.ike.v1 import decode_envelope, decode_message, encode_message
from tunnelgate.ike.v1.constants import ExchangeType, HeaderFlag, PayloadType
from tunnelgate.ike.v1.engine import Ikev1Engine
from tunnelgate.ike.v1.events import Ikev1Event, Ikev1SaEstablished
from tunnelgate.ike.v1.fragmentation import (
    FRAGMENTATION_VID,
    MAX_FRAGMENTS,
    Held,
    Outgoing,
    Reassembled,
    Reassembler,
    announces_fragmentation,
    fragment_datagrams,
    max_message_size,
)
from tunnelgate.ike.v1.message import Header, Message
from tunnelgate.ike.v1.payloads import FragmentPayload, NoncePayload, VidPayload
from tunnelgate.ike.v1.state import MainModeState

HQ_ADDR, BRANCH_ADDR = ("203.0.113.1", 500), ("198.51.100.2", 500)
SMALL_MTU = 100  # 72-octet IKE messages: MM2..MM6 all need fragments
AGGRESSIVE = {"map_extra": "crypto map M 10 set ikev1 phase1-mode aggressive\n"}
COOKIE_I, COOKIE_R = bytes.fromhex("0102030405060708"), bytes.fromhex("1112131415161718")


# ---------------------------------------------------------------- helpers


class LegacyPeer:
    """An engine whose peer-facing messages lose the FRAGMENTATION vendor ID, as from an
    implementation without the extension (no hash of phase 1 covers vendor IDs)."""

    def __init__(self, engine: Ikev1Engine) -> None:
        self.engine = engine

    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        self.engine.receive_datagram(data, addr, now)

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Address]]:
        return [(_strip_vid(d), a) for d, a in self.engine.datagrams_to_send(now)]

    def get_timer(self) -> float | None:
        return self.engine.get_timer()

    def handle_timer(self, now: float) -> None:
        self.engine.handle_timer(now)


def _strip_vid(data: bytes) -> bytes:
    if decode_envelope(data).header.is_encrypted:
        return data
    message = decode_message(data)
    kept = tuple(p for p in message.payloads if p != VidPayload(FRAGMENTATION_VID))
    return encode_message(Message(message.header, kept))


def setup(
    *,
    mtu: int | None = SMALL_MTU,
    legacy_hq: bool = False,
    hq: dict[str, str] | None = None,
    **net: object,
) -> tuple[FakeNetwork, Ikev1Engine, Ikev1Engine]:
    engines = []
    for side, over, seed in ((HQ, hq or {}, 1), (BRANCH, {}, 2)):
        policy = compile_config(load(gateway_text(side, **over)))
        engines.append(Ikev1Engine(policy, "outside", SeededRandom(seed), fragment_mtu=mtu))
    network = FakeNetwork(FakeClock(), **net)  # type: ignore[arg-type]
    network.attach(HQ_ADDR, LegacyPeer(engines[0]) if legacy_hq else engines[0], 4500)
    network.attach(BRANCH_ADDR, engines[1], 4500)
    return network, engines[0], engines[1]


def initiate(network: FakeNetwork, engine: Ikev1Engine) -> None:
    entry = engine.gateway.crypto_maps["outside"].entries[0]
    assert entry.acl is not None
    engine.initiate(entry, entry.acl.permits[0], network.clock.now)


def established(engine: Ikev1Engine) -> list[Ikev1SaEstablished]:
    out: list[Ikev1Event] = []
    while (event := engine.next_event()) is not None:
        out.append(event)
    return [e for e in out if isinstance(e, Ikev1SaEstablished)]


def is_fragment(sent: Sent) -> bool:
    return decode_envelope(sent.data).first_payload == PayloadType.FRAGMENT


def fragment_of(sent: Sent) -> FragmentPayload:
    found = decode_message(sent.data).find(FragmentPayload)
    assert found is not None
    return found


def phase1(network: FakeNetwork) -> list[Sent]:
    """Phase-1 datagrams (main or aggressive mode, fragments included)."""
    kinds = (ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE)
    return [s for s in network.log if decode_envelope(s.data).header.exchange_type in kinds]


def fragment_drops(engine: Ikev1Engine) -> Counter[str]:
    return Counter({k: v for k, v in engine.drops.items() if not k.startswith("fragment-held")})


# ---------------------------------------------------------------- wire format


def test_fragment_payload_encoding_is_strongswans_layout() -> None:
    """fragment_payload.c: next payload, reserved, length; fragment ID (2), number (1),
    flags (1, LAST_FRAGMENT = 0x01); data. The datagram: the ISAKMP header with next payload
    132, exchange type main mode, no flags, message ID 0."""
    header = Header(COOKIE_I, COOKIE_R, ExchangeType.MAIN_MODE)
    data = encode_message(Message(header, (FragmentPayload(1, 2, FragmentPayload.LAST, b"abc"),)))
    assert data.hex() == (
        "0102030405060708" "1112131415161718"  # cookies
        "84" "10" "02" "00" "00000000" "00000027"  # next 132, v1.0, MM, flags, M-ID, length 39
        "00" "00" "000b"  # next payload none, reserved, payload length 8 + 3
        "0001" "02" "01"  # fragment ID 1, number 2, LAST
        "616263"
    )  # fmt: skip
    assert decode_message(data).payloads == (FragmentPayload(1, 2, 1, b"abc"),)


def test_vendor_id_is_ciscos_with_the_ike_capability_word() -> None:
    """isakmp_vendor.c "FRAGMENTATION": 16 octets of the Cisco ID, then 0x80000000."""
    assert FRAGMENTATION_VID.hex() == "4048b7d56ebce88525e7de7f00d6c2d380000000"
    bare = FRAGMENTATION_VID[:16]
    assert announces_fragmentation([VidPayload(FRAGMENTATION_VID)])
    assert announces_fragmentation([VidPayload(bare)])  # Windows sends it without the word
    assert announces_fragmentation([VidPayload(bare + bytes.fromhex("c0000000"))])  # Cisco
    assert not announces_fragmentation([VidPayload(bare + bytes.fromhex("40000000"))])
    assert not announces_fragmentation([VidPayload(bare + b"\x80")])
    assert not announces_fragmentation([NoncePayload(FRAGMENTATION_VID)])


def test_fragment_datagrams_slice_the_whole_datagram() -> None:
    whole = encode_message(
        Message(
            Header(COOKIE_I, COOKIE_R, ExchangeType.QUICK_MODE, message_id=7),
            (NoncePayload(bytes(range(200))),),
        )
    )
    limit = max_message_size(200, 500)  # 172 octets: 136 of data per fragment
    assert max_message_size(200, 4500) == limit - 4  # the non-ESP marker
    datagrams = fragment_datagrams(whole, 5, limit)
    assert len(datagrams) == 2 and all(len(d) <= limit for d in datagrams)
    messages = [decode_message(d) for d in datagrams]
    for message in messages:
        # strongSwan: always the phase-1 exchange type and message ID 0, never encrypted
        assert message.header == Header(COOKIE_I, COOKIE_R, ExchangeType.MAIN_MODE)
    fragments = [m.find(FragmentPayload) for m in messages]
    assert [(f.fragment_id, f.number, f.flags) for f in fragments if f] == [(5, 1, 0), (5, 2, 1)]
    assert b"".join(f.data for f in fragments if f) == whole


def test_outgoing_repeats_the_same_fragments_and_counts_ids() -> None:
    outgoing = Outgoing()
    big = encode_message(Message(Header(COOKIE_I, COOKIE_R, 2), (NoncePayload(bytes(200)),)))
    assert outgoing.datagrams_for(b"x" * 50, 100) == [b"x" * 50]
    first = outgoing.datagrams_for(big, 100)
    assert outgoing.datagrams_for(big, 100) == first  # a retransmission
    assert fragment_of_bytes(first[0]).fragment_id == 1
    other = encode_message(Message(Header(COOKIE_I, COOKIE_R, 2), (NoncePayload(bytes(201)),)))
    assert fragment_of_bytes(outgoing.datagrams_for(other, 100)[0]).fragment_id == 2


def fragment_of_bytes(data: bytes) -> FragmentPayload:
    found = decode_message(data).find(FragmentPayload)
    assert found is not None
    return found


# ---------------------------------------------------------------- reassembly


KEY = ("198.51.100.2", COOKIE_I, COOKIE_R)


def pieces(count: int, fragment_id: int = 1) -> list[FragmentPayload]:
    return [
        FragmentPayload(fragment_id, n, FragmentPayload.LAST if n == count else 0, bytes([n]) * 3)
        for n in range(1, count + 1)
    ]


def test_reassembly_takes_fragments_in_any_order_and_ignores_duplicates() -> None:
    r = Reassembler()
    f1, f2, f3 = pieces(3)
    assert r.add(KEY, f3, 0.0) == Held("fragment-held")
    assert r.add(KEY, f1, 0.0) == Held("fragment-held")
    assert r.add(KEY, f1, 0.0) == Held("fragment-duplicate")
    assert r.add(KEY, f2, 0.0) == Reassembled(b"\1\1\1\2\2\2\3\3\3")
    # the peer retransmits: the repeats are known; its last gives the message again
    assert r.add(KEY, f1, 1.0) == Held("fragment-duplicate")
    assert r.add(KEY, f3, 1.0) == Reassembled(b"\1\1\1\2\2\2\3\3\3")


def test_reassembly_bounds_its_memory() -> None:
    r = Reassembler(max_message_bytes=8, max_reassemblies=2, timeout_s=30.0)
    assert r.add(KEY, FragmentPayload(1, MAX_FRAGMENTS + 1, 0, b"x"), 0.0) == Held(
        "fragment-too-many"
    )
    f1, f2, f3 = pieces(3)
    r.add(KEY, f1, 0.0)
    r.add(KEY, f2, 0.0)
    assert r.add(KEY, f3, 0.0) == Held("fragment-too-large") and KEY not in r.buffers
    # at most two messages at once: the oldest goes
    for n in range(3):
        r.add(("192.0.2.1", bytes([n]) * 8, COOKIE_R), f1, 1.0)
    assert len(r.buffers) == 2 and ("192.0.2.1", bytes(8), COOKIE_R) not in r.buffers
    # unfinished messages are forgotten after the timeout
    r.add(KEY, f1, 100.0)
    assert list(r.buffers) == [KEY]
    assert r.expired >= 3


def test_reassembly_refuses_inconsistent_last_fragments_and_follows_a_new_id() -> None:
    r = Reassembler()
    f1, _, f3 = pieces(3)
    r.add(KEY, f3, 0.0)
    assert r.add(KEY, FragmentPayload(1, 2, FragmentPayload.LAST, b"z"), 0.0) == Held(
        "fragment-inconsistent"
    )
    assert KEY not in r.buffers  # the message is given up
    r.add(KEY, f3, 0.0)
    assert r.add(KEY, FragmentPayload(1, 5, 0, b"z"), 0.0) == Held("fragment-inconsistent")
    # a new fragment ID replaces the unfinished message (strongSwan's rule)
    r.add(KEY, f1, 0.0)
    g1, g2 = pieces(2, fragment_id=2)
    r.add(KEY, g2, 0.0)
    assert r.add(KEY, g1, 0.0) == Reassembled(b"\1\1\1\2\2\2")


# ---------------------------------------------------------------- exchanges


def test_main_mode_is_fragmented_both_ways_and_completes() -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=5)
    (h,), (b,) = established(hq), established(branch)
    assert (h.cookie_i, h.cookie_r) == (b.cookie_i, b.cookie_r)
    (sa_h,), (sa_b,) = hq.sas.values(), branch.sas.values()
    assert sa_h.state is MainModeState.MAIN_I4 and sa_b.state is MainModeState.MAIN_R3
    log = phase1(network)
    mm1 = decode_message(log[0].data)  # not fragmented: HQ does not know the peer yet
    assert VidPayload(FRAGMENTATION_VID) in mm1.payloads
    rest = log[1:]
    assert all(is_fragment(s) for s in rest)
    assert all(len(s.data) <= max_message_size(SMALL_MTU, 500) for s in rest)
    senders = {s.source for s in rest}
    assert senders == {HQ_ADDR, BRANCH_ADDR}
    # MM5/MM6 are encrypted: their fragments are not, they carry the ciphertext
    assert not any(decode_envelope(s.data).header.flags & HeaderFlag.ENCRYPTION for s in rest)
    assert all(s.fate == "delivered" for s in network.log)
    assert not fragment_drops(hq) and not fragment_drops(branch)
    assert hq.drops["fragment-held"] > 0 and branch.drops["fragment-held"] > 0


def test_the_answer_carries_the_vendor_id_only_for_a_peer_that_sent_it() -> None:
    network, hq, branch = setup(legacy_hq=True)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(hq) and established(branch)
    log = phase1(network)
    assert not any(is_fragment(s) for s in log)  # too long, but the peer has no fragments
    assert any(len(s.data) > max_message_size(SMALL_MTU, 500) for s in log)
    mm2 = decode_message(log[1].data)
    assert VidPayload(FRAGMENTATION_VID) not in mm2.payloads
    assert not hq.fragmenting and not branch.fragmenting


def test_nothing_is_fragmented_when_the_messages_fit() -> None:
    network, hq, branch = setup(mtu=None)  # 576: the pre-shared-key messages fit
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(hq) and established(branch)
    assert not any(is_fragment(s) for s in network.log)
    mm2 = decode_message(phase1(network)[1].data)
    assert VidPayload(FRAGMENTATION_VID) in mm2.payloads  # both announced it all the same


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_reordered_and_duplicated_fragments_still_complete(seed: int) -> None:
    network, hq, branch = setup(seed=seed, reorder=True, duplication=0.3)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(hq) and established(branch)
    assert any(s.fate == "duplicated" and is_fragment(s) for s in network.log)


def _drop_first(source: Address, number: int, skip: int = 0) -> Rule:
    """A rule dropping, once, the fragment ``number`` of the ``skip``-th fragmented message
    that ``source`` sends."""
    seen: list[int] = []
    done: list[int] = []

    def rule(index: int, src: Address, dst: Address, data: bytes) -> str | None:
        if src != source or decode_envelope(data).first_payload != PayloadType.FRAGMENT:
            return None
        fragment = fragment_of_bytes(data)
        if fragment.number == 1:
            seen.append(index)
        if len(seen) == skip + 1 and fragment.number == number and not done:
            done.append(index)
            return "dropped"
        return None

    return rule


@pytest.mark.parametrize(
    ("source", "number", "skip"),
    [(HQ_ADDR, 2, 0), (HQ_ADDR, 1, 1), (BRANCH_ADDR, 2, 1), (BRANCH_ADDR, 1, 2)],
    ids=["MM3-fragment-2", "MM5-fragment-1", "MM4-fragment-2", "MM6-fragment-1"],
)
def test_a_lost_fragment_is_made_good_by_the_retransmission(
    source: Address, number: int, skip: int
) -> None:
    network, hq, branch = setup(rules=[_drop_first(source, number, skip)])
    start = network.clock.now
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(hq) and established(branch)
    assert network.clock.now == start + 1.0  # one retransmission timeout
    dropped = [s for s in network.log if s.fate == "dropped"]
    assert len(dropped) == 1 and is_fragment(dropped[0])
    # the retransmission resent every fragment of the message, byte for byte
    resent = [s for s in network.log if s.data == dropped[0].data]
    assert len(resent) == 2 and resent[1].fate == "delivered"


def test_aggressive_mode_is_fragmented_and_completes() -> None:
    network, hq, branch = setup(hq=AGGRESSIVE)
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(hq) and established(branch)
    log = phase1(network)
    am2 = [s for s in log if s.source == BRANCH_ADDR]
    assert am2 and all(is_fragment(s) for s in am2)
    for sent in am2:
        assert decode_envelope(sent.data).header.exchange_type == ExchangeType.AGGRESSIVE


# ---------------------------------------------------------------- bad input


def test_fragments_of_unknown_sas_and_malformed_wholes_are_dropped() -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=5)
    assert established(branch)
    sa = next(iter(branch.sas.values()))
    now = network.clock.now
    header = Header(b"\xee" * 8, b"\xdd" * 8, ExchangeType.MAIN_MODE)
    foreign = encode_message(Message(header, (FragmentPayload(1, 1, FragmentPayload.LAST, b"x"),)))
    branch.receive_datagram(foreign, HQ_ADDR, now)
    assert branch.drops["fragment-unknown-cookie"] == 1
    # a whole that is not an ISAKMP message of this SA
    own = Header(sa.cookie_i, sa.cookie_r, ExchangeType.MAIN_MODE)
    bogus = FragmentPayload(9, 1, FragmentPayload.LAST, b"\x00" * 40)
    branch.receive_datagram(encode_message(Message(own, (bogus,))), HQ_ADDR, now)
    assert branch.drops["fragment-mismatch"] == 1
    # two payloads: not a fragment message
    two = (FragmentPayload(9, 1, 0, b"a"), FragmentPayload(9, 2, 1, b"b"))
    branch.receive_datagram(encode_message(Message(own, two)), HQ_ADDR, now)
    assert branch.drops["fragment-malformed"] == 1
    assert len(branch.sas) == 1


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["sa", "zero", "random"]),
            st.integers(0, 3),  # fragment ID
            st.integers(1, 255),  # number
            st.integers(0, 255),  # flags
            st.binary(max_size=120),
            st.booleans(),  # Encryption flag set (as racoon does)
        ),
        max_size=25,
    )
)
def test_random_fragments_never_raise_and_are_counted(
    items: list[tuple[str, int, int, int, bytes, bool]],
) -> None:
    network, hq, branch = setup()
    initiate(network, hq)
    network.run(max_seconds=5)
    sa = next(iter(branch.sas.values()))
    cookies = {
        "sa": (sa.cookie_i, sa.cookie_r),
        "zero": (sa.cookie_i[::-1], bytes(8)),
        "random": (b"\x42" * 8, b"\x24" * 8),
    }
    for kind, fragment_id, number, flags, data, encrypted in items:
        cookie_i, cookie_r = cookies[kind]
        header = Header(cookie_i, cookie_r, ExchangeType.MAIN_MODE)
        datagram = bytearray(
            encode_message(Message(header, (FragmentPayload(fragment_id, number, flags, data),)))
        )
        if encrypted:
            datagram[19] |= HeaderFlag.ENCRYPTION
        before = sum(branch.drops.values())
        branch.receive_datagram(bytes(datagram), HQ_ADDR, network.clock.now)
        assert sum(branch.drops.values()) > before  # every one is counted somewhere
    assert len(branch.reassembly.buffers) <= branch.reassembly.max_reassemblies
    assert all(b.size <= 32768 for b in branch.reassembly.buffers.values())
