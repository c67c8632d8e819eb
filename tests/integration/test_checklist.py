"""Publication checklist and returned-with-comment through the API, the importer and the pages."""

from __future__ import annotations

import json

import pytest

from catalogue.models import Profile
from tests.factories import example_profile
from tests.integration.test_web_editor import FULL_FORM, _form, login
from tests.web_support import csrf_from, seed_users

pytestmark = pytest.mark.asyncio
API = "/api/v1/profiles"
PROBLEM = "application/problem+json"


async def test_publishing_without_the_checklist_is_refused_with_each_field(client, auth) -> None:
    r = await client.post(API, json={"title": "Nur ein Titel"}, headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    r = await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    assert r.status_code == 200  # submitting is allowed; the editor sees what is missing
    r = await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    problem = r.json()
    assert "kann noch nicht veröffentlicht werden" in problem["detail"]
    fields = {e["field"] for e in problem["errors"]}
    assert fields == {"summary", "lead.name", "state", "fields_of_action", "contact.email", "project_status"}
    assert (await client.get(f"{API}/{slug}", headers=auth["reviewer"])).json()["status"] == "submitted"

    # completing the profile makes it publishable
    r = await client.post(API, json=example_profile(title="Vollständiges Profil"), headers=auth["editor"])
    slug = r.json()["slug"]
    await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    r = await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])
    assert r.status_code == 200 and r.json()["status"] == "published"


async def test_import_without_the_checklist_stays_a_draft_and_says_why(client, auth) -> None:
    records = [example_profile(title="Vollständig importiert"), {"title": "Nur ein Titel importiert"}]
    content = json.dumps(records).encode()
    r = await client.post("/api/v1/imports", files={"file": ("profile.json", content, "application/json")}, headers=auth["reviewer"])
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/v1/imports/{r.json()['id']}/confirm", json={"publish": True}, headers=auth["reviewer"])
    assert r.status_code == 200, r.text
    complete, bare = r.json()["result"]["records"]
    assert complete["status"] == "published"
    assert bare["status"] == "draft"
    reason = " ".join(w["message"] for w in bare["warnings"])
    assert "Bleibt Entwurf" in reason and "Kurzbeschreibung" in reason and "Bundesland" in reason
    assert (await Profile.find_one(Profile.slug == bare["slug"])).status.value == "draft"


async def test_checklist_on_edit_form_review_queue_and_returned_comment(client) -> None:
    await seed_users()
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    r = await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text), "project_status": "", "action": "submit"})
    assert r.status_code == 303, r.text
    mine = await client.get("/meine-profile")
    assert "Für die Veröffentlichung fehlt noch: Projektstand" in mine.text  # listed from the index
    edit_denied = await client.get("/profiles/gemeinsamer-bauhof-nethe")
    assert edit_denied.status_code == 200
    await client.post("/abmelden", data={"csrf_token": csrf_from(mine.text)})

    await login(client, "pruefung")
    queue = await client.get("/redaktion")
    assert "Noch nicht veröffentlichungsreif" in queue.text and "<li>Projektstand</li>" in queue.text
    token = csrf_from(queue.text)
    r = await client.post("/redaktion/gemeinsamer-bauhof-nethe", data={"action": "publish", "comment": "", "csrf_token": token})
    assert r.status_code == 422 and "Es fehlt: Projektstand" in r.text
    r = await client.post("/redaktion/gemeinsamer-bauhof-nethe",
                          data={"action": "return", "comment": "Bitte den Projektstand angeben.", "csrf_token": token})
    assert r.status_code == 303
    await client.post("/abmelden", data={"csrf_token": token})

    await login(client, "redaktion-hx")
    mine = await client.get("/meine-profile")
    assert "Zurückgegeben" in mine.text and "Bitte den Projektstand angeben." in mine.text
    edit = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    assert edit.status_code == 200
    assert "Zurückgegeben" in edit.text and "Bitte den Projektstand angeben." in edit.text
    assert "5 von 6 Angaben" in edit.text and 'href="#f-project-status"' in edit.text
    # once complete, the indicator says so
    form = _form(edit.text)
    r = await client.post("/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **form})
    assert r.status_code == 303
    edit = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    assert "6 von 6 Angaben" in edit.text and "Alle Angaben für die Veröffentlichung sind vorhanden" in edit.text
