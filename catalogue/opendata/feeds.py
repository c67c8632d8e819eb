"""Atom feeds (RFC 4287) and sitemaps (sitemaps.org 0.9), built from search documents.

Feeds list profiles as lists do: from the search index with the caller's
labels (the public label: feeds are read by feed readers without a login).
An entry's id is a tag URI (RFC 4151) from the profile's id, so it stays the
same when the profile gets a new slug; its link is the profile page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
ATOM_TYPE = "application/atom+xml"
FEED_ENTRIES = 50
SITEMAP_MAX_URLS = 50_000  # per sitemap file (sitemaps.org)

ET.register_namespace("", ATOM_NS)


def _stamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), UTC)
    return None


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def tag_uri(base_url: str, day: datetime | None, specific: str) -> str:
    """A tag URI (RFC 4151): tag:<host>,<YYYY-MM-DD>:<specific>."""
    host = urlsplit(base_url).hostname or "localhost"
    date = (day or datetime(2026, 1, 1, tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d")
    return f"tag:{host},{date}:{specific}"


@dataclass(frozen=True, slots=True)
class Feed:
    """What a feed says about itself. `self_url` is the feed's own address; `alternate_url` the page it follows."""

    id: str
    title: str
    self_url: str
    alternate_url: str
    author: str
    subtitle: str | None = None
    rights: str | None = None


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def atom_feed(feed: Feed, documents: Sequence[Mapping[str, Any]], *, base_url: str, now: datetime | None = None) -> bytes:
    """An Atom feed of profiles (search documents, newest change first)."""
    root = ET.Element(f"{{{ATOM_NS}}}feed", {"xml:lang": "de"})
    _sub(root, "id", feed.id)
    _sub(root, "title", feed.title)
    if feed.subtitle:
        _sub(root, "subtitle", feed.subtitle)
    stamps = [s for s in (_stamp(d.get("updated_at")) for d in documents) if s is not None]
    _sub(root, "updated", rfc3339(max(stamps) if stamps else (now or datetime.now(UTC))))
    _sub(root, "link", rel="self", type=ATOM_TYPE, href=feed.self_url)
    _sub(root, "link", rel="alternate", type="text/html", href=feed.alternate_url)
    author = _sub(root, "author")
    _sub(author, "name", feed.author)
    _sub(author, "uri", base_url + "/")
    _sub(root, "generator", "Leuchtturm")
    if feed.rights:
        _sub(root, "rights", feed.rights)
    for doc in documents:
        updated = _stamp(doc.get("updated_at")) or now or datetime.now(UTC)
        created = _stamp(doc.get("created_at")) or updated
        entry = _sub(root, "entry")
        _sub(entry, "id", tag_uri(base_url, created, f"profil/{doc.get('id')}"))
        _sub(entry, "title", str(doc.get("title") or ""))
        _sub(entry, "link", rel="alternate", type="text/html", href=f"{base_url}/profiles/{doc.get('slug')}")
        _sub(entry, "updated", rfc3339(updated))
        if (published := _stamp(doc.get("published_at"))) is not None:
            _sub(entry, "published", rfc3339(published))
        summary = str(doc.get("summary") or "").strip()
        parts = [summary] if summary else []
        where = ", ".join(str(x) for x in (doc.get("lead"), doc.get("state")) if x)
        if where:
            parts.append(f"({where})")
        _sub(entry, "summary", " ".join(parts) or str(doc.get("title") or ""), type="text")
        for term in doc.get("fields_of_action") or ():
            _sub(entry, "category", term=str(term), label=str(term))
    ET.indent(root)
    return _bytes(root)


def _sitemap(root_tag: str, entry_tag: str, entries: Iterable[tuple[str, datetime | None]]) -> bytes:
    """A sitemap document: `root_tag` with one `entry_tag` per (address, last modification)."""
    root = ET.Element(root_tag, {"xmlns": SITEMAP_NS})
    for loc, lastmod in entries:
        entry = ET.SubElement(root, entry_tag)
        ET.SubElement(entry, "loc").text = loc
        if lastmod is not None:
            ET.SubElement(entry, "lastmod").text = rfc3339(lastmod)
    ET.indent(root)
    return _bytes(root)


def sitemap_urlset(urls: Iterable[tuple[str, datetime | None]]) -> bytes:
    """A sitemap (<urlset>) of (address, last modification)."""
    return _sitemap("urlset", "url", urls)


def sitemap_index(sitemaps: Iterable[tuple[str, datetime | None]]) -> bytes:
    """A sitemap index (<sitemapindex>) of (sitemap address, last modification)."""
    return _sitemap("sitemapindex", "sitemap", sitemaps)


def _bytes(root: ET.Element) -> bytes:
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return out


def document_lastmod(doc: Mapping[str, Any]) -> datetime | None:
    return _stamp(doc.get("updated_at"))
