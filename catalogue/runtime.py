"""The running catalogue: storage, search backend and the search sync worker.

Used by the web app's lifespan and by CLI commands alike, so both start and
stop the same way. A server (`run_sync_worker=True`) runs a
`SyncSupervisor`: the process that holds the sync lease writes the index
through its worker, the others read it (catalogue/search/writer.py). CLI
commands start without one and take the lease only for work they do
themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from catalogue.embedded import StoreHandle
from catalogue.settings import Settings
from catalogue.storage import Storage, connect

if TYPE_CHECKING:
    from catalogue.notifications import NotificationWorker
    from catalogue.opendata.mirror import Render
    from catalogue.outbox import Written
    from catalogue.search.base import SearchBackend
    from catalogue.search.sync import SearchSync
    from catalogue.search.writer import SyncSupervisor

log = logging.getLogger("leuchtturm.runtime")

# Read-your-writes: how long a request waits for the index to have its own writes.
INDEX_WAIT_S = 2.0


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    search: SearchBackend
    sync: SearchSync
    writer: SyncSupervisor | None = None  # servers only: holds the lease (or waits for it) and runs the worker
    notifications: NotificationWorker | None = None  # the mail sender (its own lease: catalogue/notifications.py)
    _mail_stop: asyncio.Event = field(default_factory=asyncio.Event)
    _mail_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        settings: Settings,
        *,
        db_name: str | None = None,
        handle: StoreHandle | None = None,
        run_sync_worker: bool = True,
        export_render: Render | None = None,
    ) -> Runtime:
        """`export_render`: how a profile's export record is rendered (api/open_data.py); with it, whoever
        applies the outbox here also keeps the export mirror (catalogue/opendata/mirror.py)."""
        from catalogue.search import create_backend
        from catalogue.search.places import RegisterPlaces
        from catalogue.search.sync import SearchSync
        from catalogue.search.writer import SyncSupervisor

        storage = await connect(settings, db_name=db_name, handle=handle)
        try:
            search = create_backend(settings.meili_url, settings.meili_key, settings.resolved_data_dir, meili_index=settings.meili_index)
            search.places = RegisterPlaces()  # place words of queries through the register's keyed reads
            try:
                await search.prepare()
            except Exception as exc:  # noqa: BLE001 - search may be down; writes never wait for it
                log.warning("search backend not ready at start: %s", exc)
        except BaseException:
            await storage.close()
            raise
        rt = cls(settings=settings, storage=storage, search=search, sync=SearchSync())
        if export_render is not None:
            from catalogue.opendata.mirror import MIRROR_FILE, ExportMirror

            rt.sync.mirror = ExportMirror(settings.resolved_data_dir / MIRROR_FILE, export_render, db_name=storage.db_name)
        rt.notifications = rt.notification_worker()
        if run_sync_worker:
            rt.writer = SyncSupervisor(rt, ttl=settings.sync_lease_s)
            await rt.writer.start()
            if settings.notifications:
                rt._mail_task = asyncio.create_task(rt.notifications.run_forever(rt._mail_stop), name="notifications")
        return rt

    def notification_worker(self) -> NotificationWorker:
        """The mail sender with its periodic jobs: stale reminders daily, saved-search digests weekly."""
        from datetime import datetime, timedelta

        from catalogue import freshness, saved_searches
        from catalogue.notifications import NotificationWorker, transport_for

        base_url = self.settings.public_base_url

        async def reminders(now: datetime) -> None:
            await freshness.send_reminders(self.search, now=now, base_url=base_url)

        async def digests(now: datetime) -> None:
            await saved_searches.send_digests(self.search, now=now, base_url=base_url)

        return NotificationWorker(
            transport_for(self.settings.smtp_url),
            sender=self.settings.mail_from,
            jobs=[("stale-reminders", timedelta(days=1), reminders), ("digest", timedelta(days=7), digests)],
        )

    def notify_mail(self) -> None:
        """Wake the mail sender after queueing a mail."""
        if self.notifications is not None:
            self.notifications.notify()

    async def rebuild_if_index_lost(self) -> None:
        """Rebuild from MongoDB when the index is unreadable, outdated or gone while profiles exist.

        Only the index writer calls this (it has just taken the sync lease).
        """
        from catalogue.access import ALL_DOCUMENTS_LABELS
        from catalogue.models import Profile
        from catalogue.search.base import SearchQuery

        try:
            lost = self.search.needs_reindex
            if not lost:
                # documents without labels (an index from before they existed) count as none
                indexed = (await self.search.search(SearchQuery(per_page=1, facets=()), labels=ALL_DOCUMENTS_LABELS)).total
                lost = indexed == 0 and await Profile.get_pymongo_collection().find_one({}, {"_id": 1}) is not None
            if lost:
                log.warning("search index missing or outdated: rebuilding from the database")
                count = await self.sync.reindex(self.search)
                log.warning("search index rebuilt: %d profiles", count)
        except Exception as exc:  # noqa: BLE001 - the outbox and `leuchtturm reindex` remain
            log.warning("could not check or rebuild the search index at start: %s", exc)
        await self.rebuild_mirror_if_missing()

    async def rebuild_mirror_if_missing(self) -> None:
        """Build the export mirror when it was never completed for this database (the index writer, at start).

        Batch work: one read of the published profiles (a filter, not a key), streamed.
        """
        from catalogue.models import Profile
        from catalogue.vocabularies import EditorialStatus

        mirror = self.sync.mirror
        try:
            if mirror is None or await mirror.state() is not None:
                return
            log.warning("export mirror missing: building it from the database")
            count = await mirror.rebuild(Profile.find(Profile.status == EditorialStatus.PUBLISHED))
            log.warning("export mirror built: %d published profiles", count)
        except Exception as exc:  # noqa: BLE001 - the exports answer 503 until a reindex builds it
            log.warning("could not build the export mirror: %s", exc)

    def notify_change(self) -> None:
        """Wake the sync worker after a write."""
        self.sync.notify()

    async def settle(self, written: list[Written], within: float = INDEX_WAIT_S) -> bool:
        """Wait, at most `within` seconds, until the index has these writes (read-your-writes).

        `written`: the `catalogue.outbox.Written` entries of writes that have
        landed. True when applied; False when the time ran out or the engine
        is down. The writes themselves stand either way. Works in every
        process: the entries are looked up by `_id` (or found among the
        entries a local worker applied lately), whoever applies them. In a
        process without the worker the next read shows the worker's commit:
        a Tantivy reader looks again at its next read when the writer's count
        of commits moved (`follows_by_itself`); a backend that does not know
        of another process's commits is made to load it (`follow`) before the
        answer goes out.
        """
        if not written:
            return True
        self.sync.notify()
        try:
            async with asyncio.timeout(within):
                applied = await self.sync.wait_applied(written)
            if applied and not self.sync.running and not self.search.follows_by_itself:
                # Another process's worker applied them: this process's reader may have looked at the index
                # just before that commit (it looks at most every REFRESH_S); the next read must see it. Loading a
                # commit opens files and builds a searcher: in a thread, not on the event loop. (A Tantivy reader
                # that maps the writer's count of commits looks again at its next read by itself.)
                await asyncio.to_thread(self.search.follow)
            return applied
        except TimeoutError:
            return False
        except Exception as exc:  # noqa: BLE001 - the database went away meanwhile: answer anyway
            log.warning("could not wait for the search index: %s", exc)
            return False

    async def stop(self) -> None:
        self._mail_stop.set()
        if self._mail_task is not None:
            if self.notifications is not None:
                self.notifications.notify()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._mail_task, timeout=5)
            self._mail_task = None
        if self.writer is not None:
            self.sync.notify()
            with contextlib.suppress(Exception):
                await self.writer.stop()
            self.writer = None
        with contextlib.suppress(Exception):
            await self.search.close()
        await self.storage.close()
