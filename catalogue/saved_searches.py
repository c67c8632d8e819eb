"""Saved searches and their weekly e-mail digest.

A logged-in user saves a search as its URL state (the search page's query
string, catalogue.search.url_state). All saved searches of a user are one
document (collection `saved_searches`, `_id` = the username), so "my saved
searches" is a read by key; changes are compare-and-set on its `revision`.

The digest job (run weekly by the notifications worker, or now by
`leuchtturm digest --now`) runs every saved search of every user again with
the user's permission labels and mails, grouped by profile, what is new
since the last digest: profiles published since, profiles updated since, and
profiles newly adopted by a municipality of the user's own size class
(catalogue.adoption). Going through all users' documents is batch work of
the worker, never of a request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import uuid4

from beanie import Document
from pydantic import BaseModel, Field

from catalogue import atomic, notifications
from catalogue.access import principal_labels
from catalogue.adoption import summary_of
from catalogue.errors import Conflict, NotFound, ValidationFailed
from catalogue.listing import ListedProfile
from catalogue.models import utcnow
from catalogue.search.base import SearchBackend, Sort
from catalogue.search.url_state import from_query_string
from catalogue.users import Principal, User, find_user
from catalogue.vocabularies import TAKEN_OVER_STAGES

log = logging.getLogger("leuchtturm.digest")

MAX_SAVED = 20
MAX_QUERY = 2000
NAME_MAX = 120
HITS_PER_SEARCH = 100  # the newest changes a digest looks at per saved search
CAS_TRIES = 20


class SavedSearch(BaseModel):
    id: str
    name: str
    query: str  # the search page's query string, e.g. "q=Rufbus&land=Bayern"
    created_at: datetime = Field(default_factory=utcnow)
    last_sent_at: datetime | None = None  # the digest reported changes up to this time


class SavedSearches(Document):
    """Every saved search of one user (collection `saved_searches`, `_id` = the username)."""

    id: str  # type: ignore[assignment]
    items: list[SavedSearch] = Field(default_factory=list)
    revision: int = 0

    class Settings:
        name = "saved_searches"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def clean_query(query: str) -> str:
    """The query string without page and empty parameters; refused when it is not a search page state."""
    text = str(query or "").strip().lstrip("?")
    if len(text) > MAX_QUERY or any(ord(c) < 32 for c in text):
        raise ValidationFailed("Diese Suche lässt sich nicht speichern.", errors=[{"field": "query", "message": f"höchstens {MAX_QUERY} Zeichen"}])
    parts = [p for p in text.split("&") if p and "=" in p and not p.startswith(("seite=", "kommune=", "einwohner=", "wie_land="))]
    text = "&".join(p for p in parts if p.split("=", 1)[1])
    try:
        from_query_string(text, now=utcnow())
    except ValueError as exc:
        raise ValidationFailed(f"Diese Suche lässt sich nicht speichern: {exc}", errors=[{"field": "query", "message": str(exc)}]) from exc
    return text


async def list_for(username: str) -> list[SavedSearch]:
    doc = await SavedSearches.get(username)
    return list(doc.items) if doc is not None else []


Change = Callable[[list[SavedSearch]], list[SavedSearch]]


async def _change(username: str, change: Change) -> list[SavedSearch]:
    """Apply `change(items) -> items` by compare-and-set on the user's document (created on first use)."""
    coll = SavedSearches.get_pymongo_collection()
    for _ in range(CAS_TRIES):
        doc = await coll.find_one({"_id": username})
        if doc is None:
            items = change([])
            if await atomic.insert(coll, {"_id": username, "items": [i.model_dump() for i in items], "revision": 1}):
                return items
            continue
        items = change([SavedSearch.model_validate(i) for i in doc.get("items") or []])
        new = {"_id": username, "items": [i.model_dump() for i in items], "revision": int(doc.get("revision") or 0) + 1}
        if await atomic.replace_if(coll, username, {"revision": doc.get("revision")}, new):
            return items
    raise Conflict("Zu viele gleichzeitige Änderungen. Bitte gleich noch einmal versuchen.")


async def save(username: str, name: str, query: str) -> SavedSearch:
    """Save a search (its URL query string) under a name."""
    query = clean_query(query)
    name = " ".join(str(name or "").split())[:NAME_MAX] or _default_name(query)
    item = SavedSearch(id=uuid4().hex[:12], name=name, query=query)

    def add(items: list[SavedSearch]) -> list[SavedSearch]:
        if any(i.query == query for i in items):
            raise Conflict("Diese Suche haben Sie schon gespeichert.")
        if len(items) >= MAX_SAVED:
            raise Conflict(f"Sie können höchstens {MAX_SAVED} Suchen speichern. Bitte löschen Sie zuerst eine.")
        return [*items, item]

    await _change(username, add)
    return item


async def delete(username: str, search_id: str) -> None:
    def remove(items: list[SavedSearch]) -> list[SavedSearch]:
        kept = [i for i in items if i.id != search_id]
        if len(kept) == len(items):
            raise NotFound("Diese gespeicherte Suche gibt es nicht.")
        return kept

    await _change(username, remove)


