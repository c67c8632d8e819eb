"""Browser tests (Chromium) for the Merkliste, the comparison page and „Kommunen wie meine“: 1366 and 390 px, with and without JavaScript."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import shot
from tests.e2e.test_web_browser import OVERFLOW_JS, _axe, _fits

pytestmark = pytest.mark.e2e

WIDTHS = {"desktop": 1366, "mobil": 390}


def _context(browser, *, js: bool, width: int, bypass_csp: bool = False):
    ctx = browser.new_context(
        locale="de-DE", java_script_enabled=js, viewport={"width": width, "height": 900}, device_scale_factor=1, bypass_csp=bypass_csp
    )
    ctx.set_default_timeout(15_000)
    return ctx


def _basket_slugs(page) -> list[str]:
    return page.eval_on_selector_all("section.basket .basket-items a", "els => els.map(e => e.getAttribute('href').split('/').pop())")


@pytest.mark.parametrize("js", [True, False], ids=["js", "ohne-js"])
@pytest.mark.parametrize("size", ["desktop", "mobil"])
def test_basket_and_compare_page(browser, live_server, js: bool, size: str) -> None:
    ctx = _context(browser, js=js, width=WIDTHS[size])
    page = ctx.new_page()
    name = f"{size}-{'js' if js else 'ohne-js'}"
    try:
        page.goto(live_server.url("/?land=Nordrhein-Westfalen"))
        if js:
            page.evaluate("window.__notReloaded = true")
        slugs = page.eval_on_selector_all(".result-list .result-title a", "els => els.map(e => e.getAttribute('href').split('/').pop())")
        assert len(slugs) >= 3
        for i, slug in enumerate(slugs[:2]):
            page.locator(f'button.basket-toggle[data-basket-slug="{slug}"]').click()
            page.wait_for_function("n => document.querySelectorAll('section.basket .basket-items li').length === n", arg=i + 1)
        assert _basket_slugs(page) == slugs[:2]
        if js:
            assert page.evaluate("window.__notReloaded === true"), "the page reloaded although JavaScript is on"
            assert page.locator(f'button.basket-toggle[data-basket-slug="{slugs[0]}"]').inner_text().startswith("Von der Merkliste entfernen")
            assert page.locator("#merkliste-meldung").inner_text() == "Das Projekt ist auf Ihrer Merkliste."
        else:
            assert "Das Projekt ist auf Ihrer Merkliste." in page.locator(".notice").inner_text()
        # kept across pages: the profile page shows the basket and adds a third
        page.goto(live_server.url(f"/profiles/{slugs[2]}"))
        assert _basket_slugs(page) == slugs[:2]
        page.get_by_role("button", name=re.compile("Merken zum Vergleich")).first.click()
        page.wait_for_function("() => document.querySelectorAll('section.basket .basket-items li').length === 3")
        shot(page, f"merkliste-{name}", full_page=False)

        page.locator("section.basket").get_by_role("link", name="Vergleichen", exact=True).click()
        page.wait_for_url(re.compile(r"/compare\?profiles="))
        assert page.locator("table.compare").count() == 1
        assert _fits(page), f"/compare scrolls sideways at {WIDTHS[size]} px: {page.evaluate(OVERFLOW_JS)}"
        label = page.locator("table.compare tbody th").first
        assert label.evaluate("e => getComputedStyle(e).textAlign") in ("left", "start")
        assert label.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
        shot(page, f"vergleich-{name}")

        # remove one in the basket bar, then the comparison of the other two still works
        page.locator("section.basket").get_by_role("button", name=re.compile("entfernen")).first.click()
        page.wait_for_function("() => document.querySelectorAll('section.basket .basket-items li').length === 2")
        page.goto(live_server.url("/compare"))
        assert page.locator("h1").inner_text() == "Projekte vergleichen"
        assert _fits(page)
        shot(page, f"vergleich-leer-{name}", full_page=False)
    finally:
        ctx.close()


@pytest.mark.parametrize("js", [True, False], ids=["js", "ohne-js"])
@pytest.mark.parametrize("size", ["desktop", "mobil"])
def test_my_municipality_population_land_and_name(browser, live_server, js: bool, size: str) -> None:
    ctx = _context(browser, js=js, width=WIDTHS[size])
    page = ctx.new_page()
    name = f"{size}-{'js' if js else 'ohne-js'}"
    try:
        cases = [
            ({"#einwohner": "30.000"}, "ähnliche Größe"),
            ({"#wie_land": "Bayern"}, "ebenfalls Bayern"),
            ({"#kommune": "Itzehoe"}, ""),
        ]
        for fields, reason in cases:
            page.goto(live_server.url("/"))
            for selector, value in fields.items():
                if selector == "#wie_land":
                    page.select_option(selector, value)
                else:
                    page.fill(selector, value)
            page.get_by_role("button", name="Vergleichbare Projekte zeigen").click()
            page.wait_for_selector("#kommunen-wie-meine")
            items = page.locator("#kommunen-wie-meine .comparable-list > li")
            assert items.count() >= 1, page.locator("#kommunen-wie-meine").inner_text()
            for i in range(items.count()):
                reasons = items.nth(i).locator(".reasons li").all_inner_texts()
                assert reasons
                if reason:
                    assert any(r.startswith(reason) for r in reasons), reasons
            assert _fits(page), f"scrolls sideways at {WIDTHS[size]} px: {page.evaluate(OVERFLOW_JS)}"
        assert "Kommunen wie Itzehoe" in page.locator("#kommunen-wie-meine h2").inner_text()
        shot(page, f"kommunen-wie-meine-name-{name}", full_page=False)
    finally:
        ctx.close()


def test_panel_and_results_are_a_few_tab_presses_away(page, live_server) -> None:
    page.goto(live_server.url("/?einwohner=30000"))
    presses = 0
    while page.evaluate("document.activeElement && document.activeElement.id") != "kommune":
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 12, "„Kommunen wie meine“ is more than 12 Tab presses away"
    page.goto(live_server.url("/?einwohner=30000"))
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Zu den Ergebnissen springen"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#ergebnisse"
    page.keyboard.press("Tab")
    inside = page.evaluate("!!document.activeElement.closest('#ergebnisse')")
    assert inside


def test_new_pages_accessibility_axe(browser, live_server) -> None:
    ctx = _context(browser, js=True, width=1366, bypass_csp=True)
    page = ctx.new_page()
    try:
        page.goto(live_server.url("/?land=Nordrhein-Westfalen"))
        slugs = page.eval_on_selector_all(".result-list .result-title a", "els => els.map(e => e.getAttribute('href').split('/').pop())")
        for slug in slugs[:2]:
            page.locator(f'button.basket-toggle[data-basket-slug="{slug}"]').click()
        page.wait_for_function("() => document.querySelectorAll('section.basket .basket-items li').length === 2")
        found = {"suche-mit-merkliste": _axe(page)}
        for label, path in {
            "vergleich": f"/compare?profiles={slugs[0]},{slugs[1]}",
            "vergleich-leer": "/compare",
            "vergleich-fehler": "/compare?profiles=GROSS",
            "kommunen-wie-meine-einwohner": "/?einwohner=30000",
            "kommunen-wie-meine-land": "/?wie_land=Bayern",
            "leer-wegen-filter": "/?q=Digitalisierung&land=Bremen",
        }.items():
            page.goto(live_server.url(path))
            found[label] = _axe(page)
        serious = {n: [v for v in vs if v["impact"] in ("serious", "critical")] for n, vs in found.items()}
        assert not any(serious.values()), serious
    finally:
        ctx.close()


@pytest.mark.parametrize("size", ["desktop", "mobil"])
def test_editor_autocomplete_fills_from_register(browser, live_server, size: str) -> None:
    from tests.e2e.test_web_browser import login

    ctx = _context(browser, js=True, width=WIDTHS[size], bypass_csp=True)
    page = ctx.new_page()
    try:
        login(page, live_server, "redaktion-hx")
        page.goto(live_server.url("/meine-profile/neu"))
        lead = page.locator("#f-lead-name")
        lead.click()
        lead.press_sequentially("Itzeh", delay=40)
        option = page.get_by_role("option", name=re.compile(r"^Itzehoe \("))
        option.wait_for()
        assert lead.get_attribute("role") == "combobox" and lead.get_attribute("aria-expanded") == "true"
        found = _axe(page)
        lead.press("ArrowDown")
        assert lead.get_attribute("aria-activedescendant")
        lead.press("Enter")
        page.wait_for_function("() => document.getElementById('f-population').value !== ''")
        assert lead.input_value() == "Itzehoe"
        assert re.fullmatch(r"\d{2}\.\d{3}", page.locator("#f-population").input_value())
        assert page.locator("#f-population-as-of").input_value() == "31.12.2019"
        assert "Destatis" in page.locator("#f-population-source").input_value()
        assert page.locator("#f-state").input_value() == "Schleswig-Holstein"
        assert page.locator("#f-lead-ags").input_value() == "01061046"
        note = page.locator(".register-note").inner_text()
        assert "aus dem Gemeindeverzeichnis übernommen" in note and "31.12.2019" in note
        # the editor can still change what the register filled in
        page.locator("#f-population").fill("32.000")
        assert page.locator("#f-population").input_value() == "32.000"
        # a participating municipality row gets suggestions too
        row = page.locator("#f-municipalities-0-name")
        if row.count():
            row.click()
            row.press_sequentially("Flensb", delay=40)
            page.get_by_role("option", name=re.compile(r"^Flensburg")).first.wait_for()
        shot(page, f"formular-vorschlaege-{size}", full_page=False)
        serious = [v for v in found if v["impact"] in ("serious", "critical")]
        assert not serious, serious
    finally:
        ctx.close()


def test_quick_clicks_on_two_projects_keep_both_in_the_basket(browser, live_server) -> None:
    """The basket lives in a cookie: a second click sent before the first answer (and its cookie) arrived
    would start from the old basket and undo the first. The script sends one request at a time."""
    ctx = _context(browser, js=True, width=1366)
    page = ctx.new_page()
    held: list = []
    try:
        page.goto(live_server.url("/?land=Nordrhein-Westfalen"))
        slugs = page.eval_on_selector_all(".result-list .result-title a", "els => els.map(e => e.getAttribute('href').split('/').pop())")
        assert len(slugs) >= 2
        sent: list[str] = []

        def hold(route) -> None:  # hold the first basket request, let later ones through
            sent.append(route.request.url)
            if held:
                route.continue_()
            else:
                held.append(route)

        page.route("**/merkliste", hold)
        page.locator(f'button.basket-toggle[data-basket-slug="{slugs[0]}"]').click()
        for _ in range(50):
            if held:
                break
            page.wait_for_timeout(100)
        assert len(held) == 1
        page.locator(f'button.basket-toggle[data-basket-slug="{slugs[1]}"]').click()
        page.wait_for_timeout(500)
        assert len(sent) == 1, "the second click went out before the first answer"
        held[0].continue_()
        page.wait_for_function("() => document.querySelectorAll('section.basket .basket-items li').length === 2")
        assert page.context.cookies()  # the basket cookie holds both
    finally:
        ctx.close()
