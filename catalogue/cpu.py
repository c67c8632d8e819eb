"""CPU work off the event loop, in a small bounded pool.

Pure-Python CPU work (word diffs, parsing uploads) holds the GIL; in a
thread it no longer blocks the event loop outright, but every busy thread
competes with the loop for the GIL (each gets it for up to the 5 ms switch
interval). A pool of CPU_WORKERS threads bounds that competition, so the
loop waits a few milliseconds per switch however many requests bring CPU
work at once; the rest queue here, not on the loop.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

_T = TypeVar("_T")

CPU_WORKERS = max(1, min(2, os.cpu_count() or 1))
_pool = ThreadPoolExecutor(max_workers=CPU_WORKERS, thread_name_prefix="cpu-work")


async def run_cpu(fn: Callable[..., _T], *args: Any) -> _T:
    """Run `fn(*args)` in the CPU pool and wait for it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


__all__ = ["CPU_WORKERS", "run_cpu"]