def _default_name(query: str) -> str:
    q = re.search(r"(?:^|&)q=([^&]*)", query)
    from urllib.parse import unquote_plus

    return unquote_plus(q.group(1))[:NAME_MAX] if q and q.group(1) else "Alle Projekte"


# ---------------------------------------------------------------- the digest


@dataclass
class DigestItem:
    profile: ListedProfile
    reasons: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)


async def _changes(backend: SearchBackend, user: User, saved: SavedSearch, now: datetime) -> dict[str, DigestItem]:
    since = _aware(saved.last_sent_at or saved.created_at)
    # the index keeps whole seconds: a change in the second of `since` counts as after it
    since_s = since.replace(microsecond=0)
    url = from_query_string(saved.query, now=now, per_page=HITS_PER_SEARCH)
    query = url.query
    # the newest changes first; a digest looks at the first HITS_PER_SEARCH of them
    query = replace(query, sort=Sort.UPDATED)
    result = await backend.search(query, labels=principal_labels(Principal(user.username, user.role)))
    own_size = user.organisation.size_class.value if user.organisation and user.organisation.size_class else None
    active = {s.value for s in TAKEN_OVER_STAGES}
    found: dict[str, DigestItem] = {}
    for hit in result.hits:
        profile = ListedProfile.from_document(hit.document)
        reasons: list[str] = []
        if profile.published_at and profile.published_at >= since_s:
            reasons.append("neu im Katalog")
        elif profile.updated_at and profile.updated_at >= since_s:
            reasons.append("aktualisiert")
        if own_size and own_size in (hit.document.get("adopter_size_classes") or []):
            summary = await summary_of(profile.id) or {}
            adopters = [
                e["organisation"]["name"] for e in (summary.get("entries") or {}).values()
                if not e.get("hidden") and e.get("stage") in active and e["organisation"].get("size_class") == own_size
                and _aware(e["created_at"]) > since
            ]
            if adopters:
                reasons.append(f"neu nachgenutzt von {', '.join(sorted(adopters))} ({own_size} wie Ihre Kommune)")
        if reasons:
            found[profile.id] = DigestItem(profile, reasons, [saved.name])
    return found


def digest_text(user: User, items: list[DigestItem], since: datetime, base_url: str) -> tuple[str, str]:
    lines = [
        f"Guten Tag {user.display_name},",
        "",
        f"seit dem {since.strftime('%d.%m.%Y')} gibt es zu Ihren gespeicherten Suchen Folgendes:",
        "",
    ]
    for item in items:
        lines.append(f"• {item.profile.title}")
        lines.append(f"  {'; '.join(item.reasons)}")
        lines.append(f"  gefunden mit: {', '.join(f'„{s}“' for s in item.searches)}")
        lines.append(f"  {base_url.rstrip('/')}/profiles/{item.profile.slug}")
        lines.append("")
    lines += [
        "Ihre gespeicherten Suchen verwalten Sie hier:",
        f"{base_url.rstrip('/')}/suchen",
        "",
        "Ihr Leuchtturm-Katalog",
    ]
    n = len(items)
    subject = f"Leuchtturm: {n} {'Neuigkeit' if n == 1 else 'Neuigkeiten'} zu Ihren gespeicherten Suchen"
    return subject, "\n".join(lines) + "\n"


async def digest_for(backend: SearchBackend, username: str, *, now: datetime, base_url: str) -> bool:
    """Build and queue one user's digest; marks their searches as reported up to `now`. True when a mail was queued."""
    user = await find_user(username)
    saved = await list_for(username)
    if user is None or not user.active or not user.email or not saved:
        return False
    grouped: dict[str, DigestItem] = {}
    for s in saved:
        for pid, item in (await _changes(backend, user, s, now)).items():
            if pid in grouped:
                grouped[pid].reasons += [r for r in item.reasons if r not in grouped[pid].reasons]
                grouped[pid].searches += item.searches
            else:
                grouped[pid] = item
    since = min(_aware(s.last_sent_at or s.created_at) for s in saved)
    queued = False
    if grouped:
        subject, body = digest_text(user, list(grouped.values()), since, base_url)
        queued = await notifications.enqueue(
            f"digest:{username}:{int(now.timestamp())}", to=str(user.email), subject=subject, body=body, kind="digest", now=now
        )
    ids = {s.id for s in saved}

    def mark(items: list[SavedSearch]) -> list[SavedSearch]:
        return [i.model_copy(update={"last_sent_at": now}) if i.id in ids else i for i in items]

    await _change(username, mark)
    return queued


async def send_digests(backend: SearchBackend, *, now: datetime, base_url: str) -> int:
    """The digest of every user with saved searches (batch work); returns how many mails were queued."""
    sent = 0
    usernames = [d["_id"] async for d in SavedSearches.get_pymongo_collection().find({}, {"_id": 1})]
    for username in usernames:
        try:
            sent += int(await digest_for(backend, username, now=now, base_url=base_url))
        except Exception:
            log.exception("Wochenübersicht für %s fehlgeschlagen", username)
    return sent


__all__ = ["SavedSearch", "SavedSearches", "clean_query", "delete", "digest_for", "list_for", "save", "send_digests"]
