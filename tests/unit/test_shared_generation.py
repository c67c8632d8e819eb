"""The callers' change counter shared by the processes on one DATA_DIR (catalogue/shared_generation.py).

Two `SharedGeneration` objects on one file stand for two processes: a
`forget` in one drops what the other keeps at its very next lookup, and a
read under way during the change is not kept.
"""

from __future__ import annotations

from pathlib import Path

from catalogue.lru import Expiring
from catalogue.shared_generation import FILE_NAME, SharedGeneration


def _pair(tmp_path: Path) -> tuple[SharedGeneration, SharedGeneration]:
    here, there = SharedGeneration(), SharedGeneration()
    here.open(tmp_path)
    there.open(tmp_path)
    return here, there


def test_bumps_of_either_process_are_seen_by_both_and_none_is_lost(tmp_path: Path) -> None:
    here, there = _pair(tmp_path)
    try:
        assert (tmp_path / FILE_NAME).stat().st_size == 8 and here.value() == there.value() == 0
        for _ in range(5):
            here.bump()
            there.bump()
        assert here.value() == there.value() == 10
        again = SharedGeneration()  # a process started later sees the count so far
        again.open(tmp_path)
        assert again.value() == 10
        again.close()
    finally:
        here.close()
        there.close()


def test_without_a_file_the_counter_stays_zero() -> None:
    alone = SharedGeneration()
    alone.bump()
    assert alone.value() == 0


async def test_a_forget_in_another_process_drops_what_this_one_keeps(tmp_path: Path) -> None:
    here, there = _pair(tmp_path)
    try:
        mine: Expiring[str, str] = Expiring(10, ttl=1000.0, shared=here)
        theirs: Expiring[str, str] = Expiring(10, ttl=1000.0, shared=there)
        reads = {"n": 0}

        async def read() -> str:
            reads["n"] += 1
            return f"stand {reads['n']}"

        assert await mine.load("rosa", read) == "stand 1"
        assert await mine.load("rosa", read) == "stand 1"  # kept
        theirs.forget("rosa")  # a logout, revocation or lock over there
        assert mine.get("rosa") is None
        assert await mine.load("rosa", read) == "stand 2"

        async def read_during_change() -> str:
            theirs.forget("lena")  # changed while this read is under way: its value is not kept
            return "alt"

        assert await mine.load("lena", read_during_change) == "alt"
        assert mine.get("lena") is None
    finally:
        here.close()
        there.close()
