"""Loading the municipality register into the database.

`ensure_register` runs on every start (api/app.py) and costs one keyed read
when the register is there: it loads the extract shipped in data/register/
when no complete register is stored yet, or when the stored one came from an
older shipped file. A register an operator loaded (`leuchtturm import
--format gazetteer FILE`, e.g. a newer quarter) is left alone.

`refresh_importer_gazetteer` makes the text importers resolve names with the
stored register when an operator loaded another whole register.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import lru_cache

from catalogue import gazetteer as reg
from importers.gazetteer import REGISTER_PATH, Gazetteer, Register, read_shipped_register, use_gazetteer

log = logging.getLogger("leuchtturm.register")

Progress = Callable[[int, int], None]


@lru_cache(maxsize=1)
def shipped_register() -> Register:
    return read_shipped_register(REGISTER_PATH)


def shipped_name() -> str:
    return f"data/register/{REGISTER_PATH.name}"


async def needs_shipped_register() -> bool:
    """No complete register stored, or the stored one is an older shipped file."""
    current = await reg.meta()
    if current is None or not current.full:
        return True
    if current.source_name == shipped_name():
        return current.fingerprint != (await asyncio.to_thread(shipped_register)).fingerprint
    return False


async def load_shipped_register(progress: Progress | None = None) -> reg.StoreReport:
    register = await asyncio.to_thread(shipped_register)
    await reg.drop_legacy()
    return await reg.store(
        register.entries,
        fingerprint=register.fingerprint,
        source_name=register.source_name,
        register_as_of=register.as_of,
        attribution=register.attribution,
        full=True,
        progress=progress,
    )


async def ensure_register(progress: Progress | None = None) -> reg.StoreReport | None:
    """Load the shipped register if the store has none (first start); None when nothing was to do.

    Another process loading it at the same time is not an error: this one
    goes on without waiting (`RegisterBusy` is logged).
    """
    if not REGISTER_PATH.exists() or not await needs_shipped_register():
        return None
    try:
        return await load_shipped_register(progress)
    except reg.RegisterBusy as exc:
        log.warning("%s", exc)
        return None


def log_progress(prefix: str = "Gemeindeverzeichnis") -> Progress:
    """A progress callback that logs every tenth (for `leuchtturm serve`, whose output is the log)."""
    state = {"last": -1}

    def report(done: int, total: int) -> None:
        step = int(10 * done / total) if total else 10
        if step != state["last"]:
            state["last"] = step
            log.info("%s: %s von %s Einträgen geladen", prefix, f"{done:,}".replace(",", "."), f"{total:,}".replace(",", "."))

    return report


_in_use: dict[str, str | None] = {"fingerprint": None}


async def refresh_importer_gazetteer() -> None:
    """Make the text importers resolve names with the stored register when it is a whole one other than the shipped.

    One keyed read when nothing changed (the API calls it before it parses an
    upload); reading the stored register is batch work (a scan, in a thread).
    """
    current = await reg.meta()
    fingerprint = current.fingerprint if current is not None and current.full else None
    if fingerprint == _in_use["fingerprint"]:
        return
    if current is None or not current.full or current.source_name == shipped_name():
        use_gazetteer(None)
    else:
        entries = await reg.stored_entries()
        use_gazetteer(await asyncio.to_thread(Gazetteer, entries))
    _in_use["fingerprint"] = fingerprint
