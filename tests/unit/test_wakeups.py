"""The wait of a background loop between its rounds (catalogue/wakeups.py), shared by the sync worker and the
notifications' sender."""

from __future__ import annotations

import asyncio

import pytest

from catalogue.wakeups import woken


def _others() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.parametrize("which", ["wake", "stop"])
async def test_a_wake_up_or_the_stop_ends_the_wait_and_leaves_no_task(which: str) -> None:
    wake, stop = asyncio.Event(), asyncio.Event()
    before = _others()
    waiting = asyncio.create_task(woken(wake, stop, 3600.0))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    (wake if which == "wake" else stop).set()
    await asyncio.wait_for(waiting, timeout=10)
    assert _others() == before


async def test_without_either_the_wait_ends_after_its_time() -> None:
    await asyncio.wait_for(woken(asyncio.Event(), asyncio.Event(), 0.01), timeout=10)


async def test_a_cancelled_wait_passes_the_cancellation_on_and_leaves_no_task() -> None:
    before = _others()
    waiting = asyncio.create_task(woken(asyncio.Event(), asyncio.Event(), 3600.0))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)
    assert _others() == before
