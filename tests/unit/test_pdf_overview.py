"""The one-page overview: every demo profile and a profile with every field at its maximum
fit one A4 page with the contact on it; long texts end at a sentence with "weiter im Online-Profil";
the comparison of two or three profiles is one landscape page. PNG renders go to tests/artifacts/.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typst
from pypdf import PdfReader

from catalogue.markdown import to_blocks
from catalogue.pdf import (
    profile_view,
    render_comparison_pdf,
    render_comparison_png,
    render_profile_overview,
    render_profile_pdf,
    render_profile_png,
)
from catalogue.pdf import render as pdf_render
from catalogue.pdf.fit import MORE_TEXT, cap_names, estimate_level, section_levels, sentence_ends, shorten_blocks
from tests.fixtures.profiles import buergerbus, fundbuero, longest

GENERATED_AT = datetime(2025, 11, 22, 9, 30, tzinfo=UTC)
BASE_URL = "https://leuchtturm.example/profiles/"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
DEMO = json.loads((ROOT / "data" / "demo" / "profiles.json").read_text(encoding="utf-8"))


def demo_profile(entry: dict[str, Any]) -> dict[str, Any]:
    profile = {k: v for k, v in entry.items() if k != "demo_id"}
    profile.update(status="published", provenance={"importer": "demo", "source": "https://quelle.example/seite"},
                   updated_at="2025-03-01T09:00:00Z")
    return profile


def squash(text: str) -> str:
    return re.sub(r"[\s\-\u00ad]", "", text)


def one_page(profile: dict[str, Any], **kw: Any) -> str:
    pdf = render_profile_pdf(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, **kw)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1, f"{profile['slug']}: {len(reader.pages)} Seiten"
    page = reader.pages[0]
    assert round(float(page.mediabox.width)) == 595 and round(float(page.mediabox.height)) == 842  # A4 portrait
    return page.extract_text()


def contact_needles(profile: dict[str, Any]) -> list[str]:
    contact = profile.get("contact") or {}
    return [contact[k] for k in ("email", "phone") if contact.get(k)]


@pytest.mark.parametrize("entry", DEMO, ids=[e["slug"] for e in DEMO])
def test_every_demo_profile_is_one_page_with_its_contact(entry: dict[str, Any]) -> None:
    profile = demo_profile(entry)
    text = squash(one_page(profile, sample=True))
    for needle in [profile["title"][:40], *contact_needles(profile), "Kontakt", "Kurzprofil", "Beispieldatensatz"]:
        assert squash(needle) in text, (profile["slug"], needle)
    if profile.get("goal"):
        assert "Ziel" in text


def test_all_demo_pngs_land_in_artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for entry in DEMO[:6]:
        profile = demo_profile(entry)
        (png,) = render_profile_png(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, ppi=80, sample=True)
        (ARTIFACTS / f"overview-{profile['slug']}.png").write_bytes(png)


def test_profile_with_every_field_at_its_maximum_is_one_page() -> None:
    profile = longest()
    text = one_page(profile)
    flat = squash(text)
    for needle in ("verwaltung@beispielland.example", "+49(0)1234/567890123456", "Kontakt", "Kurzprofil",
                   "Ziel", "Ergebnisse", "Finanzierung", "weiterimOnlineProfil", "und49weitere", "und47weitereimOnlineProfil"):
        assert squash(needle) in flat, needle
    assert "Bürger*innen" in text  # the gender star survives the shortening
    (png,) = render_profile_png(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, ppi=80)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "overview-longest.png").write_bytes(png)
    # the full profile prints every text
    full = render_profile_pdf(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, full=True)
    assert len(PdfReader(io.BytesIO(full)).pages) > 10


def test_overview_has_a_qr_code_and_the_link() -> None:
    profile = fundbuero()
    pdf = render_profile_pdf(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT)
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    uris = [a.get_object()["/A"]["/URI"] for a in page.get("/Annots", []) if "/A" in a.get_object()]
    assert BASE_URL + profile["slug"] in uris
    assert "Vollständiges Profil online" in page.extract_text()
    view = profile_view(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT)
    assert view["qr"].startswith("<svg") and "<path" in view["qr"]  # drawn by segno, passed as data
    assert profile_view(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, full=True)["qr"] == ""
    assert profile_view(profile, url="javascript:alert(1)", generated_at=GENERATED_AT)["qr"] == ""  # only a safe address


def test_sample_mark_only_when_asked() -> None:
    profile = fundbuero()
    assert "Beispieldatensatz" not in one_page(profile)
    assert "Beispieldatensatz" in one_page(profile, sample=True)


def test_same_input_chooses_the_same_cut() -> None:
    profile = longest()
    a = render_profile_pdf(profile, url=BASE_URL + "x", generated_at=GENERATED_AT)
    b = render_profile_pdf(longest(), url=BASE_URL + "x", generated_at=GENERATED_AT)
    assert a == b


# ------------------------------------------------------------ shortening


def test_sentence_ends_skip_abbreviations_and_ordinals() -> None:
    text = "Seit dem 1. Januar gilt z. B. die neue Regel. Rund 30 Gemeinden sind dabei! Fertig?"
    ends = sentence_ends(text)
    assert [text[:e] for e in ends] == [
        "Seit dem 1. Januar gilt z. B. die neue Regel.",
        "Seit dem 1. Januar gilt z. B. die neue Regel. Rund 30 Gemeinden sind dabei!",
        text,
    ]


def test_shorten_cuts_at_a_sentence_end_and_keeps_formatting() -> None:
    blocks = to_blocks("Erster Satz mit **fett**. Zweiter Satz mit Bürger*innen. Dritter Satz ist lang und fällt weg.")
    short, cut = shorten_blocks(blocks, 60)
    assert cut
    runs = short[0]["runs"]
    assert "".join(r["text"] for r in runs) == "Erster Satz mit fett. Zweiter Satz mit Bürger*innen."
    assert any(r["strong"] and r["text"] == "fett" for r in runs)
    whole, cut = shorten_blocks(blocks, 1000)
    assert not cut and whole == blocks


def test_first_sentence_longer_than_budget_is_cut_at_a_word() -> None:
    blocks = to_blocks("Ein einziger sehr langer Satz " + "mit vielen Wörtern " * 20 + "am Ende.")
    short, cut = shorten_blocks(blocks, 100)
    text = "".join(r["text"] for r in short[0]["runs"])
    assert cut and text.endswith(" …") and len(text) <= 102


def test_levels_end_with_the_more_link_and_shrink() -> None:
    text = " ".join(f"Satz Nummer {i} erklärt etwas Wichtiges zum Projekt." for i in range(200))
    levels = section_levels([("goal", to_blocks(text)), ("occasion", to_blocks(text))], "https://x.example/p")
    lengths = [sum(len(r["text"]) for s in level for b in s["blocks"] for r in b.get("runs", [])) for level in levels]
    assert lengths == sorted(lengths, reverse=True)
    last_goal = levels[-1][0]["blocks"]
    assert last_goal[-1]["runs"][-1]["text"] == MORE_TEXT and last_goal[-1]["runs"][-1]["link"] == "https://x.example/p"
    assert levels[-1][1]["dropped"]  # an optional section makes room first


def test_levels_leave_the_parsed_blocks_untouched_and_link_once_per_section() -> None:
    """Kept blocks are shallow copies (fit.shorten_blocks): the more-link of one level must not reach the parsed
    blocks, another level or another section."""
    import copy

    paragraphs = "\n\n".join(" ".join(f"Absatz {p}, Satz {i} erklärt etwas." for i in range(12)) for p in range(6))
    items = "\n".join(f"- Punkt {i} mit einer Erläuterung zum Vorgehen. Und noch ein Satz." for i in range(30))
    # a whole paragraph, then one that has no sentence end early enough: the link goes to the whole (kept) one
    whole_then_long = "Ein kurzer Satz. Noch einer.\n\n" + "ein langer Satz ohne Ende " * 200 + "."
    sections = [("goal", to_blocks(paragraphs)), ("occasion", to_blocks(items)), ("approach", to_blocks(paragraphs + "\n\n" + items)),
                ("outcome", to_blocks(whole_then_long))]
    parsed = copy.deepcopy(sections)
    levels = section_levels(sections, "https://x.example/p")
    again = section_levels(sections, "https://x.example/p")
    assert sections == parsed and levels == again and len(levels) > 2
    for level in levels:
        for section in level:
            runs = [r for b in section["blocks"] for r in [*b.get("runs", []), *(x for i in b.get("items", []) for x in i["runs"])]]
            assert sum(1 for r in runs if r.get("more")) <= 1


def test_cap_names() -> None:
    names = [f"Gemeinde Nummer {i}" for i in range(50)]
    capped = cap_names(names, 100)
    assert capped.endswith("weitere") and len(capped) < 130
    assert cap_names(["A", "B"]) == "A, B"


# ------------------------------------------------------------ choosing the level


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The views Typst compiles, in order (the hook: render's `_compile`)."""
    seen: list[dict[str, Any]] = []
    real = pdf_render._compile

    def counting(template: Path, view: dict[str, Any], **kw: Any) -> Any:
        seen.append(view)
        return real(template, view, **kw)

    monkeypatch.setattr(pdf_render, "_compile", counting)
    return seen


