"""``release_freed_memory``: after a large ``show`` answer the daemon gives the C allocator's
free pages back (glibc keeps freed small blocks otherwise, which looked like memory per
tunnel at 20,000 tunnels)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tunnelgate.daemon.control import _malloc_trim, release_freed_memory


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(_malloc_trim() is None, reason="needs glibc's malloc_trim")
def test_freed_small_blocks_go_back_to_the_system() -> None:
    gc.collect()
    # 2 KB strings (one SA's block of ``show crypto ipsec sa`` is about that; larger than
    # pymalloc's 512 bytes, so the C allocator's); keep every 64th so that the heap cannot
    # shrink from its top on its own
    blocks = [f"{n:08d}" * 256 for n in range(40_000)]
    kept = blocks[::64]
    del blocks
    gc.collect()
    before = _rss_kib()
    release_freed_memory()
    after = _rss_kib()
    assert after < before - 5_000, (before, after)  # more than 5 MB returned
    assert len(kept) == 625
