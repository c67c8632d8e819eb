"""Browser tests of reuse in Debian's Chromium: the adoption form and saved searches, with and without JavaScript,
at 390 and 1366 px, axe-core without serious violations.

The municipal users are seeded with the live server (tests/web_support.py: MUNICIPAL_USERS); each
parametrisation uses its own municipality, so the cases do not see each other's records.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import shot
from tests.e2e.test_web_browser import _axe, login
from tests.web_support import MUNICIPAL_USERS

pytestmark = pytest.mark.e2e

SLUG = "interkommunale-digitalisierungsstrategie"  # a published demo profile
CASES = [(390, True, "kommune-hoexter"), (1366, True, "kommune-warburg"), (390, False, "kommune-brakel"), (1366, False, "kommune-marienmuenster")]


def _context(browser, width: int, js: bool):
    return browser.new_context(locale="de-DE", java_script_enabled=js, bypass_csp=True, viewport={"width": width, "height": 900})


def _tag(width: int, js: bool) -> str:
    return f"{width}-{'js' if js else 'nojs'}"


@pytest.mark.parametrize(("width", "js", "user"), CASES)
def test_a_municipality_records_edits_and_withdraws_its_adoption_and_a_reviewer_hides_it(browser, live_server, width, js, user) -> None:
    ctx = _context(browser, width, js)
    page = ctx.new_page()
    org = MUNICIPAL_USERS[user][1]
    profile_url = live_server.url(f"/profiles/{SLUG}")
    serious: dict[str, list[dict]] = {}

    def check_axe(name: str) -> None:
        if js:  # axe-core runs as a script
            serious[name] = [v for v in _axe(page) if v["impact"] in ("serious", "critical")]

    def submit(stage: str, note: str | None = None) -> None:
        form = page.locator("form.adoption-form")
        form.get_by_label(re.compile("^" + re.escape(stage) + " ")).check()
        if note is not None:
            form.get_by_label("Kurze Notiz").fill(note)
        form.get_by_role("button", name="Eintragen").click()
        page.wait_for_url(re.compile(r"hinweis=nachnutzung"))
        assert "Die Nachnutzung Ihrer Kommune ist eingetragen" in page.content()

    def own_entry() -> str:
        return page.locator("ul.adopters li", has_text=org).inner_text()

    try:
        # anonymous: an invitation to log in, no form
        page.goto(profile_url)
        section = page.locator("#nachnutzung")
        assert "Melden Sie sich an" in section.inner_text() and page.locator("form.adoption-form").count() == 0

        login(page, live_server, user)
        page.goto(profile_url)
        form = page.locator("form.adoption-form")
        assert f"Nutzt {org} dieses Projekt nach?" in form.inner_text()
        check_axe("nachnutzung-formular")
        note = f"Wir prüfen das für den Bauhof ({_tag(width, js)})."
        form.get_by_label("Kontakt für Rückfragen").fill("bauamt@example.org")
        submit("interessiert", note)
        entry = own_entry()
        assert "interessiert" in entry and note in entry and "bauamt@example.org" in entry

        # the form now edits the own record, filled in
        form = page.locator("form.adoption-form")
        assert f"Stand für {org} ändern" in form.inner_text()
        assert form.get_by_label(re.compile("^interessiert ")).is_checked()
        assert form.get_by_label("Kurze Notiz").input_value() == note
        submit("in Umsetzung")
        assert "in Umsetzung" in own_entry()
        check_axe("nachnutzung-eingetragen")
        shot(page, f"nachnutzung-{_tag(width, js)}")

        # withdrawn: the municipality records that it did not pursue it
        submit("aufgegeben", "Der Rat hat sich dagegen entschieden.")
        assert "aufgegeben" in own_entry() and "Der Rat hat sich dagegen entschieden." in own_entry()
        ctx.clear_cookies()

        # a reviewer hides the entry (as abusive); the public no longer sees it
        login(page, live_server, "pruefung")
        page.goto(profile_url)
        page.locator("ul.adopters li", has_text=org).get_by_role("button", name=re.compile("Ausblenden")).click()
        page.wait_for_url(re.compile(r"hinweis=ausgeblendet"))
        check_axe("nachnutzung-redaktion")
        ctx.clear_cookies()
        page.goto(profile_url)
        assert org not in page.locator("#nachnutzung").inner_text()
        assert not any(serious.values()), serious
    finally:
        ctx.close()


@pytest.mark.parametrize(("width", "js"), [(390, True), (1366, True), (390, False), (1366, False)])
def test_saving_listing_and_deleting_a_search(browser, live_server, width, js) -> None:
    ctx = _context(browser, width, js)
    page = ctx.new_page()
    name = f"Digitalisierung in NRW ({_tag(width, js)})"
    serious: dict[str, list[dict]] = {}

    def check_axe(label: str) -> None:
        if js:
            serious[label] = [v for v in _axe(page) if v["impact"] in ("serious", "critical")]

    try:
        page.goto(live_server.url("/?q=Digitalisierung&land=Nordrhein-Westfalen"))
        assert page.locator("form.save-search").count() == 0, "saving needs a login"
        login(page, live_server, "redaktion-hx")
        page.goto(live_server.url("/?q=Digitalisierung&land=Nordrhein-Westfalen"))
        form = page.locator("form.save-search")
        form.get_by_label("Diese Suche speichern als").fill(name)
        check_axe("suche-speichern")
        form.get_by_role("button", name="Suche speichern").click()
        page.wait_for_url(re.compile(r"/suchen\?hinweis=suche-gespeichert"))

        row = page.locator("tr", has_text=name)
        assert row.count() == 1
        href = row.get_by_role("link", name=name).get_attribute("href") or ""
        assert "q=Digitalisierung" in href and "land=Nordrhein-Westfalen" in href
        check_axe("gespeicherte-suchen")
        shot(page, f"gespeicherte-suchen-{_tag(width, js)}")

        # the saved link opens the same search
        row.get_by_role("link", name=name).click()
        page.wait_for_url(re.compile(r"land=Nordrhein-Westfalen"))
        assert page.locator('input[name="land"][value="Nordrhein-Westfalen"]').is_checked()
        assert page.get_by_label("Suchbegriff").input_value() == "Digitalisierung"

        page.goto(live_server.url("/suchen"))
        page.locator("tr", has_text=name).get_by_role("button", name=re.compile("Löschen")).click()
        page.wait_for_url(re.compile(r"/suchen\?hinweis=suche-geloescht"))
        assert page.locator("tr", has_text=name).count() == 0
        assert not any(serious.values()), serious
    finally:
        ctx.close()
