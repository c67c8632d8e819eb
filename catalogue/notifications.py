"""Notifications: an outbox of e-mails, sent by one worker through a mail transport.

A request never sends mail. It calls `enqueue` with an idempotency key
(`adoption:<record>:<revision>`, `stale:<profile>:<period>` …): the key is
first claimed in `notification_keys` (an insert, the unique `_id` decides),
then the mail is written to `notifications` with the same `_id`. So a mail is
queued at most once per key, however often or concurrently the same event is
reported (a crash between the two inserts loses that one mail rather than
sending it twice).

`NotificationWorker` sends. Of all processes on one database exactly one
holds the lease (`worker_leases`, `_id` = "notifications": holder and expiry,
taken by insert or by a compare-and-set on an expired lease, renewed while
working; the pattern of the register's loading lock), so no mail goes out
twice. A mail that fails is retried with exponential back-off
(`catalogue.search.sync.backoff_seconds`: 30 s · 2^(n-1), at most 6 h) and
dropped with an error in the log after MAX_ATTEMPTS; a sent mail is deleted
from the outbox. Scanning `notifications` and `worker_leases` is batch work of
the worker, never of a request; both stay small (sent mails are deleted).

The worker also runs the periodic jobs (`catalogue.freshness` reminders,
`catalogue.saved_searches` digests) once it holds the lease.

Transports: `LogTransport` (the default: the mail goes to the log) and
`SmtpTransport` from LEUCHTTURM_SMTP_URL (`smtp://user:pass@host:port`,
`?starttls=true` for STARTTLS, `smtps://` for TLS from the start), sending
with the standard library's smtplib in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import uuid4

from beanie import Document, SortDirection
from pydantic import Field

from catalogue import atomic
from catalogue.models import utcnow
from catalogue.wakeups import woken

log = logging.getLogger("leuchtturm.notifications")

MAX_ATTEMPTS = 12
BASE_BACKOFF_S = 30.0
MAX_BACKOFF_S = 6 * 3600.0
LEASE_ID = "notifications"
LEASE_TTL = timedelta(seconds=60)
BATCH = 50

Clock = Callable[[], datetime]


class Notification(Document):
    """One mail waiting to be sent (collection `notifications`, `_id` = its idempotency key)."""

    id: str  # type: ignore[assignment]
    kind: str
    to: str
    subject: str
    body: str
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None

    class Settings:
        name = "notifications"


class NotificationKey(Document):
    """A claimed idempotency key (collection `notification_keys`): this event has been queued."""

    id: str  # type: ignore[assignment]
    at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "notification_keys"


class WorkerLease(Document):
    """Which process runs a worker (collection `worker_leases`, `_id` = the worker's name)."""

    id: str  # type: ignore[assignment]
    holder: str
    until: datetime

    class Settings:
        name = "worker_leases"


class WorkerJob(Document):
    """When a periodic job last ran (collection `worker_jobs`, `_id` = the job's name)."""

    id: str  # type: ignore[assignment]
    ran_at: datetime | None = None

    class Settings:
        name = "worker_jobs"


DOCUMENTS: list[type[Document]] = [Notification, NotificationKey, WorkerLease, WorkerJob]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def enqueue(key: str, *, to: str, subject: str, body: str, kind: str, now: datetime | None = None) -> bool:
    """Queue a mail once per `key`; False when this key was queued before."""
    at = now or utcnow()
    if not await atomic.insert(NotificationKey.get_pymongo_collection(), {"_id": key, "at": at}):
        return False
    await Notification.get_pymongo_collection().insert_one(
        {"_id": key, "kind": kind, "to": to, "subject": subject, "body": body, "created_at": at, "attempts": 0, "next_attempt_at": at}
    )
    return True


# ---------------------------------------------------------------- transports


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class LogTransport:
    """The default: every mail is written to the log (nothing leaves the machine)."""

    async def send(self, message: EmailMessage) -> None:
        log.info("Mail an %s: %s\n%s", message["To"], message["Subject"], message.get_content())


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    tls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("LEUCHTTURM_SMTP_URL: erwartet smtp://benutzer:passwort@host:port oder smtps://…")
        options = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            starttls=options.get("starttls", "false") in ("1", "true", "yes"),
            tls=parts.scheme == "smtps",
        )

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context) if self.tls else smtplib.SMTP(
            self.host, self.port, timeout=self.timeout
        )
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)  # network I/O off the event loop


def transport_for(smtp_url: str | None) -> MailTransport:
    return SmtpTransport.from_url(smtp_url) if smtp_url else LogTransport()


def build_message(note: Notification, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = note.to
    message["Subject"] = note.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "leuchtturm.local")
    message.set_content(note.body, charset="utf-8")  # German plain text
    return message


def backoff_seconds(attempts: int) -> float:
    from catalogue.search.sync import backoff_seconds as backoff

    return backoff(attempts, BASE_BACKOFF_S, MAX_BACKOFF_S)


# ---------------------------------------------------------------- the lease