def measured_level(profile: dict[str, Any], *, sample: bool = False) -> int:
    """The level the template's measured ladder prints (the reference of the estimate)."""
    view = profile_view(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, sample=sample)
    data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    return int(json.loads(typst.query(str(pdf_render.PROFILE_TEMPLATE), "<fit-level>", field="value", one=True,
                                      root=str(pdf_render.TEMPLATE_DIR), ignore_system_fonts=True, sys_inputs={"data": data})))


@pytest.mark.parametrize("make", [fundbuero, buergerbus, lambda: demo_profile(DEMO[1]), lambda: demo_profile(DEMO[2])],
                         ids=["fundbuero", "buergerbus", "demo-1", "demo-2"])
def test_a_typical_profile_is_laid_out_once_at_one_level(make: Any, compiles: list[dict[str, Any]]) -> None:
    profile = make()
    pdf, level = render_profile_overview(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT)
    assert len(compiles) == 1 and len(compiles[0]["levels"]) == 1  # one layout, no measuring of a ladder
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert level <= measured_level(profile)  # no shorter than the measured ladder (longer only when it fits one page)


def test_an_overflowing_guess_falls_back_one_level_at_a_time_and_still_gives_one_page(
    compiles: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = longest()  # needs a short level: level 0 is far too long for one page
    monkeypatch.setattr(pdf_render, "estimate_level", lambda view: 0)
    pdf, level = render_profile_overview(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT)
    assert level > 0 and [v["fit_level"] for v in compiles] == list(range(level + 1))
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    assert squash(MORE_TEXT) in squash(reader.pages[0].extract_text())  # cut at a sentence, with the link on
    # the level found equals what the estimate gives (so the bytes do not depend on how the level was found)
    monkeypatch.undo()
    assert render_profile_overview(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT) == (pdf, level)


def test_a_remembered_level_is_laid_out_once_for_the_pdf_and_the_png(compiles: list[dict[str, Any]]) -> None:
    profile = longest()
    url = BASE_URL + profile["slug"]
    pdf, level = render_profile_overview(profile, url=url, generated_at=GENERATED_AT)
    compiles.clear()
    assert render_profile_pdf(profile, url=url, generated_at=GENERATED_AT, level=level) == pdf
    (png,) = render_profile_png(profile, url=url, generated_at=GENERATED_AT, ppi=40, level=level)
    assert png.startswith(b"\x89PNG") and [v["fit_level"] for v in compiles] == [level, level]


def test_the_estimate_is_never_shorter_than_the_measured_ladder_on_the_demo_set() -> None:
    """Calibration guard (benchmarks/pdf_fit.py has the whole measurement): the estimate never prints less text than
    the ladder for a demo profile; it may guess a longer level, which the one-page check then corrects."""
    for entry in DEMO:
        profile = demo_profile(entry)
        view = profile_view(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT, sample=True)
        assert estimate_level(view) <= measured_level(profile, sample=True), profile["slug"]


def test_page_count_of_a_pdf_and_of_pngs() -> None:
    profile = longest()
    full = render_profile_pdf(profile, url=BASE_URL + "x", generated_at=GENERATED_AT, full=True)
    assert pdf_render.page_count(full) == len(PdfReader(io.BytesIO(full)).pages) > 10
    assert pdf_render.page_count(render_profile_pdf(profile, url=BASE_URL + "x", generated_at=GENERATED_AT)) == 1
    assert pdf_render.page_count([b"a", b"b"], "png") == 2 and pdf_render.page_count(b"a", "png") == 1


# ------------------------------------------------------------ comparison


@pytest.mark.parametrize("count", [2, 3])
def test_comparison_of_the_longest_profiles_is_one_landscape_page(count: int) -> None:
    profiles = [longest() for _ in range(count)]
    urls = [BASE_URL + f"p{i}" for i in range(count)]
    reader = PdfReader(io.BytesIO(render_comparison_pdf(profiles, urls=urls, generated_at=GENERATED_AT)))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height
    assert "verwaltung@beispielland.example" in page.extract_text()


def test_comparison_of_demo_profiles_is_one_page_and_marks_samples() -> None:
    for start in range(0, len(DEMO) - 2, 3):
        profiles = [demo_profile(e) for e in DEMO[start:start + 3]]
        pdf = render_comparison_pdf(profiles, urls=[BASE_URL + p["slug"] for p in profiles], generated_at=GENERATED_AT, sample=True)
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1, [p["slug"] for p in profiles]
        assert "Beispieldatensatz" in reader.pages[0].extract_text()
    plain = render_comparison_pdf([fundbuero(), buergerbus()], urls=[BASE_URL + "a", BASE_URL + "b"], generated_at=GENERATED_AT, sample=True)
    assert "Beispieldatensatz" not in PdfReader(io.BytesIO(plain)).pages[0].extract_text()  # not demo profiles
    (png,) = render_comparison_png([longest()] * 3, urls=[BASE_URL + "a"] * 3, generated_at=GENERATED_AT, ppi=60)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "comparison-longest.png").write_bytes(png)
