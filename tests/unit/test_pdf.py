"""Typst PDFs: every field printed, one page for the example profiles, literal hostile text,
page flow for long texts, landscape comparison, reproducible bytes.

PNG renders for review go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import copy
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from catalogue.fields import markdown_fields
from catalogue.formatting import format_date_de, format_eur_de
from catalogue.markdown import to_plain_text
from catalogue.models import public_source
from catalogue.pdf import (
    PdfCache,
    profile_view,
    render_comparison_pdf,
    render_comparison_png,
    render_profile_pdf,
    render_profile_png,
)
from tests.fixtures.profiles import buergerbus, fundbuero

GENERATED_AT = datetime(2025, 11, 22, 9, 30, tzinfo=UTC)
BASE_URL = "https://leuchtturm.example/projekte/"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def url_for(profile: dict[str, Any]) -> str:
    return BASE_URL + profile["slug"]


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def norm(text: str) -> str:
    """Compare text independent of line breaks, hyphenation and spacing."""
    return re.sub(r"[\s\-\u00ad\u2010\u2011\u200b]", "", text)


def assert_contains(haystack: str, needle: str) -> None:
    assert norm(needle) in norm(haystack), f"{needle!r} not found in the PDF text"


def markdown_pieces(markdown: str) -> list[str]:
    """The lines of the plain-text rendering, without list markers."""
    pieces = []
    for raw in to_plain_text(markdown).splitlines():
        line = re.sub(r"^\s*(•|\d+\.)\s+", "", raw).strip()
        if line:
            pieces.append(line)
    return pieces


def expected_values(p: dict[str, Any]) -> list[str]:
    """Every field value of a profile as it should appear in the PDF."""
    values: list[str] = [p["title"], url_for(p), "erstellt am 22.11.2025", p["licence"]]
    if p["summary"]:
        values.append(p["summary"])
    values += p["keywords"] + p["fields_of_action"]
    if p["lead"]:
        values.append(p["lead"]["name"])
        if p["lead"].get("ags"):
            values.append(p["lead"]["ags"])
    values += [m["name"] for m in p["municipalities"]]
    values += [partner["name"] for partner in p["partners"]]
    for key in ("state", "district", "population_source", "size_class", "legal_form", "project_status"):
        if p.get(key):
            values.append(str(p[key]))
    if p["population"] is not None:
        values.append(f"{p['population']:,}".replace(",", "."))
    if p["population_as_of"]:
        values.append(format_date_de(p["population_as_of"]))
    if p["area_km2"] is not None:
        values.append(f"{p['area_km2']:.2f}".replace(".", ",") + " km²")
    if p["collaboration_since"]:
        values.append(str(p["collaboration_since"]))
    for field in (f.name for f in markdown_fields()):
        values += markdown_pieces(p[field])
    values += markdown_pieces(p["funding"]["text"]) + list(p["funding"]["kinds"])
    t = p["transferability"]
    values += [v for v in (t["rating"], t["staff_effort"], t["time_effort"]) if v] + markdown_pieces(t["prerequisites"])
    values += [format_eur_de(t[k]) for k in ("cost_once_eur", "cost_annual_eur") if t[k] is not None]
    values += [str(v) for v in p["contact"].values() if v]
    source = public_source(p["provenance"])  # only the public source: never importer, file or path (issue 13)
    if source:
        values.append(source["title"])
    for link in p["links"]:
        values += [link["title"], link["url"]]
    return values


def write_pngs(name: str, pages: list[bytes]) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    for number, png in enumerate(pages, start=1):
        (ARTIFACTS / f"{name}-{number}.png").write_bytes(png)


# ------------------------------------------------------------------ the example profiles


@pytest.mark.parametrize("make", [fundbuero, buergerbus], ids=["fundbuero", "buergerbus"])
def test_example_profile_prints_every_field_on_one_page(make) -> None:
    profile = make()
    pdf = render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)
    assert pdf.startswith(b"%PDF-")
    pages, text = pdf_text(pdf)
    assert pages == 1
    for value in expected_values(profile):
        assert_contains(text, value)
    for label in ("Kurzprofil", "Einwohner", "Fläche", "Bundesland", "Regierungsbezirk", "Größenklasse",
                  "Rechtsform", "Zusammenarbeit seit", "Projektstand", "Kontakt", "Quelle", "Lizenz"):  # fmt: skip
        if label == "Regierungsbezirk" and profile["state"] not in ("Baden-Württemberg", "Bayern", "Hessen", "Nordrhein-Westfalen"):
            assert "Regierungsbezirk" not in text  # only in the Länder that have them
            continue
        assert_contains(text, label)
    assert_contains(text, "Seite 1 von 1")


def test_hoexter_kurzprofil_is_formatted_german_style() -> None:
    profile = fundbuero()
    _, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT))
    assert_contains(text, "12.345 (Stand 31.12.2022, Quelle: Statistikamt Beispielland)")
    assert_contains(text, "87,65 km²")
    for label in ("Stichworte", "Hauptverantwortlich", "Beteiligte Kommunen", "Sonstige Beteiligte", "Anlass", "Ziel", "Umsetzung", "Finanzierung"):
        assert_contains(text, label)


def test_pdf_metadata() -> None:
    profile = fundbuero()
    reader = PdfReader(io.BytesIO(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)))
    meta = reader.metadata
    assert meta is not None
    assert meta.title == profile["title"]
    assert "Digitalisierung" in (meta.get("/Keywords") or "")
    assert meta.author == "Kreis Beispielland"
    assert str(meta.get("/CreationDate", "")).startswith("D:20251122")
    assert str(reader.trailer["/Root"].get("/Lang")).startswith("de")
    # embedded fonts only
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object()
            fonts.add(str(descriptor["/BaseFont"]))
    assert fonts and all("Libertinus" in f or "DejaVu" in f or "NewCM" in f for f in fonts), fonts


def test_same_input_gives_identical_bytes() -> None:
    profile = buergerbus()
    first = render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)
    second = render_profile_pdf(copy.deepcopy(profile), url=url_for(profile), generated_at=GENERATED_AT)
    assert first == second
    other_day = render_profile_pdf(profile, url=url_for(profile), generated_at=datetime(2025, 11, 23, tzinfo=UTC))
    assert other_day != first
    profiles, urls = [fundbuero(), buergerbus()], [url_for(fundbuero()), url_for(buergerbus())]
    assert render_comparison_pdf(profiles, urls=urls, generated_at=GENERATED_AT) == render_comparison_pdf(
        copy.deepcopy(profiles), urls=urls, generated_at=GENERATED_AT
    )


def test_kept_compilers_give_the_bytes_of_a_fresh_typst_world_also_when_rendering_concurrently() -> None:
    """The renderer keeps Typst compilers between compiles (catalogue/pdf/render.py `_Compilers`); one serves one
    compile at a time. Renders from several threads at once each get their own and the bytes of a new world."""
    import json
    import threading

    import typst

    from catalogue.pdf.render import PROFILE_TEMPLATE, TEMPLATE_DIR

    profiles = [buergerbus(), fundbuero()]
    fresh = []
    for profile in profiles:
        view = profile_view(profile, url=url_for(profile), generated_at=GENERATED_AT)
        fresh.append(typst.compile(str(PROFILE_TEMPLATE), root=str(TEMPLATE_DIR), format="pdf", ignore_system_fonts=True,
                                   sys_inputs={"data": json.dumps(view, ensure_ascii=False, separators=(",", ":"))},
                                   timestamp=GENERATED_AT))
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def render(n: int) -> None:
        profile = profiles[n % 2]
        start.wait()
        try:
            results[n] = render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)
        except BaseException as exc:  # noqa: BLE001 - collected and failed below
            errors.append(exc)

    threads = [threading.Thread(target=render, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [results[n] for n in range(4)] == [fresh[0], fresh[1], fresh[0], fresh[1]]
    # the PNG of a kept compiler is still a PNG per page
    (png,) = render_profile_png(profiles[0], url=url_for(profiles[0]), generated_at=GENERATED_AT, ppi=40)
    assert png.startswith(b"\x89PNG")


# ---------------------------------------------------------------- hostile

HOSTILE_PLAIN = [
    "#set page(width: 1cm)",
    '#import "/etc/passwd": *',
    "#let x = 1",
    "#{ panic() }",
    "$ x^2 + sum_(i=0)^n $",
    "@ref",
    "<label>",
    "a < b > c",
    "C:\\Pfad\\Datei \\n \\\\",
    "[eckig] {geschweift} //kein Kommentar /* auch nicht */",
    "`raw` *fett* _kursiv_ = Überschrift ~ -- ---",
    "#",
    '}) ] ) #panic("x")',
]
ARABIC_WORDS = ["مرحبا", "بالعالم"]
HEBREW_WORDS = ["שלום", "עולם"]


def hostile_profile() -> dict[str, Any]:
    profile = fundbuero()
    profile["title"] = "#set text(red) $x$ @titel <t> \\"
    profile["summary"] = " · ".join(HOSTILE_PLAIN) + " " + " ".join(ARABIC_WORDS) + " " + " ".join(HEBREW_WORDS)
    profile["keywords"] = ["#let", "$", "@", "<>", "\\", "😀 Emoji"]
    profile["lead"] = {"name": '#import "x.typ": *', "kind": "Kreis", "ags": None}
    profile["municipalities"] = [{"name": name, "kind": None} for name in ("#set", "$$", "<Gemeinde>")]
    profile["partners"] = [{"name": "@Partner #1", "kind": "Verein"}]
    profile["district"] = "] #panic()"
    profile["population_source"] = "#amt \\ $"
    profile["implementation"] = (
        "Absatz mit \\#set und \\$ und <html> und `#code` und @ref.\n\n"
        "- Punkt mit #let\n- Punkt mit $\n\n"
        "    eingerückter #Code\n\n"
        "Arabisch: " + " ".join(ARABIC_WORDS) + " Hebräisch: " + " ".join(HEBREW_WORDS) + " Ende 😀 Schluss"
    )
    profile["contact"] = {"organisation": "#Kontakt <x>", "phone": "+49 (0) 1234 / 56-78", "email": "fundbuero@beispielland.example"}
    profile["links"] = [{"title": "#Link $ @", "url": "https://example.org/#set?x=$y&z=<a>"}]
    return profile


def test_hostile_content_renders_literally() -> None:
    profile = hostile_profile()
    pdf = render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)
    _, text = pdf_text(pdf)
    for value in HOSTILE_PLAIN:
        assert_contains(text, value)
    for value in ("#set text(red) $x$ @titel <t> \\", "#let", '#import "x.typ": *', "<Gemeinde>", "@Partner #1",
                  "] #panic()", "#amt \\ $", "#Kontakt <x>", "#Link $ @", "https://example.org/#set?x=$y&z=<a>"):  # fmt: skip
        assert_contains(text, value)
    for value in markdown_pieces(profile["implementation"]):
        for word in value.split():
            if word != "😀":
                assert_contains(text, word)
    # right-to-left scripts: pypdf returns words in visual order, so look word by word
    for word in ARABIC_WORDS + HEBREW_WORDS:
        assert_contains(text, word)
    write_pngs("hostile", render_profile_png(profile, url=url_for(profile), generated_at=GENERATED_AT))


@pytest.mark.xfail(
    strict=True,
    reason="The fonts embedded in the typst package have no emoji glyphs; an emoji font (e.g. Noto Emoji "
    "from a PyPI package) is needed before emoji can be printed and extracted.",
)
def test_emoji_is_printed() -> None:
    profile = hostile_profile()
    _, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT))
    assert "😀" in text


def test_emoji_does_not_break_the_document() -> None:
    profile = fundbuero()
    profile["goal"] = "Vorher 😀👩‍👩‍👧 nachher 🇩🇪 Ende"
    _, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT))
    assert_contains(text, "Vorher")
    assert_contains(text, "nachher")
    assert_contains(text, "Ende")


# ------------------------------------------------------------- long texts


def test_full_profile_flows_onto_next_page_and_nothing_is_cut() -> None:
    profile = fundbuero()
    ending = " Schlusswort ganz am Ende."
    paragraphs, n = [], 0
    while sum(len(p) + 2 for p in paragraphs) < 10_000 - 700 - len(ending):
        paragraphs.append(" ".join(f"Wort{n + i:04d}" for i in range(60)) + ".")
        n += 60
    long_text = "\n\n".join(paragraphs) + ending
    assert 9_000 <= len(long_text) <= 10_000
    assert long_text.endswith("Schlusswort ganz am Ende.")
    profile["implementation"] = long_text
    pdf = render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT, full=True)
    pages, text = pdf_text(pdf)
    assert pages >= 2
    reader = PdfReader(io.BytesIO(pdf))
    page2 = reader.pages[1].extract_text()
    assert_contains(page2, profile["title"])  # repeated header
    assert_contains(page2, f"Seite 2 von {pages}")
    last_words = long_text.split()[-8:]
    for word in last_words:
        assert_contains(text, word)
    for word in long_text.split()[::97]:
        assert_contains(text, word)
    assert_contains(text, "fundbuero@beispielland.example")  # everything after the long text is still there
    write_pngs("long", render_profile_png(profile, url=url_for(profile), generated_at=GENERATED_AT, ppi=60, full=True))
    # the overview of the same profile: one page, the text cut at a sentence end, the rest online
    pages, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT))
    assert pages == 1
    assert_contains(text, "weiter im Online-Profil")
    assert "Schlusswort" not in text
    assert_contains(text, "fundbuero@beispielland.example")


def test_20000_character_field_is_printed_completely() -> None:
    profile = buergerbus()
    profile["lessons"] = ("Ein sehr langer Satz ohne Ende " * 700)[:19_990] + " FINIS"
    pages, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT, full=True))
    assert pages >= 3
    assert_contains(text, "FINIS")


def test_unbreakable_long_word_does_not_crash() -> None:
    profile = buergerbus()
    profile["goal"] = "x" * 5_000
    profile["title"] = "Y" * 200
    pages, text = pdf_text(render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT))
    assert pages >= 1
    assert "xxxxxxxx" in text


# ------------------------------------------------------------- comparison


@pytest.mark.parametrize("count", [2, 3])
def test_comparison_is_landscape_and_shows_each_profile(count: int) -> None:
    third = copy.deepcopy(buergerbus())
    third.update(
        slug="dritte",
        title="Gemeinsamer Bauhof",
        legal_form="Zweckverband",
        collaboration_since=2015,
        funding={"text": "", "kinds": ["Landesmittel"], "programme": "IKZ-Förderung", "amount_eur": 125000.0},
    )
    profiles = [fundbuero(), buergerbus(), third][:count]
    urls = [url_for(p) for p in profiles]
    pdf = render_comparison_pdf(profiles, urls=urls, generated_at=GENERATED_AT)
    reader = PdfReader(io.BytesIO(pdf))
    for page in reader.pages:
        box = page.mediabox
        assert float(box.width) > float(box.height)
    _, text = pdf_text(pdf)
    for label in ("Einwohner", "Fläche", "Größenklasse", "Handlungsfelder", "Rechtsform", "Finanzierung",
                  "Zusammenarbeit seit", "Projektstand", "Kontakt"):  # fmt: skip
        assert_contains(text, label)
    for profile, url in zip(profiles, urls, strict=True):
        assert_contains(text, profile["title"])
        assert_contains(text, url)
        for field in profile["fields_of_action"]:
            assert_contains(text, field)
    assert_contains(text, "12.345")
    assert_contains(text, "87,65 km²")
    assert_contains(text, "18.200")
    if count == 3:
        assert_contains(text, "125.000 €")
        assert_contains(text, "IKZ-Förderung")
        assert_contains(text, "Zweckverband")
    write_pngs(f"vergleich-{count}", render_comparison_png(profiles, urls=urls, generated_at=GENERATED_AT, ppi=90))


def test_comparison_needs_two_or_three_profiles() -> None:
    with pytest.raises(ValueError):
        render_comparison_pdf([fundbuero()], urls=["https://x.example"], generated_at=GENERATED_AT)
    with pytest.raises(ValueError):
        render_comparison_pdf([fundbuero()] * 4, urls=["https://x.example"] * 4, generated_at=GENERATED_AT)


# ----------------------------------------------------------- review images


def test_png_renders_of_the_example_profiles() -> None:
    for profile in (fundbuero(), buergerbus()):
        pages = render_profile_png(profile, url=url_for(profile), generated_at=GENERATED_AT, ppi=110)
        assert len(pages) == 1
        assert pages[0].startswith(b"\x89PNG")
        write_pngs(profile["slug"], pages)


def test_view_is_plain_data() -> None:
    import json

    view = profile_view(fundbuero(), url=url_for(fundbuero()), generated_at=GENERATED_AT)
    assert json.loads(json.dumps(view)) == view


def test_unsafe_profile_url_is_not_linked() -> None:
    profile = fundbuero()
    view = profile_view(profile, url="javascript:alert(1)", generated_at=GENERATED_AT)
    assert view["url"] == ""
    # Only the public source keeps its (safe, https) link; nothing links the unsafe profile URL.
    links = [row["link"] for row in view["closing"]["rows"] if row["link"] is not None]
    assert links == ["https://fundbuero.beispielland.example/projekt"]


# ------------------------------------------------------------------ cache


def test_pdf_cache_lru() -> None:
    cache = PdfCache(max_entries=2)
    assert cache.get("a", 1, "profile") is None
    cache.put("a", 1, "profile", b"A1")
    cache.put("b", 1, "profile", b"B1")
    assert cache.get("a", 1, "profile") == b"A1"  # a is now most recent
    cache.put("c", 1, "profile", b"C1")  # evicts b
    assert cache.get("b", 1, "profile") is None
    assert cache.get("a", 1, "profile") == b"A1"
    assert cache.get("a", 2, "profile") is None  # new revision, new key
    calls = []
    assert cache.get_or_render("a", 2, "profile", lambda: calls.append(1) or b"A2") == b"A2"
    assert cache.get_or_render("a", 2, "profile", lambda: calls.append(1) or b"A2") == b"A2"
    assert calls == [1]
    assert cache.invalidate("a") >= 1
    assert cache.get("a", 2, "profile") is None
    stats = cache.stats()
    assert stats.hits >= 3 and stats.misses >= 4


def test_pdf_cache_knows_its_slugs_and_remembers_levels_per_revision() -> None:
    cache = PdfCache(max_entries=2)
    assert not cache.holds("a") and cache.level("a", "r1") is None
    cache.put("a", "r1:day1", "profile", b"A")
    cache.put("a", "r1:day2", "profile", b"A")
    cache.remember_level("a", "r1", "profile", 3)
    assert cache.holds("a") and cache.level("a", "r1") == 3 and cache.level("a", "r2") is None
    assert cache.level("a", "r1", "profile-full") is None
    cache.put("b", 1, "profile", b"B")  # evicts a's first entry: a still has one
    assert cache.holds("a") and cache.holds("b")
    cache.put("c", 1, "profile", b"C")  # evicts a's last
    assert not cache.holds("a") and cache.level("a", "r1") == 3  # the level outlives the bytes
    cache.invalidate("b")
    assert not cache.holds("b")
    cache.clear()
    assert not cache.holds("c") and cache.level("a", "r1") is None


def test_pdf_cache_byte_bound() -> None:
    cache = PdfCache(max_entries=100, max_bytes=10)
    cache.put("a", 1, "profile", b"123456")
    cache.put("b", 1, "profile", b"123456")
    assert len(cache) == 1
    cache.put("huge", 1, "profile", b"x" * 11)
    assert cache.get("huge", 1, "profile") is None
    assert cache.stats().bytes <= 10


def test_cached_pdf_is_the_rendered_pdf() -> None:
    cache = PdfCache()
    profile = fundbuero()

    def render() -> bytes:
        return render_profile_pdf(profile, url=url_for(profile), generated_at=GENERATED_AT)

    first = cache.get_or_render(profile["slug"], 1, "profile", render)
    assert cache.get(profile["slug"], 1, "profile") is first
