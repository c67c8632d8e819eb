"""Realistic synthetic profiles for benchmarks (import, search).

`synthetic_profiles(n, seed)` yields `ProfileContent` dicts: titles built
from project types and real municipality names, texts recombined from the
paragraphs of the demo set (data/demo/profiles.json), fields of action,
Bundesländer, legal forms, funding and populations drawn from the
vocabularies. Deterministic for a given seed; every dict validates as
`catalogue.models.ProfileContent`; titles are unique within one call.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalogue.vocabularies import FederalState, FieldOfAction, FundingKind, LegalForm, PartnerKind, ProjectStatus

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "profiles.json"

PROJECT_TYPES = [
    "Gemeinsamer Bauhof", "Interkommunales Gewerbegebiet", "Digitalisierungsstrategie", "Rufbus", "Bürgerbus",
    "Gemeinsame Vergabestelle", "Kommunales Rechenzentrum", "Wärmeplanung im Verbund", "E-Akte-Einführung",
    "Gemeinsames Standesamt", "Breitbandausbau", "Klimaschutzmanagement", "Ärztehaus", "Gemeindeschwester",
    "Tourismusverbund", "Radwegenetz", "Energiegenossenschaft", "Jugendbeteiligung", "Feuerwehr-Kooperation",
    "Online-Bürgerservice", "Dorfladen", "Co-Working-Space", "Schulverbund", "Hochwasserschutz",
    "Gemeinsame Personalverwaltung", "Smart-City-Plattform", "Carsharing", "Leerstandsmanagement",
    "Kulturnetzwerk", "Photovoltaik auf kommunalen Dächern",
]
PLACES = [
    ("Höxter", "Nordrhein-Westfalen"), ("Itzehoe", "Schleswig-Holstein"), ("Soest", "Nordrhein-Westfalen"),
    ("Brakel", "Nordrhein-Westfalen"), ("Warburg", "Nordrhein-Westfalen"), ("Seeshaupt", "Bayern"),
    ("Iffeldorf", "Bayern"), ("Wunsiedel", "Bayern"), ("Cochem", "Rheinland-Pfalz"), ("Daun", "Rheinland-Pfalz"),
    ("Neuruppin", "Brandenburg"), ("Prenzlau", "Brandenburg"), ("Husum", "Schleswig-Holstein"),
    ("Plön", "Schleswig-Holstein"), ("Uelzen", "Niedersachsen"), ("Celle", "Niedersachsen"), ("Gifhorn", "Niedersachsen"),
    ("Eschwege", "Hessen"), ("Fulda", "Hessen"), ("Alsfeld", "Hessen"), ("Görlitz", "Sachsen"), ("Zittau", "Sachsen"),
    ("Pirna", "Sachsen"), ("Wernigerode", "Sachsen-Anhalt"), ("Stendal", "Sachsen-Anhalt"), ("Gotha", "Thüringen"),
    ("Sonneberg", "Thüringen"), ("Güstrow", "Mecklenburg-Vorpommern"), ("Wismar", "Mecklenburg-Vorpommern"),
    ("Merzig", "Saarland"), ("Tübingen", "Baden-Württemberg"), ("Biberach", "Baden-Württemberg"),
    ("Calw", "Baden-Württemberg"), ("Bremerhaven", "Bremen"), ("Bergedorf", "Hamburg"), ("Spandau", "Berlin"),
]
KINDS = [("Gemeinde", 0.35), ("Stadt", 0.35), ("Kreis", 0.15), ("Amt", 0.08), ("Verbandsgemeinde", 0.07)]
PARTNER_NAMES = [
    ("Technische Hochschule", PartnerKind.UNIVERSITY), ("Stadtwerke", PartnerKind.COMPANY), ("Handwerkskammer", PartnerKind.CHAMBER),
    ("Verein Dorfzukunft", PartnerKind.ASSOCIATION), ("Wirtschaftsförderung", PartnerKind.COMPANY),
    ("Volkshochschule", PartnerKind.OTHER), ("Sparkasse", PartnerKind.COMPANY), ("Beratungsbüro", PartnerKind.CONSULTANCY),
]


@lru_cache(maxsize=1)
def _demo() -> list[dict[str, Any]]:
    return json.loads(DEMO.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _paragraphs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in _demo():
        for key in ("occasion", "goal", "implementation", "results", "lessons", "summary"):
            for para in str(entry.get(key) or "").split("\n\n"):
                if para.strip():
                    out.setdefault(key, []).append(para.strip())
    return out


@lru_cache(maxsize=1)
def _keywords() -> list[str]:
    return sorted({k for e in _demo() for k in e.get("keywords", [])})


def _kind(rng: random.Random) -> str:
    r, acc = rng.random(), 0.0
    for kind, weight in KINDS:
        acc += weight
        if r <= acc:
            return kind
    return KINDS[0][0]


def _population(rng: random.Random, kind: str) -> int:
    if kind == "Kreis":
        return rng.randrange(60_000, 400_000, 10)
    if kind == "Stadt":
        return int(rng.lognormvariate(10.0, 0.9)) // 10 * 10 + 2_000
    return int(rng.lognormvariate(8.3, 0.8)) // 10 * 10 + 300


def _text(rng: random.Random, key: str, k: int) -> str:
    paras = _paragraphs().get(key) or _paragraphs()["implementation"]
    return "\n\n".join(rng.sample(paras, min(k, len(paras))))


def synthetic_profiles(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """`n` ProfileContent dicts, deterministic for `seed`, with unique titles."""
    rng = random.Random(seed)
    fields = list(FieldOfAction)
    seen: set[str] = set()
    for i in range(n):
        place, state = rng.choice(PLACES)
        kind = _kind(rng)
        lead_name = f"{kind} {place}"
        base = f"{rng.choice(PROJECT_TYPES)} {place}"
        title = base
        while title in seen:
            title = f"{base} {rng.choice(['II', 'Nord', 'Süd', 'Ost', 'West', 'plus', '2.0', 'im Verbund'])} {rng.randint(2, 99999)}"
        seen.add(title)
        partners_n = rng.randint(0, 3)
        others = rng.sample(PLACES, rng.randint(1, 5))
        population = _population(rng, kind)
        profile: dict[str, Any] = {
            "title": title,
            "summary": _text(rng, "summary", 1)[:480],
            "keywords": rng.sample(_keywords(), rng.randint(2, 6)),
            "fields_of_action": [f.value for f in rng.sample(fields, rng.randint(1, 3))],
            "lead": {"name": lead_name, "kind": kind},
            "municipalities": [{"name": f"{_kind(rng)} {p}", "kind": None} for p, _ in others if p != place],
            "partners": [{"name": f"{name} {place}", "kind": kind.value} for name, kind in rng.sample(PARTNER_NAMES, partners_n)],
            "state": FederalState(state).value,
            "district": None,
            "population": population,
            "population_as_of": f"{rng.randint(2019, 2023)}-12-31",
            "population_source": "Statistisches Landesamt",
            "area_km2": round(rng.uniform(8, 1200), 2),
            "occasion": _text(rng, "occasion", rng.randint(1, 2)),
            "goal": _text(rng, "goal", rng.randint(1, 2)),
            "implementation": _text(rng, "implementation", rng.randint(1, 3)),
            "results": _text(rng, "results", rng.randint(0, 2)),
            "lessons": _text(rng, "lessons", rng.randint(0, 1)),
            "funding": {
                "text": "Gefördert aus Landes- und Eigenmitteln." if rng.random() < 0.6 else "",
                "kinds": [k.value for k in rng.sample(list(FundingKind), rng.randint(0, 2))],
                "programme": None,
                "amount_eur": float(rng.randrange(10_000, 2_000_000, 1000)) if rng.random() < 0.4 else None,
            },
            "legal_form": rng.choice(list(LegalForm)).value if rng.random() < 0.8 else None,
            "collaboration_since": rng.randint(1995, 2024),
            "project_status": rng.choice(list(ProjectStatus)).value,
            "contact": {
                "organisation": lead_name,
                "person": None,
                "email": f"projekt{i}@{place.lower().replace('ö', 'oe').replace('ü', 'ue').replace('ä', 'ae').replace(' ', '')}.example.de",
                "website": None,
            },
            "links": [],
        }
        for m in profile["municipalities"]:
            m["kind"] = m["name"].split(" ", 1)[0]
        yield profile


__all__ = ["synthetic_profiles"]
