"""Freshness: is a published profile still current?

The owner confirms "Angaben aktuell" (`ProfileService.confirm`, one click on
the profile page and in "Meine Profile"), which sets `confirmed_at`. The
search document's `confirmed_at` is that date, or else the publication date
(a new profile counts as current when it is published), or the creation
date. A published profile whose date lies more than STALE_AFTER back is
*stale*: marked on its page and in results, listed for reviewers and by
`leuchtturm stale` (from the index: a range filter on `confirmed_at`), and
its owner is reminded by mail once per period (the idempotency key names
the profile and the date it counts from, so a new confirmation starts a new
period).

Every function takes `now`: the clock is injected (tests freeze it).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from catalogue import notifications
from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.listing import ListedProfile, ProfilePage, list_profiles
from catalogue.search.base import SearchBackend, SearchQuery, Sort
from catalogue.users import Principal, find_user
from catalogue.vocabularies import EditorialStatus

log = logging.getLogger("leuchtturm.freshness")

STALE_AFTER = timedelta(days=365)
REMINDER_PAGE = 100


def cutoff(now: datetime) -> int:
    """The Unix time before which a profile counts as stale."""
    return int((now - STALE_AFTER).timestamp())


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), UTC)
    return None


def counts_from(profile: Any) -> datetime | None:
    """The date a profile's freshness counts from: confirmed, else published, else created."""
    for name in ("confirmed_at", "published_at", "created_at"):
        value = as_datetime(getattr(profile, name, None) if not isinstance(profile, dict) else profile.get(name))
        if value is not None:
            return value
    return None


def is_stale(since: datetime | int | None, now: datetime, status: Any = EditorialStatus.PUBLISHED) -> bool:
    """Whether a published profile whose freshness counts from `since` is stale at `now`."""
    when = as_datetime(since)
    return str(getattr(status, "value", status)) == EditorialStatus.PUBLISHED.value and when is not None and when < now - STALE_AFTER


async def stale_profiles(backend: SearchBackend, actor: Principal | None, *, now: datetime, page: int = 1, per_page: int = 50) -> ProfilePage:
    """The published profiles not confirmed for STALE_AFTER that `actor` may see, longest unconfirmed first (from the index)."""
    return await list_profiles(
        backend, actor, status=EditorialStatus.PUBLISHED, sort=Sort.STALEST, page=page, per_page=per_page, confirmed_before=cutoff(now)
    )


async def all_stale(backend: SearchBackend, *, now: datetime) -> list[ListedProfile]:
    """Every stale profile (batch work: the CLI and the reminder job), page by page from the index."""
    found: list[ListedProfile] = []
    page = 1
    while True:
        query = SearchQuery(
            filters={"status": [EditorialStatus.PUBLISHED.value]}, sort=Sort.STALEST, page=page, per_page=REMINDER_PAGE,
            facets=(), confirmed_max=cutoff(now),
        )
        result = await backend.search(query, labels=ALL_DOCUMENTS_LABELS)
        found += [ListedProfile.from_document(h.document) for h in result.hits]
        if page >= result.pages or not result.hits:
            return found
        page += 1


def reminder_text(profile: ListedProfile, name: str, base_url: str) -> tuple[str, str]:
    since = profile.confirmed_at.strftime("%d.%m.%Y") if profile.confirmed_at else "längerer Zeit"
    link = f"{base_url.rstrip('/')}/profiles/{profile.slug}"
    subject = f"Ist Ihr Projektprofil noch aktuell? – {profile.title}"[:200]
    body = (
        f"Guten Tag {name},\n\n"
        f"Ihr Projektprofil „{profile.title}“ wurde seit dem {since} nicht mehr als aktuell bestätigt.\n"
        "Andere Kommunen verlassen sich auf die Angaben. Bitte sehen Sie kurz nach und klicken Sie auf "
        "„Als aktuell bestätigen“ – oder bearbeiten Sie, was sich geändert hat:\n\n"
        f"{link}\n\n"
        "Ihr Leuchtturm-Katalog\n"
    )
    return subject, body


async def send_reminders(backend: SearchBackend, *, now: datetime, base_url: str) -> int:
    """Queue a reminder for every stale profile's owner, once per period; returns how many were queued now."""
    queued = 0
    for profile in await all_stale(backend, now=now):
        owner = await find_user(profile.owner) if profile.owner else None
        if owner is None or not owner.email or not owner.active:
            continue
        since = int(profile.confirmed_at.timestamp()) if profile.confirmed_at else 0
        subject, body = reminder_text(profile, owner.display_name, base_url)
        if await notifications.enqueue(f"stale:{profile.id}:{since}", to=str(owner.email), subject=subject, body=body, kind="stale", now=now):
            queued += 1
    if queued:
        log.info("%d Erinnerungen an nicht bestätigte Profile vorgemerkt", queued)
    return queued


__all__ = ["STALE_AFTER", "all_stale", "counts_from", "cutoff", "is_stale", "send_reminders", "stale_profiles"]
