"""RFC 4303 §3.4.3 anti-replay window: table cases and a property against a reference set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tunnelgate.esp.replay import SEQ_MAX, ReplayWindow


def window_after(*accepted: int, size: int = 64) -> ReplayWindow:
    window = ReplayWindow(size)
    for seq in accepted:
        assert window.commit(seq)
    return window


# (accepted before, size, candidate, expected check) — highest is max(accepted)
CASES = [
    ((), 64, 0, False),  # 0 is never sent
    ((), 64, 1, True),
    ((), 64, SEQ_MAX, True),  # first packet may be anywhere ahead
    ((5,), 64, 5, False),  # duplicate of highest
    ((5, 3), 64, 3, False),  # duplicate inside the window
    ((5,), 64, 4, True),  # late but new
    ((5,), 64, 6, True),  # next
    ((100,), 64, 37, True),  # highest - 63: the window's last slot
    ((100,), 64, 36, False),  # highest - 64: just behind the window
    ((100, 37), 64, 37, False),
    ((1000,), 1024, 1, True),  # offset 999, unseen: inside a 1024 window
    ((2000,), 1024, 977, True),  # offset 1023: last slot of a 1024 window
    ((2000,), 1024, 976, False),  # offset 1024: behind
    ((1,), 64, SEQ_MAX, True),  # far ahead
    ((SEQ_MAX,), 64, SEQ_MAX, False),  # the last number, once
    ((SEQ_MAX,), 64, SEQ_MAX - 63, True),
    ((SEQ_MAX,), 64, SEQ_MAX - 64, False),
    ((SEQ_MAX,), 64, 0, False),
]


@pytest.mark.parametrize(("accepted", "size", "seq", "expected"), CASES)
def test_check_table(accepted: tuple[int, ...], size: int, seq: int, expected: bool) -> None:
    window = window_after(*accepted, size=size)
    assert window.check(seq) is expected
    assert window.commit(seq) is expected
    assert window.check(seq) is False  # whatever happened, it is not new any more or never was


def test_highest_and_bitmap_after_reorder() -> None:
    window = window_after(3, 1, 2, 10)
    assert window.highest == 10
    # 10 at offset 0; 3, 2, 1 at offsets 7, 8, 9
    assert window.bitmap == (1 | 1 << 7 | 1 << 8 | 1 << 9)


def test_jump_past_the_window_forgets_it() -> None:
    window = window_after(1, 2, 3)
    assert window.commit(SEQ_MAX)
    assert window.bitmap == 1
    assert not window.check(3)


def test_check_without_commit_changes_nothing() -> None:
    window = window_after(10, 8)
    before = (window.highest, window.bitmap)
    for seq in (0, 1, 8, 9, 11, 500, SEQ_MAX):
        window.check(seq)
    assert (window.highest, window.bitmap) == before
    assert window.check(9)  # never committed, still new


def test_commit_refuses_a_number_verified_twice() -> None:
    window = ReplayWindow()
    assert window.check(7) and window.check(7)  # two copies pass the pre-decryption check
    assert window.commit(7)
    assert not window.commit(7)  # the second copy is a replay after all


@pytest.mark.parametrize("size", [0, 31, 1025])
def test_window_size_bounds(size: int) -> None:
    with pytest.raises(ValueError):
        ReplayWindow(size)


@pytest.mark.parametrize("seq", [-1, SEQ_MAX + 1])
def test_sequence_numbers_are_32_bit(seq: int) -> None:
    with pytest.raises(ValueError):
        ReplayWindow().check(seq)


class ReferenceWindow:
    """The RFC's rule written plainly: a set of accepted numbers and the highest of them."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.accepted: set[int] = set()
        self.highest = 0

    def check(self, seq: int) -> bool:
        return seq != 0 and seq not in self.accepted and seq > self.highest - self.size

    def commit(self, seq: int) -> None:
        self.accepted.add(seq)
        self.highest = max(self.highest, seq)


sequence_numbers = st.one_of(
    st.integers(1, 300),  # dense: duplicates and reordering around the window
    st.integers(0, SEQ_MAX),  # sparse: far jumps, 0 and the top
    st.sampled_from([0, 1, SEQ_MAX - 1, SEQ_MAX]),
)


@settings(max_examples=300, deadline=None)
@given(
    size=st.sampled_from([32, 64, 128, 1024]),
    steps=st.lists(st.tuples(sequence_numbers, st.booleans()), max_size=120),
)
def test_matches_reference_model(size: int, steps: list[tuple[int, bool]]) -> None:
    window = ReplayWindow(size)
    model = ReferenceWindow(size)
    for seq, icv_ok in steps:
        expected = model.check(seq)
        assert window.check(seq) is expected
        if expected and icv_ok:  # commit only what would have verified
            assert window.commit(seq)
            model.commit(seq)
        assert window.highest == model.highest
