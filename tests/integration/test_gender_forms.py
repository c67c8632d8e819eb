"""German gender forms survive on the profile page, in the editor preview and in the PDF,
and ordinary *emphasis* still works (the rule itself: catalogue/markdown.py, `_intraword_asterisk`)."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from catalogue.access import Action
from catalogue.profiles import ProfileService
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import example_profile
from tests.integration.test_web_editor import login
from tests.web_support import csrf_from, seed_users

pytestmark = pytest.mark.asyncio

GOAL = "Alle Bürger*innen und Mitarbeiter*innen, Kolleg:innen und Lehrer_innen sind *herzlich* eingeladen, **ausdrücklich**."
FORMS = ("Bürger*innen", "Mitarbeiter*innen", "Kolleg:innen", "Lehrer_innen")


async def test_gender_forms_on_page_preview_and_pdf(client) -> None:
    reviewer = Principal("rita", Role.REVIEWER)
    svc = ProfileService()
    p = await svc.create(example_profile(title="Gendersternchen im Profil", goal=GOAL), reviewer)
    await svc.transition(p.slug, Action.SUBMIT, reviewer)
    await svc.transition(p.slug, Action.PUBLISH, reviewer)

    page = await client.get(f"/profiles/{p.slug}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for form in FORMS:
        assert form in page.text, form
    assert "<em>herzlich</em>" in page.text and "<strong>ausdrücklich</strong>" in page.text
    assert "Bürger<em>" not in page.text

    await seed_users()
    await login(client, "redaktion-hx")
    mine = await client.get("/meine-profile")
    preview = await client.post("/vorschau", data={"text": GOAL, "csrf_token": csrf_from(mine.text)})
    assert preview.status_code == 200
    for form in FORMS:
        assert form in preview.text, form
    assert "<em>herzlich</em>" in preview.text and "<strong>ausdrücklich</strong>" in preview.text

    for path in (f"/profiles/{p.slug}.pdf", f"/profiles/{p.slug}.pdf?umfang=voll"):
        pdf = await client.get(path)
        text = re.sub(r"[\s\u00ad-]", "", PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text())
        for form in FORMS:
            assert re.sub(r"[\s-]", "", form) in text, (path, form)
