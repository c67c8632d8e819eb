"""The Merkliste (compare basket) and the comparison page, without JavaScript and with the JSON answer for it."""

from __future__ import annotations

import re

import pytest

from tests.web_support import csrf_from, seed_published

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def catalogue(client, app):
    slugs = await seed_published(6)
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return slugs


async def _token(client) -> str:
    page = await client.get("/")
    return csrf_from(page.text)


def _basket_titles(html: str) -> list[str]:
    m = re.search(r'<section class="basket".*?</section>', html, re.DOTALL)
    return re.findall(r'<li><a href="/profiles/([a-z0-9-]+)">', m.group(0)) if m else []


async def test_add_remove_and_compare_without_javascript(client, catalogue) -> None:
    token = await _token(client)
    a, b, c, d = catalogue[:4]
    r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": a, "weiter": "/?q=Digitalisierung&hinweis=alt"})
    assert r.status_code == 303
    assert r.headers["location"] == "/?q=Digitalisierung&hinweis=gemerkt#inhalt"
    assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
    page = await client.get("/?q=Digitalisierung&hinweis=gemerkt")
    assert "Das Projekt ist auf Ihrer Merkliste." in page.text
    assert _basket_titles(page.text) == [a]
    assert "Merken Sie ein zweites Projekt" in page.text
    # the result of the basket is marked, the others can be added
    assert re.search(rf'name="entfernen" value="{a}" class="button[^"]*basket-toggle', page.text)

    for slug in (b, c):
        r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": slug, "weiter": f"/profiles/{slug}"})
        assert r.status_code == 303
    profile = await client.get(f"/profiles/{d}")
    assert _basket_titles(profile.text) == [a, b, c]  # kept across pages
    assert re.search(rf'name="hinzufuegen" value="{d}"', profile.text)
    compare_link = re.search(r'href="(/compare\?profiles=[^"]+)">Vergleichen</a>', profile.text)
    assert compare_link

    # a fourth is refused with a German notice; the basket stays as it was
    r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": d, "weiter": f"/profiles/{d}"})
    assert r.status_code == 303 and "hinweis=merkliste-voll" in r.headers["location"]
    full = await client.get(f"/profiles/{d}?hinweis=merkliste-voll")
    assert "höchstens drei Projekte" in full.text
    assert _basket_titles(full.text) == [a, b, c]

    compare = await client.get(compare_link.group(1).replace("&amp;", "&"))
    assert compare.status_code == 200
    assert "Projekte im Vergleich" in compare.text
    for slug in (a, b, c):
        assert f'href="/profiles/{slug}"' in compare.text
    assert '<th scope="row">' in compare.text and 'class="table compare"' in compare.text

    r = await client.post("/merkliste", data={"csrf_token": token, "entfernen": b, "weiter": "/compare"})
    assert r.status_code == 303
    assert _basket_titles((await client.get("/")).text) == [a, c]
    r = await client.post("/merkliste", data={"csrf_token": token, "leeren": "1", "weiter": "/"})
    assert r.status_code == 303
    assert _basket_titles((await client.get("/")).text) == []


async def test_basket_needs_the_form_token(client, catalogue) -> None:
    await _token(client)
    r = await client.post("/merkliste", data={"csrf_token": "falsch" * 5, "hinzufuegen": catalogue[0]}, headers={"Accept": "text/html"})
    assert r.status_code == 403
    assert "Das Formular ist abgelaufen" in r.text
    client.cookies.clear()
    r = await client.post("/merkliste", data={"hinzufuegen": catalogue[0]}, headers={"Accept": "text/html"})
    assert r.status_code == 403


async def test_basket_hostile_input(client, catalogue) -> None:
    token = await _token(client)
    r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": "gibt-es-nicht"}, headers={"Accept": "text/html"})
    assert r.status_code == 404 and "<html" in r.text
    r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": "<script>"}, headers={"Accept": "text/html"})
    assert r.status_code == 422 and "Dieses Projekt gibt es nicht" in r.text
    r = await client.post("/merkliste", data={"csrf_token": token}, headers={"Accept": "text/html"})
    assert r.status_code == 422 and "gemerkt oder entfernt" in r.text
    # an outside address as the way back is replaced by the search page
    r = await client.post("/merkliste", data={"csrf_token": token, "hinzufuegen": catalogue[0], "weiter": "https://boese.example/"})
    assert r.headers["location"].startswith("/?hinweis=gemerkt")
    r = await client.post("/merkliste", data={"csrf_token": token, "entfernen": catalogue[0], "weiter": "//boese.example/x"})
    assert r.headers["location"].startswith("/?")
    # a forged cookie with junk and too many entries is cut to valid slugs, at most three
    client.cookies.set("lt_merkliste", f"{catalogue[0]}.<b>.{catalogue[1]}.{catalogue[2]}.{catalogue[3]}")
    assert _basket_titles((await client.get("/")).text) == catalogue[:3]


async def test_json_answer_for_javascript(client, catalogue) -> None:
    token = await _token(client)
    r = await client.post(
        "/merkliste", data={"csrf_token": token, "hinzufuegen": catalogue[0], "weiter": "/"}, headers={"X-Requested-With": "fetch"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["slugs"] == [catalogue[0]]
    assert body["message"] == "Das Projekt ist auf Ihrer Merkliste."
    assert f'href="/profiles/{catalogue[0]}"' in body["bar"] and "Merkliste" in body["bar"]
    assert "lt_merkliste=" in r.headers["set-cookie"]


async def test_compare_without_projects_explains_the_basket_in_german(client, catalogue) -> None:
    r = await client.get("/compare", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert "Projekte vergleichen" in r.text and "Merken zum Vergleich" in r.text
    assert "Missing" not in r.text


@pytest.mark.parametrize(
    ("param", "status", "message"),
    [
        ("nur-eins", 422, "zwei oder drei Profile"),
        ("a,b,c,d", 422, "zwei oder drei Profile"),
        ("GROSS,klein", 400, "Vergleichsadresse ist ungültig"),
        ("<script>,x", 400, "Vergleichsadresse ist ungültig"),
        ("gibt-es-nicht,auch-nicht", 404, "Profil"),
    ],
)
async def test_compare_bad_parameters_are_german(client, catalogue, param, status, message) -> None:
    r = await client.get("/compare", params={"profiles": param}, headers={"Accept": "text/html"})
    assert r.status_code == status
    assert message in r.text
    assert "Projekte vergleichen" in r.text  # the explanation, not a bare error
    for english in ("Missing", "Validation failed", "query parameter"):
        assert english not in r.text


async def test_compare_pdf_bad_parameters_are_german(client, catalogue) -> None:
    for params in ({}, {"profiles": "GROSS"}, {"profiles": "eins"}):
        r = await client.get("/compare.pdf", params=params, headers={"Accept": "application/problem+json"})
        assert r.status_code in (400, 422)
        detail = r.json()["detail"]
        assert "Bitte" in detail or "ungültig" in detail, detail


async def test_compare_links_email_and_web(client, app) -> None:
    slugs = await seed_published()
    await app.state.runtime.sync.drain(app.state.runtime.search)
    from tests.web_support import demo_profiles

    with_mail = [p["slug"] for p in demo_profiles() if (p.get("contact") or {}).get("email")][:2]
    assert len(with_mail) == 2 and set(with_mail) <= set(slugs)
    r = await client.get("/compare", params={"profiles": ",".join(with_mail)})
    assert r.status_code == 200
    assert re.search(r'<a href="mailto:[^"]+">', r.text)
