"""Browser tests in Debian's Chromium: the main journeys, accessibility (axe-core), no-JS use, screenshots."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import AXE, shot
from tests.web_support import PASSWORD, check_pdf_response

pytestmark = pytest.mark.e2e

SLUG = "interkommunale-digitalisierungsstrategie"


def login(page, live, username: str) -> None:
    page.goto(live.url("/anmelden"))
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url(re.compile(r"/(meine-profile|redaktion)"))


def logout(page) -> None:
    page.get_by_role("button", name=re.compile("Abmelden")).click()
    page.wait_for_url(re.compile(r"/\?hinweis=abgemeldet"))


def test_staff_search_with_typo_filter_open_profile_and_pdf(page, live_server) -> None:
    page.goto(live_server.url("/"))
    shot(page, "suche-desktop")
    page.get_by_label("Suchbegriff").fill("Digitalisirung")  # typo
    page.get_by_role("button", name="Suchen", exact=True).click()
    page.wait_for_url(re.compile(r"q=Digitalisirung"))
    results = page.locator(".result-list .result")
    assert results.count() >= 1
    assert page.locator(f'.result-list a[href="/profiles/{SLUG}"]').count() == 1

    # filter by Bundesland (instant results with JS; the URL stays shareable)
    nrw = page.locator('input[name="land"][value="Nordrhein-Westfalen"]')
    nrw.check()
    page.wait_for_url(re.compile(r"land=Nordrhein-Westfalen"))
    page.wait_for_function("() => !document.getElementById('ergebnisse').hasAttribute('aria-busy')")
    assert page.locator(".active-filters a", has_text="Nordrhein-Westfalen").count() == 1
    for meta in page.locator(".result-meta").all_inner_texts():
        assert "Nordrhein-Westfalen" in meta
    shot(page, "suche-ergebnisse-desktop")

    # the shared URL shows the same state without JS state
    shared = page.url
    page.goto(shared)
    assert page.locator('input[name="land"][value="Nordrhein-Westfalen"]').is_checked()

    page.locator(f'.result-list a[href="/profiles/{SLUG}"]').click()
    page.wait_for_url(re.compile(f"/profiles/{SLUG}$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Interkommunale Digitalisierungsstrategie"
    assert "28.808" in page.locator(".kurzprofil").inner_text()
    shot(page, "profil-desktop")

    pdf_link = page.get_by_role("link", name="Als PDF herunterladen", exact=True)
    assert pdf_link.get_attribute("href") == f"/profiles/{SLUG}.pdf"
    response = page.request.get(live_server.url(f"/profiles/{SLUG}.pdf"))
    check_pdf_response(response.status, response.headers["content-type"], response.body())


@pytest.mark.meili
def test_search_page_on_meilisearch(page, meili_live_server) -> None:
    """The search page with LEUCHTTURM_MEILI_URL set: typo, ß/ss, a filter with counts, marked snippets, the profile."""
    live = meili_live_server
    page.goto(live.url("/"))
    page.get_by_label("Suchbegriff").fill("Digitalisirung")  # typo
    page.get_by_role("button", name="Suchen", exact=True).click()
    page.wait_for_url(re.compile(r"q=Digitalisirung"))
    assert page.locator(f'.result-list a[href="/profiles/{SLUG}"]').count() == 1
    assert page.locator(".result-list mark").count() >= 1  # highlights come through as <mark>, the rest escaped

    nrw = page.locator('input[name="land"][value="Nordrhein-Westfalen"]')
    nrw.check()
    page.wait_for_url(re.compile(r"land=Nordrhein-Westfalen"))
    page.wait_for_function("() => !document.getElementById('ergebnisse').hasAttribute('aria-busy')")
    assert page.locator(".active-filters a", has_text="Nordrhein-Westfalen").count() == 1
    metas = page.locator(".result-meta").all_inner_texts()
    assert metas and all("Nordrhein-Westfalen" in meta for meta in metas)
    shot(page, "suche-meilisearch-desktop")

    page.locator(f'.result-list a[href="/profiles/{SLUG}"]').click()
    page.wait_for_url(re.compile(f"/profiles/{SLUG}$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Interkommunale Digitalisierungsstrategie"


def test_editor_submits_reviewer_publishes_and_it_is_found(page, live_server) -> None:
    login(page, live_server, "redaktion-hx")
    page.get_by_role("link", name="Neues Profil anlegen").click()
    page.get_by_label("Titel", exact=True).fill("Rufbus Wesertal")
    page.get_by_label("Kurzbeschreibung").fill("Ein Rufbus verbindet zwölf Dörfer im Wesertal mit dem Bahnhof.")
    page.get_by_label("Stichworte").fill("Rufbus, ÖPNV")
    page.get_by_label("Mobilität & Verkehr").check()
    page.get_by_label("Name der Kommune oder des Kreises").fill("Stadt Beverungen")
    page.get_by_label("Bundesland").select_option("Nordrhein-Westfalen")
    page.get_by_label("Einwohner", exact=True).fill("13.160")
    page.get_by_label("Projektstand").select_option("laufend")
    page.get_by_label("E-Mail").fill("rufbus@beverungen.example")
    page.get_by_label("Anlass").fill("Der Linienbus fuhr nur **zweimal** am Tag.")
    # live preview (JS) renders the Markdown on the server
    page.wait_for_selector("#f-occasion-vorschau strong")
    assert page.locator("#f-occasion-vorschau strong").inner_text() == "zweimal"
    page.get_by_role("button", name="Speichern und zur Prüfung einreichen").click()
    page.wait_for_url(re.compile(r"/meine-profile\?hinweis=eingereicht"))
    assert "Eingereicht" in page.locator("table").inner_text()
    logout(page)

    login(page, live_server, "pruefung")
    page.goto(live_server.url("/redaktion"))
    item = page.locator(".review-item", has_text="Rufbus Wesertal")
    shot(page, "redaktion-warteschlange-desktop")
    item.get_by_role("button", name=re.compile("Veröffentlichen")).click()
    page.wait_for_url(re.compile(r"/redaktion\?hinweis=veroeffentlicht"))
    page.goto(live_server.url("/profiles/rufbus-wesertal/versionen?von=1&bis=3"))
    assert "Unterschiede von Version 1 zu Version 3" in page.content()
    shot(page, "versionen-vergleich-desktop")
    logout(page)

    # it appears in search (the sync worker indexes it within moments)
    page.goto(live_server.url("/?q=Rufbus+Wesertal"))
    for _ in range(120):  # up to a minute on a loaded machine
        if page.locator('.result-list a[href="/profiles/rufbus-wesertal"]').count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert page.locator('.result-list a[href="/profiles/rufbus-wesertal"]').count() == 1


def test_form_error_keeps_content(page, live_server) -> None:
    login(page, live_server, "redaktion-hx")
    page.goto(live_server.url("/meine-profile/neu"))
    page.get_by_label("Titel", exact=True).fill("Ab")
    page.get_by_label("Ziel").fill("Ein gemeinsamer Bauhof für drei Städte.")
    page.get_by_label("E-Mail").fill("keine-adresse")
    page.get_by_label("Zusammenarbeit seit").fill("1850")
    page.get_by_role("button", name="Entwurf speichern").first.click()
    page.wait_for_selector("#formular-hinweis")
    assert "Bitte prüfen Sie" in page.locator("#formular-hinweis").inner_text()
    assert page.locator("#f-title-fehler").is_visible()
    assert page.locator("#f-contact-email-fehler").is_visible()
    assert page.locator("#f-collaboration-since-fehler").is_visible()
    assert page.get_by_label("Titel", exact=True).input_value() == "Ab"
    assert page.get_by_label("Ziel").input_value() == "Ein gemeinsamer Bauhof für drei Städte."
    assert page.get_by_label("E-Mail").input_value() == "keine-adresse"
    # the error summary links to the field
    page.locator(".error-summary a", has_text="E-Mail").click()
    assert page.evaluate("document.activeElement && document.activeElement.id") in ("f-contact-email", "")
    shot(page, "formular-fehler-desktop")


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )


def test_accessibility_axe(browser, live_server) -> None:
    ctx = browser.new_context(locale="de-DE", bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        pages = {"suche": "/?q=Digitalisierung&land=Nordrhein-Westfalen", "profil": f"/profiles/{SLUG}", "anmelden": "/anmelden"}
        found: dict[str, list[dict]] = {}
        for name, path in pages.items():
            page.goto(live_server.url(path))
            found[name] = _axe(page)
        login(page, live_server, "pruefung")
        for name, path in {"formular": "/meine-profile/neu", "redaktion": "/redaktion", "meine": "/meine-profile"}.items():
            page.goto(live_server.url(path))
            found[name] = _axe(page)
        # the form with errors
        page.goto(live_server.url("/meine-profile/neu"))
        page.get_by_label("Titel", exact=True).fill("A")
        page.get_by_role("button", name="Entwurf speichern").first.click()
        page.wait_for_selector("#formular-hinweis")
        found["formular-fehler"] = _axe(page)
        serious = {name: [v for v in vs if v["impact"] in ("serious", "critical")] for name, vs in found.items()}
        assert not any(serious.values()), serious
    finally:
        ctx.close()


def test_keyboard_skip_link_and_focus(page, live_server) -> None:
    page.goto(live_server.url("/"))
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Zum Inhalt springen"
    outline = page.evaluate("getComputedStyle(document.activeElement).top")
    assert outline != "-64px"  # the skip link becomes visible on focus
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#inhalt"


def test_works_without_javascript(browser, live_server) -> None:
    ctx = browser.new_context(locale="de-DE", java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(live_server.url("/"))
        page.get_by_label("Suchbegriff").fill("Digitalisierung")
        page.get_by_role("button", name="Suchen", exact=True).click()
        page.wait_for_url(re.compile(r"q=Digitalisierung"))
        page.locator('input[name="land"][value="Nordrhein-Westfalen"]').check()
        page.get_by_role("button", name="Filter anwenden").click()
        page.wait_for_url(re.compile(r"land=Nordrhein-Westfalen"))
        page.locator(f'.result-list a[href="/profiles/{SLUG}"]').click()
        page.wait_for_url(re.compile(f"/profiles/{SLUG}$"))
        assert "Kurzprofil" in page.content()

        login(page, live_server, "redaktion-hx")
        page.goto(live_server.url("/meine-profile/neu"))
        page.get_by_label("Titel", exact=True).fill("Ohne JavaScript angelegt")
        page.get_by_label("Umsetzung").fill("- Schritt **eins**\n- Schritt zwei")
        # each Markdown section has its own preview button (Beschreibung, Übertragbarkeit)
        page.get_by_role("group", name="Beschreibung").get_by_role("button", name="Vorschau").click()
        assert page.locator("#f-implementation-vorschau strong").inner_text() == "eins"
        assert page.get_by_label("Titel", exact=True).input_value() == "Ohne JavaScript angelegt"
        page.get_by_role("button", name="Weitere Kommune hinzufügen").click()
        page.locator("#f-municipalities-0-name").fill("Stadt Brakel")
        page.get_by_role("button", name="Entwurf speichern").first.click()
        page.wait_for_url(re.compile(r"/profiles/ohne-javascript-angelegt/bearbeiten\?hinweis=gespeichert"))
        assert "Der Entwurf ist gespeichert" in page.content()
        assert page.locator("#f-municipalities-0-name").input_value() == "Stadt Brakel"
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "js"), [(1366, True), (390, False), (1366, False), (390, True)])
def test_checklist_and_returned_with_comment(browser, live_server, width: int, js: bool) -> None:
    """The editor sees what is missing, the reviewer cannot publish without it and returns the profile
    with a comment, the editor sees "Zurückgegeben" with the comment in "Meine Profile" and on the form."""
    ctx = browser.new_context(locale="de-DE", java_script_enabled=js, bypass_csp=True, viewport={"width": width, "height": 900})
    page = ctx.new_page()
    title = f"Checkliste {width} {'mit' if js else 'ohne'} JS"
    slug = f"checkliste-{width}-{'mit' if js else 'ohne'}-js"
    comment = f"Bitte Kontakt und Projektstand ergänzen ({width})."
    serious: dict[str, list[dict]] = {}

    def check_axe(name: str) -> None:
        if js:  # axe-core runs as a script
            serious[name] = [v for v in _axe(page) if v["impact"] in ("serious", "critical")]

    try:
        login(page, live_server, "redaktion-hx")
        page.goto(live_server.url("/meine-profile/neu"))
        assert "0 von 6 Angaben" in page.locator("#checkliste").inner_text()
        page.get_by_label("Titel", exact=True).fill(title)
        page.get_by_label("Kurzbeschreibung").fill("Zwei Gemeinden teilen sich eine Kehrmaschine.")
        page.get_by_label("Bundesland").select_option("Hessen")
        page.get_by_role("button", name="Entwurf speichern").first.click()
        page.wait_for_url(re.compile(rf"/profiles/{slug}/bearbeiten\?hinweis=gespeichert"))
        checklist = page.locator("section.checklist")
        assert "2 von 6 Angaben" in checklist.inner_text()
        assert checklist.get_by_role("link", name="Projektstand").count() == 1
        check_axe("formular-checkliste")
        shot(page, f"checkliste-formular-{width}-{'js' if js else 'nojs'}")
        page.get_by_role("button", name="Speichern und zur Prüfung einreichen").click()
        page.wait_for_url(re.compile(r"/meine-profile\?hinweis=eingereicht"))
        row = page.locator("tr", has_text=title)
        assert "Für die Veröffentlichung fehlt noch" in row.inner_text()
        ctx.clear_cookies()

        login(page, live_server, "pruefung")
        page.goto(live_server.url("/redaktion"))
        item = page.locator(".review-item", has_text=title)
        assert "Noch nicht veröffentlichungsreif" in item.inner_text() and "Projektstand" in item.inner_text()
        check_axe("redaktion-checkliste")
        item.get_by_role("button", name=re.compile("Veröffentlichen")).click()
        page.wait_for_load_state()
        assert "kann noch nicht veröffentlicht werden" in page.locator(".review-item", has_text=title).inner_text()
        item = page.locator(".review-item", has_text=title)
        item.locator("textarea").fill(comment)
        item.get_by_role("button", name=re.compile("Mit Kommentar zurückgeben")).click()
        page.wait_for_url(re.compile(r"/redaktion\?hinweis=zurueckgegeben"))
        ctx.clear_cookies()

        login(page, live_server, "redaktion-hx")
        page.goto(live_server.url("/meine-profile"))
        row = page.locator("tr", has_text=title)
        assert "Zurückgegeben" in row.inner_text() and comment in row.inner_text()
        check_axe("meine-zurueckgegeben")
        shot(page, f"meine-zurueckgegeben-{width}-{'js' if js else 'nojs'}")
        page.goto(live_server.url(f"/profiles/{slug}/bearbeiten"))
        note = page.locator(".returned-note")
        assert "Zurückgegeben" in note.inner_text() and comment in note.inner_text()
        check_axe("formular-zurueckgegeben")
        assert not any(serious.values()), serious
    finally:
        ctx.close()


OVERFLOW_JS = """() => {
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.right > window.innerWidth + 1 || el.scrollWidth > el.clientWidth + 1) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));
    }
    return out.slice(0, 8);
}"""


def _fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("width", [360, 1280])
def test_screenshots_and_no_horizontal_scroll(browser, live_server, width: int) -> None:
    ctx = browser.new_context(locale="de-DE", viewport={"width": width, "height": 800}, device_scale_factor=1)
    page = ctx.new_page()
    suffix = "mobil" if width == 360 else "desktop"
    try:
        targets = {
            "suche": "/?q=Digitalisierung",
            "kommunen-wie-meine": "/?kommune=H%C3%B6xter",
            "profil": f"/profiles/{SLUG}",
            "anmelden": "/anmelden",
        }
        for name, path in targets.items():
            page.goto(live_server.url(path))
            assert _fits(page), f"{name} scrolls sideways at {width}px: {page.evaluate(OVERFLOW_JS)} {page.evaluate('[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]')}"
            shot(page, f"{name}-{suffix}")
            shot(page, f"{name}-oben-{suffix}", full_page=False)
        login(page, live_server, "pruefung")
        for name, path in {"formular": "/meine-profile/neu", "redaktion": "/redaktion", "meine-profile": "/meine-profile"}.items():
            page.goto(live_server.url(path))
            assert _fits(page), f"{name} scrolls sideways at {width}px: {page.evaluate(OVERFLOW_JS)} {page.evaluate('[document.documentElement.scrollWidth, window.innerWidth, document.body.scrollWidth]')}"
            shot(page, f"{name}-{suffix}")
            shot(page, f"{name}-oben-{suffix}", full_page=False)
        page.goto(live_server.url(f"/profiles/{SLUG}/versionen"))
        shot(page, f"versionen-{suffix}")
    finally:
        ctx.close()
