"""Right labels and attribution: a Regierungsbezirk only where there are any, the Kreis on its own,
no doubled words, and population and area named after the body they belong to."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from catalogue import fields as registry
from catalogue.models import ProfileContent
from catalogue.pdf import comparison_view, render_profile_pdf
from tests.fixtures.profiles import fundbuero

ROOT = Path(__file__).resolve().parents[2]
DEMO = {e["demo_id"]: e for e in json.loads((ROOT / "data" / "demo" / "profiles.json").read_text(encoding="utf-8"))}
AT = datetime(2025, 11, 22, tzinfo=UTC)


def _profile(demo_id: str) -> dict:
    data = {k: v for k, v in DEMO[demo_id].items() if k != "demo_id"}
    return {**ProfileContent.model_validate({k: v for k, v in data.items() if k != "slug"}).model_dump(mode="json"),
            "slug": data["slug"], "status": "published"}


def _text(profile: dict) -> str:
    pdf = render_profile_pdf(profile, url="https://leuchtturm.example/profiles/" + profile["slug"], generated_at=AT)
    return re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf)).pages[0].extract_text())


def test_district_is_stored_by_its_name() -> None:
    for typed in ("Regierungsbezirk Detmold", "Reg.-Bez. Detmold", "regierungsbezirk  Detmold", "Detmold"):
        assert ProfileContent.model_validate({"title": "Test", "district": typed}).district == "Detmold"


def test_district_only_in_the_laender_that_have_them() -> None:
    district = registry.field("district")
    assert registry.applies(district, {"state": "Nordrhein-Westfalen", "district": "Detmold"})
    for state in ("Schleswig-Holstein", "Niedersachsen", "Sachsen", "Berlin", None):
        assert not registry.applies(district, {"state": state, "district": "Irgendwas"}), state


def test_hoexter_kurzprofil_names_the_town_and_says_regierungsbezirk_once() -> None:
    profile = _profile("demo-001")
    text = _text(profile)
    assert "Regierungsbezirk Regierungsbezirk" not in text
    assert "Kurzprofil Stadt Höxter" in text
    assert "Regierungsbezirk Detmold" in text
    assert "28.808 (Stand 31.12.2019, Quelle: IT.NRW)" in text
    row = next(r for r in comparison_view([profile, fundbuero()], urls=["https://a.example/1", "https://a.example/2"],
                                          generated_at=AT)["rows"] if r["key"] == "population")
    assert row["cells"][0].startswith("Stadt Höxter: 28.808")  # the comparison names the body too
    assert row["cells"][1].startswith("12.345")  # fundbuero's figures are its lead's


def test_itzehoe_kreis_is_a_kreis_not_a_regierungsbezirk() -> None:
    profile = _profile("demo-002")
    assert profile["county"] == "Kreis Steinburg" and not profile.get("district")
    text = _text(profile)
    assert "Kreis Steinburg" in text and "Regierungsbezirk" not in text
    state = next(r for r in comparison_view([profile, fundbuero()], urls=["https://a.example/1", "https://a.example/2"],
                                            generated_at=AT)["rows"] if r["key"] == "state")
    assert state["cells"][0] == "Schleswig-Holstein, Kreis Steinburg"


def test_demo_set_has_no_kreis_in_the_district_field() -> None:
    for entry in DEMO.values():
        district = entry.get("district") or ""
        assert not re.search(r"kreis", district, re.IGNORECASE), entry["demo_id"]
        if district:
            assert entry["state"] in ("Baden-Württemberg", "Bayern", "Hessen", "Nordrhein-Westfalen"), entry["demo_id"]
