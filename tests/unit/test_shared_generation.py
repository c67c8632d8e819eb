"""The callers' change counter shared by the processes on one DATA_DIR (catalogue/shared_generation.py).

Two `SharedGeneration` objects on one file stand for two processes: a
`forget` in one drops what the other keeps at its very next lookup, and a
read under way during the change is not kept.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from catalogue.lru import Expiring
from catalogue.shared_generation import FILE_NAME, SharedGeneration, SharedRecent, WakeChannel, drain


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


def _channel(data_dir: Path) -> WakeChannel:
    channel = WakeChannel("outbox")
    channel.open(data_dir)
    return channel


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the wake channel is a Linux abstract socket")
def test_a_ring_from_another_process_reaches_the_one_listener_and_no_other_data_dir(tmp_path: Path) -> None:
    """OUTBOX_WRITTEN: a serving process without the worker (or the CLI) wakes the worker's process at once."""
    here, there, elsewhere = _channel(tmp_path / "a"), _channel(tmp_path / "a"), _channel(tmp_path / "b")
    listener = here.listen()
    assert listener is not None
    try:
        assert there.listen() is None  # one listener per DATA_DIR: the process with the worker
        assert drain(listener) == 0
        code = (
            "import sys; from pathlib import Path; from catalogue.shared_generation import WakeChannel\n"
            "c = WakeChannel('outbox'); c.open(Path(sys.argv[1])); c.ring(); c.ring()"
        )
        subprocess.run([sys.executable, "-c", code, str(tmp_path / "a")], check=True, cwd=Path(__file__).resolve().parents[2])
        elsewhere.ring()  # another DATA_DIR: another server, not woken
        there.ring()
        assert drain(listener) == 3
        assert drain(listener) == 0
    finally:
        listener.close()
        for channel in (here, there, elsewhere):
            channel.close()
    again = _channel(tmp_path / "a")  # the listener's socket went with it: the next worker listens
    relisten = again.listen()
    assert relisten is not None
    relisten.close()
    again.close()


def test_without_a_listener_or_a_data_dir_a_ring_is_a_no_op(tmp_path: Path) -> None:
    WakeChannel("outbox").ring()  # not opened: nothing is sent
    assert WakeChannel("outbox").listen() is None
    channel = _channel(tmp_path)
    for _ in range(1000):  # nobody listens: no error, never blocks
        channel.ring()
    channel.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the wake channel is a Linux abstract socket")
def test_draining_a_flood_stops_after_a_bound(tmp_path: Path) -> None:
    channel = _channel(tmp_path)
    listener = channel.listen()
    assert listener is not None
    try:
        for _ in range(300):
            channel.ring()  # a full queue drops rings silently (the listener is awake anyway)
        assert drain(listener, most=3) == 3  # as many as the socket queues (net.unix.max_dgram_qlen, 10 or more)
        assert drain(listener) > 0
        assert drain(listener) == 0
    finally:
        listener.close()
        channel.close()


def test_the_applied_ring_is_shared_wraps_around_and_never_matches_across_slots(tmp_path: Path) -> None:
    """INDEX_RECENT: what the worker's process records, another process finds; only the last `slots` numbers."""
    worker, other = SharedRecent("index.recent", slots=4), SharedRecent("index.recent", slots=4)
    worker.open(tmp_path)
    other.open(tmp_path)
    try:
        assert not other.contains(1)
        worker.add([1, 2, 3], tag=7)
        assert all(other.contains(n, tag=7) for n in (1, 2, 3))
        assert not other.contains(1, tag=8)  # another database's number 1
        worker.add([4, 5], tag=7)  # five numbers in four slots: the first is gone
        assert not other.contains(1, tag=7)
        assert all(other.contains(n, tag=7) for n in (2, 3, 4, 5))
        # bytes that straddle two slots never count: slots (2+1) and (3+1) side by side hold, little-endian,
        # 03 00 00 00 00 07 00 00 | 04 00 ...; a number whose 8 bytes sit across them is not in the ring
        assert not any(other.contains(n, tag=t) for n in range(6, 300) for t in (0, 7))
        worker.clear()
        assert not other.contains(5, tag=7)
    finally:
        worker.close()
        other.close()
    assert not SharedRecent("index.recent").contains(1)  # not opened: nothing applied known


def test_a_slot_being_rewritten_by_another_process_never_reads_as_a_number_never_written(tmp_path: Path) -> None:
    """Review s27 F2: a slot is written as one 8-byte value and a hit is read again as one value, so a reader in
    another process never takes the mix of a slot's old and new bytes for an applied number. The writer keeps
    rewriting one slot with 0x10F7 and 0x2107 (as stored); 0x21F7 and 0x1007 are mixes of their bytes."""
    ring = SharedRecent("index.recent", slots=1)
    ring.open(tmp_path)
    code = (
        "import sys, time; from pathlib import Path; from catalogue.shared_generation import SharedRecent\n"
        "r = SharedRecent('index.recent', slots=1); r.open(Path(sys.argv[1])); end = time.monotonic() + 2.0\n"
        "while time.monotonic() < end:\n"
        "    for _ in range(1000):\n"
        "        r.add([0x10F6], 7); r.add([0x2106], 7)\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=Path(__file__).resolve().parents[2])
    try:
        mixed = looks = 0
        while writer.poll() is None:
            for number in (0x21F6, 0x1006):  # stored plus one: 0x21F7, 0x1007
                mixed += ring.contains(number, tag=7)
                looks += 1
        assert writer.returncode == 0
        assert looks > 1000
        assert mixed == 0, f"{mixed} of {looks} looks took a half-written slot for an applied number"
    finally:
        if writer.poll() is None:
            writer.kill()
        ring.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the wake channel is a Linux abstract socket")
def test_the_wake_channel_is_named_after_the_directory_itself_not_only_its_path(tmp_path: Path) -> None:
    """Review s27 F4: two data directories mounted at the same path (containers sharing a network namespace) do
    not wake each other's workers."""
    data = tmp_path / "var"
    data.mkdir()
    first = _channel(data)
    data.rename(tmp_path / "var-old")  # kept, so the new directory cannot get its inode
    data.mkdir()
    second = _channel(data)
    try:
        assert first.address is not None and second.address is not None
        assert first.address != second.address
        assert _channel(data).address == second.address
    finally:
        first.close()
        second.close()
