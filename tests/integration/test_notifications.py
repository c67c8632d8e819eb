"""Mail notifications through a real local SMTP server (aiosmtpd): adoption, stale reminder, digest; back-off; the lease.

The clock is injected (frozen) wherever time matters; nothing sleeps to make time pass.
"""

from __future__ import annotations

import asyncio
import queue
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from catalogue import freshness, notifications, outbox, saved_searches
from catalogue.access import Action
from catalogue.models import Profile, utcnow
from catalogue.notifications import Notification, NotificationWorker, SmtpTransport
from catalogue.profiles import ProfileService
from catalogue.users import Principal, create_token, create_user
from catalogue.vocabularies import Role
from tests.factories import PASSWORD, example_profile
from tests.web_support import load_register_excerpt

OWNER = Principal("olga", Role.EDITOR)
REVIEWER = Principal("rita", Role.REVIEWER)
SMTP_USER, SMTP_PASSWORD = "leuchtturm", "geheim-smtp"


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.arrived: queue.Queue[Message] = queue.Queue()  # the server runs in its own thread

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(message)
        self.arrived.put(message)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, str]]:
    """A real SMTP server on a free local port that requires a login; yields its inbox and LEUCHTTURM_SMTP_URL."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_require_tls=False)
    controller.start()
    try:
        yield inbox, f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"
    finally:
        controller.stop()


async def _wait_for_mail(inbox: Inbox, limit: float = 30.0) -> Message:
    """Wait (bounded) for the next message to arrive; the sender runs in the app's worker."""
    return await asyncio.to_thread(inbox.arrived.get, timeout=limit)


async def _published(title: str, owner: Principal = OWNER) -> Profile:
    svc = ProfileService()
    profile = await svc.create(example_profile(title=title), owner)
    await svc.transition(profile.slug, Action.SUBMIT, owner)
    return await svc.transition(profile.slug, Action.PUBLISH, REVIEWER)


def _text(message: Message) -> str:
    body = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


APP_SENDS = ("test_an_adoption_mail_reaches_the_smtp_server",)  # elsewhere the test runs its own sender on a frozen clock


@pytest.fixture
def settings(settings, smtp, request):  # the shared fixture, sending through the local SMTP server
    return settings.model_copy(update={
        "smtp_url": smtp[1], "base_url": "https://leuchtturm.example", "mail_from": "Leuchtturm <katalog@leuchtturm.example>",
        "notifications": request.node.originalname in APP_SENDS,
    })