async def acquire_lease(holder: str, *, name: str = LEASE_ID, ttl: timedelta = LEASE_TTL, now: datetime | None = None) -> bool:
    """Take or renew the lease `name` for `holder`; True when `holder` has it until now + ttl."""
    coll = WorkerLease.get_pymongo_collection()
    at = now or utcnow()
    until = at + ttl
    if await atomic.update_if(coll, name, {"holder": holder}, {"$set": {"until": until}}):
        return True
    if await atomic.update_if(coll, name, {"until": {"$lte": at}}, {"$set": {"holder": holder, "until": until}}):
        return True
    return await atomic.insert(coll, {"_id": name, "holder": holder, "until": until})


async def release_lease(holder: str, *, name: str = LEASE_ID) -> bool:
    return await atomic.delete_if(WorkerLease.get_pymongo_collection(), name, {"holder": holder})


# ---------------------------------------------------------------- sending


Job = Callable[[datetime], Awaitable[Any]]


class NotificationWorker:
    """Sends queued mails and runs the periodic jobs, only while this process holds the lease."""

    def __init__(
        self,
        transport: MailTransport,
        *,
        sender: str,
        clock: Clock = utcnow,
        poll_interval: float = 2.0,
        jobs: list[tuple[str, timedelta, Job]] | None = None,
    ) -> None:
        self.transport = transport
        self.sender = sender
        self.clock = clock
        self.poll_interval = poll_interval
        self.holder = uuid4().hex
        self.jobs = jobs or []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._held_until: datetime | None = None

    async def _hold(self, now: datetime) -> bool:
        """Whether this process holds the lease; renewed only once half of it has passed (a write under the store lock)."""
        if self._held_until is not None and now < self._held_until - LEASE_TTL / 2:
            return True
        if await acquire_lease(self.holder, now=now):
            self._held_until = now + LEASE_TTL
            return True
        self._held_until = None
        return False

    def notify(self) -> None:
        self._wake.set()

    async def send_due(self) -> int:
        """Send the mails that are due (if this process holds the lease); returns how many were sent."""
        async with self._lock:
            now = self.clock()
            if not await self._hold(now):
                return 0
            due = (
                await Notification.find(Notification.next_attempt_at <= now)
                .sort([("created_at", SortDirection.ASCENDING)])
                .limit(BATCH)
                .to_list()
            )
            sent = 0
            coll = Notification.get_pymongo_collection()
            for note in due:
                try:
                    await self.transport.send(build_message(note, self.sender))
                except Exception as exc:  # noqa: BLE001 - any transport failure: retry later
                    attempts = note.attempts + 1
                    error = f"{type(exc).__name__}: {exc}"[:1000]
                    if attempts >= MAX_ATTEMPTS:
                        log.error("Mail %s an %s nach %d Versuchen aufgegeben: %s", note.id, note.to, attempts, error)  # noqa: TRY400 - no traceback wanted
                        await coll.delete_one({"_id": note.id})
                        continue
                    retry = now + timedelta(seconds=backoff_seconds(attempts))
                    log.warning("Mail %s an %s fehlgeschlagen (Versuch %d, nächster %s): %s", note.id, note.to, attempts, retry, error)
                    await coll.update_one({"_id": note.id}, {"$set": {"attempts": attempts, "next_attempt_at": retry, "last_error": error}})
                    continue
                await coll.delete_one({"_id": note.id})
                sent += 1
            return sent

    async def run_jobs(self) -> None:
        """Run every periodic job whose interval has passed since its last run (kept in `worker_jobs`).

        A run is claimed by a compare-and-set on the job's last run time, so each period runs once
        even if a lease changed hands meanwhile; a failed run gives its claim back.
        """
        now = self.clock()
        if not self.jobs or not await self._hold(now):
            return
        coll = WorkerJob.get_pymongo_collection()
        for name, every, job in self.jobs:
            doc = await coll.find_one({"_id": name})
            if doc is None:
                claimed = await atomic.insert(coll, {"_id": name, "ran_at": now})
                before = None
            else:
                before = doc.get("ran_at")
                if before is not None and _aware(before) > now - every:
                    continue
                claimed = await atomic.update_if(coll, name, {"ran_at": before}, {"$set": {"ran_at": now}})
            if not claimed:
                continue
            try:
                await job(now)
            except Exception:
                log.exception("Benachrichtigungs-Job %s fehlgeschlagen", name)
                await atomic.update_if(coll, name, {"ran_at": now}, {"$set": {"ran_at": before}})

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_jobs()
                await self.send_due()
            except Exception:
                log.exception("Benachrichtigungen: Outbox nicht lesbar")
            await woken(self._wake, stop, self.poll_interval)
            self._wake.clear()
        with contextlib.suppress(Exception):
            await self.release()

    async def release(self) -> None:
        """Give the lease up (at stop, and after a one-off run from the command line)."""
        self._held_until = None
        await release_lease(self.holder)


__all__ = [
    "DOCUMENTS",
    "LogTransport",
    "MailTransport",
    "Notification",
    "NotificationWorker",
    "SmtpTransport",
    "acquire_lease",
    "build_message",
    "enqueue",
    "release_lease",
    "transport_for",
]
