"""The wait of a background loop between its rounds (the sync worker, the notifications' sender)."""

from __future__ import annotations

import asyncio


async def woken(wake: asyncio.Event, stop: asyncio.Event, poll_interval: float) -> None:
    """Until `wake` or `stop` is set, or `poll_interval` seconds have passed (time to look again); leaves no waiting task behind.

    The two waits are cancelled and gathered afterwards, not each awaited under `suppress(CancelledError)`:
    that would also swallow a cancellation of the caller arriving meanwhile, and a loop cancelled to stop
    would go on.
    """
    waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=poll_interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


__all__ = ["woken"]