async def test_an_adoption_mail_reaches_the_smtp_server(app, client, smtp) -> None:
    inbox, _ = smtp
    await load_register_excerpt()
    await create_user("olga", PASSWORD, Role.EDITOR, email="olga@example.org", display_name="Olga Owner")
    await create_user("hanna", PASSWORD, Role.EDITOR, organisation="05762020")
    _, secret = await create_token("hanna", "test")
    profile = await _published("Gemeinsamer Bauhof Nethe")
    r = await client.post(
        f"/api/v1/profiles/{profile.slug}/adoptions", json={"stage": "in Planung", "contact": "bauhof@example.org"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert r.status_code == 201, r.text
    message = await _wait_for_mail(inbox)  # sent by the app's notification worker, not in the request
    assert len(inbox.messages) == 1
    assert message["To"] == "olga@example.org" and message["From"] == "Leuchtturm <katalog@leuchtturm.example>"
    assert message["Subject"] == "Nachnutzung: Höxter – Gemeinsamer Bauhof Nethe"
    text = _text(message)
    assert "Guten Tag Olga Owner" in text and "Stand der Nachnutzung: in Planung" in text and "Kontakt: bauhof@example.org" in text
    assert f"https://leuchtturm.example/profiles/{profile.slug}#nachnutzung" in text
    assert await app.state.runtime.notifications.send_due() == 0  # waits for the sender's batch: nothing left to send
    assert await Notification.find_all().count() == 0  # a sent mail leaves the outbox


async def test_stale_detection_and_one_reminder_per_period_with_a_frozen_clock(app, client, smtp) -> None:
    inbox, url = smtp
    await create_user("olga", PASSWORD, Role.EDITOR, email="olga@example.org")
    fresh = await _published("Gemeinsamer Bauhof Nethe")
    rt = app.state.runtime
    # published two days ago (set in the store and re-indexed like any write), so a confirmation now starts a new period
    start = utcnow() - timedelta(days=2)
    await Profile.get_pymongo_collection().update_one({"_id": fresh.id}, {"$set": {"published_at": start}})
    await outbox.enqueue(str(fresh.id), fresh.slug)
    await rt.sync.drain(rt.search)
    fresh = await Profile.get(fresh.id)
    assert fresh is not None
    almost, over = start + timedelta(days=364), start + timedelta(days=366)

    assert await freshness.all_stale(rt.search, now=almost) == []
    assert [p.slug for p in await freshness.all_stale(rt.search, now=over)] == [fresh.slug]
    assert freshness.is_stale(fresh.published_at, over) and not freshness.is_stale(fresh.published_at, almost)
    # the search filter and the list for reviewers say the same
    page = await freshness.stale_profiles(rt.search, REVIEWER, now=over)
    assert [p.slug for p in page.items] == [fresh.slug]
    assert (await freshness.stale_profiles(rt.search, None, now=almost)).total == 0

    # one reminder per period, however often the job runs
    assert await freshness.send_reminders(rt.search, now=over, base_url="https://leuchtturm.example") == 1
    assert await freshness.send_reminders(rt.search, now=over + timedelta(days=1), base_url="https://leuchtturm.example") == 0
    worker = NotificationWorker(SmtpTransport.from_url(url), sender="katalog@leuchtturm.example", clock=lambda: over)
    assert await worker.send_due() == 1
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["Subject"] == "Ist Ihr Projektprofil noch aktuell? – Gemeinsamer Bauhof Nethe"
    text = _text(message)
    assert "nicht mehr als aktuell bestätigt" in text and f"https://leuchtturm.example/profiles/{fresh.slug}" in text

    # the owner confirms: a new period starts (not stale at the frozen time a year after the confirmation minus a day)
    confirmed = await ProfileService().confirm(fresh.slug, OWNER)
    await rt.sync.drain(rt.search)
    assert confirmed.confirmed_at is not None
    assert await freshness.all_stale(rt.search, now=confirmed.confirmed_at + timedelta(days=364)) == []
    later = confirmed.confirmed_at + timedelta(days=400)
    assert await freshness.send_reminders(rt.search, now=later, base_url="https://leuchtturm.example") == 1


async def test_failed_mails_back_off_and_only_the_lease_holder_sends(db) -> None:
    now = utcnow()
    clock = [now]
    down = SmtpTransport(host="127.0.0.1", port=_free_port(), timeout=2)  # nothing listens there
    sender = NotificationWorker(down, sender="katalog@leuchtturm.example", clock=lambda: clock[0])
    other = NotificationWorker(down, sender="katalog@leuchtturm.example", clock=lambda: clock[0])
    assert await notifications.enqueue("test:1", to="a@example.org", subject="Test", body="Hallo", kind="test", now=now)
    assert not await notifications.enqueue("test:1", to="a@example.org", subject="Test", body="Hallo", kind="test", now=now)  # idempotent

    assert await sender.send_due() == 0
    stored = await Notification.get("test:1")
    assert stored is not None and stored.attempts == 1 and "ConnectionRefusedError" in (stored.last_error or "")
    assert abs((stored.next_attempt_at.replace(tzinfo=None) - now.replace(tzinfo=None)).total_seconds() - 30) < 1
    # not due yet: nothing is tried
    assert await sender.send_due() == 0 and (await Notification.get("test:1")).attempts == 1  # type: ignore[union-attr]
    # the other process does not hold the lease and sends nothing, even when due
    clock[0] = now + timedelta(seconds=31)
    assert await other.send_due() == 0 and (await Notification.get("test:1")).attempts == 1  # type: ignore[union-attr]
    assert await sender.send_due() == 0
    stored = await Notification.get("test:1")
    assert stored is not None and stored.attempts == 2  # retried, next wait doubled
    assert abs((stored.next_attempt_at.replace(tzinfo=None) - clock[0].replace(tzinfo=None)).total_seconds() - 60) < 1
    # once the holder's lease has run out, another process takes over
    clock[0] = now + timedelta(minutes=5)
    assert await notifications.acquire_lease(other.holder, now=clock[0])
    assert not await notifications.acquire_lease(sender.holder, now=clock[0])


async def test_weekly_digest_of_saved_searches_grouped_by_profile(app, client, smtp) -> None:
    inbox, url = smtp
    await load_register_excerpt()
    await create_user("sven", PASSWORD, Role.EDITOR, email="sven@example.org", display_name="Sven Sucher", organisation="Warburg")
    _, secret = await create_token("sven", "test")
    headers = {"Authorization": f"Bearer {secret}"}
    await create_user("hanna", PASSWORD, Role.EDITOR, organisation="05762020")  # Höxter: a Mittelstadt like Warburg
    _, hanna = await create_token("hanna", "test")

    old = await _published("Gemeinsamer Bauhof Nethe")
    rt = app.state.runtime
    # published a day before the search is saved (the index keeps whole seconds: a change in the very second counts as new)
    day_before = utcnow() - timedelta(days=1)
    await Profile.get_pymongo_collection().update_one({"_id": old.id}, {"$set": {"published_at": day_before, "updated_at": day_before}})
    await outbox.enqueue(str(old.id), old.slug)
    await rt.sync.drain(rt.search)
    r = await client.post("/api/v1/saved-searches", json={"name": "Bauhof", "query": "q=Bauhof&seite=3"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["query"] == "q=Bauhof" and r.json()["url"] == "https://leuchtturm.example/?q=Bauhof"
    assert (await client.post("/api/v1/saved-searches", json={"query": "q=Bauhof"}, headers=headers)).status_code == 409
    assert (await client.post("/api/v1/saved-searches", json={"query": "q=Rufbus&nachnutzung=umgesetzt"}, headers=headers)).status_code == 201
    listed = (await client.get("/api/v1/saved-searches", headers=headers)).json()
    assert [s["name"] for s in listed] == ["Bauhof", "Rufbus"]

    # after saving: a new profile, and an adoption of the old one by a municipality of Sven's size
    new = await _published("Bauhof-Verbund Egge")
    r = await client.post(f"/api/v1/profiles/{old.slug}/adoptions", json={"stage": "umgesetzt"}, headers={"Authorization": f"Bearer {hanna}"})
    assert r.status_code == 201
    await rt.sync.drain(rt.search)

    now = utcnow() + timedelta(seconds=2)  # the digest's clock, injected: a little after the last change
    worker = NotificationWorker(SmtpTransport.from_url(url), sender="katalog@leuchtturm.example", clock=lambda: now)
    assert await saved_searches.send_digests(rt.search, now=now, base_url="https://leuchtturm.example") == 1
    assert await worker.send_due() == 1
    [digest] = inbox.messages
    assert digest["Subject"] == "Leuchtturm: 2 Neuigkeiten zu Ihren gespeicherten Suchen", _text(digest)
    text = _text(digest)
    assert "Guten Tag Sven Sucher" in text
    assert f"• Bauhof-Verbund Egge\n  neu im Katalog\n  gefunden mit: „Bauhof“\n  https://leuchtturm.example/profiles/{new.slug}" in text
    assert "• Gemeinsamer Bauhof Nethe\n  neu nachgenutzt von Höxter (Mittelstadt wie Ihre Kommune)" in text
    # nothing new since: no second digest
    assert await saved_searches.send_digests(rt.search, now=now + timedelta(days=7), base_url="https://leuchtturm.example") == 0
    # delete
    sid = listed[1]["id"]
    assert (await client.delete(f"/api/v1/saved-searches/{sid}", headers=headers)).status_code == 204
    assert (await client.delete(f"/api/v1/saved-searches/{sid}", headers=headers)).status_code == 404


def test_smtp_url_settings() -> None:
    t = SmtpTransport.from_url("smtp://user%40amt:p%3Ass@mail.example.org:587?starttls=true")
    assert (t.host, t.port, t.username, t.password, t.starttls, t.tls) == ("mail.example.org", 587, "user@amt", "p:ss", True, False)
    t = SmtpTransport.from_url("smtps://mail.example.org")
    assert (t.port, t.tls, t.starttls, t.username) == (465, True, False, None)
    with pytest.raises(ValueError, match="smtp://"):
        SmtpTransport.from_url("http://mail.example.org")
    assert isinstance(notifications.transport_for(None), notifications.LogTransport)


def test_cli_stale_remind_digest_and_organisation(mongo_uri: str, tmp_path, monkeypatch: pytest.MonkeyPatch, smtp) -> None:
    """`leuchtturm stale [--remind]`, `digest --now` and `user create --organisation` against a real store and SMTP server."""
    from click.testing import CliRunner
    from pymongo import MongoClient

    from api.cli import main
    from catalogue.settings import get_settings
    from tests.conftest import unique_db_name
    from tests.factories import STRUCTURED_TEXT

    inbox, url = smtp
    name = unique_db_name("cli")
    env = {"MONGODB_URL": mongo_uri, "MONGODB_DB": name, "DATA_DIR": str(tmp_path / "var"), "MEILI_URL": "", "SMTP_URL": url,
           "BASE_URL": "https://leuchtturm.example", "LOAD_REGISTER": "false", "DEMO_DATA": "false"}
    for key, value in env.items():
        monkeypatch.setenv(f"LEUCHTTURM_{key}", value)
    get_settings.cache_clear()
    cli = CliRunner()
    try:
        r = cli.invoke(main, ["user", "create", "kim", "--password-stdin", "--organisation", "Atlantis"], input=PASSWORD + "\n")
        assert r.exit_code == 1 and "steht nicht im Gemeindeverzeichnis" in r.output, r.output
        r = cli.invoke(main, ["user", "create", "erika", "--password-stdin", "--email", "erika@example.org"], input=PASSWORD + "\n")
        assert r.exit_code == 0, r.output
        assert cli.invoke(main, ["import", str(STRUCTURED_TEXT), "--publish"]).exit_code == 0
        r = cli.invoke(main, ["stale"])
        assert r.exit_code == 0 and "0 Profile seit über 12 Monaten nicht bestätigt" in r.output, r.output
        # published 13 months ago by erika (set in the store), then the index rebuilt from it
        db = MongoClient(mongo_uri, tz_aware=True)[name]
        db.profiles.update_one({}, {"$set": {"published_at": utcnow() - timedelta(days=400), "owner": "erika"}})
        assert cli.invoke(main, ["reindex"]).exit_code == 0
        r = cli.invoke(main, ["stale"])
        assert r.exit_code == 0 and "gemeinsames-online-fundbuero" in r.output and "erika" in r.output, r.output
        r = cli.invoke(main, ["stale", "--remind"])
        assert r.exit_code == 0 and "1 Erinnerungen vorgemerkt, 1 jetzt verschickt" in r.output, r.output
        assert [m["To"] for m in inbox.messages] == ["erika@example.org"]
        r = cli.invoke(main, ["stale", "--remind"])
        assert "0 Erinnerungen vorgemerkt" in r.output and len(inbox.messages) == 1  # once per period
        r = cli.invoke(main, ["digest", "--now"])
        assert r.exit_code == 0 and "0 Wochenübersichten vorgemerkt" in r.output, r.output
    finally:
        get_settings.cache_clear()
        MongoClient(mongo_uri).drop_database(name)
