"""The municipality register in the database (real FerretDB): loading, keys, lookups, the API, re-imports, races."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from catalogue import gazetteer as reg
from catalogue.users import Principal
from catalogue.vocabularies import Role
from importers.base import Source
from importers.register import ensure_register
from importers.runner import ImportRunner, parse_sources, read_paths
from tests.web_support import load_register_excerpt, register_excerpt

ADMIN = Principal("import", Role.ADMIN)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "register"


async def test_shipped_register_loads_once_with_every_level_and_keyed_lookups(db) -> None:
    seen: list[tuple[int, int]] = []
    report = await ensure_register(lambda done, total: seen.append((done, total)))
    assert report is not None and not report.updated and not report.removed
    meta = await reg.meta()
    assert meta is not None and meta.full and meta.register_as_of == "2019-12-31"
    assert meta.attribution == "© Statistisches Bundesamt (Destatis), 2020"
    assert meta.counts == {"land": 16, "regierungsbezirk": 29, "kreis": 401, "gemeindeverband": 1210, "gemeinde": 11004}
    assert seen and seen[-1][0] == seen[-1][1] and all(a <= b for a, b in seen)  # progress reaches its total

    # the second start reads one key and writes nothing
    assert await ensure_register() is None

    # every level by its key
    kreis = await reg.get("05762")
    assert kreis is not None and (kreis.level, kreis.label, kreis.kind_label, kreis.parent) == ("kreis", "Kreis Höxter", "Kreis", "057")
    assert kreis.population == 140251 and kreis.population_source == "Destatis GV-ISys (Summe der Gemeinden)"
    town = await reg.get("05762020")
    assert town is not None and town.ags == "05762020" and town.ars == "057620020020"
    assert (town.population, town.population_as_of, town.area_km2, town.size_class.value) == (28808, "2019-12-31", 158.16, "Mittelstadt")
    assert town.urbanisation == "mittlere Besiedlungsdichte" and town.kreis_name == "Kreis Höxter"
    amt = await reg.get("010545453")
    assert amt is not None and amt.ags is None and amt.label == "Amt Viöl" and amt.parent == "01054"
    assert (await reg.get("057")).label == "Regierungsbezirk Detmold"  # type: ignore[union-attr]
    assert (await reg.get("09")).name == "Bayern"  # type: ignore[union-attr]

    # names as people write them
    hoexter = await reg.find_by_name("Höxter")
    assert [(r["key"], r["display_name"]) for r in hoexter] == [("05762020", "Höxter"), ("05762", "Kreis Höxter")]
    assert [r["key"] for r in await reg.find_by_name("Kreis Höxter")] == ["05762"]
    assert [r["key"] for r in await reg.find_by_name("Landkreis Höxter")] == ["05762"]
    assert [r["key"] for r in await reg.find_by_name("Stadt Höxter")] == ["05762020"]
    assert [r["key"] for r in await reg.find_by_name("Hoxter")] == ["05762020", "05762"]  # typed without the umlaut
    assert [r["key"] for r in await reg.find_by_name("Flensburg")] == ["01001000"]  # not "Flensburg, Stadt"
    assert [r["key"] for r in await reg.find_by_name("Flensburg, Stadt")] == ["01001000"]
    assert [r["key"] for r in await reg.find_by_name("Höxter, Stadt")] == ["05762020"]  # the official name is not ambiguous
    assert [r["key"] for r in await reg.find_by_name("Höxter, Irgendwas")] == ["05762020", "05762"]  # an unknown addition is left out
    assert [r["key"] for r in await reg.find_by_name("Amt Viöl")] == ["010545453"]
    assert {r["key"] for r in await reg.find_by_name("Frankfurt")} == {"06412000", "12053000"}
    assert next(r["key"] for r in await reg.find_by_name("Neustadt an der Waldnaab")) == "09374139"
    assert [r["state"] for r in await reg.find_by_name("Berlin")] == ["Berlin"]
    assert await reg.find_by_name("Atlantis") == []

    # prefixes while one types: exact names first, then the larger bodies
    assert [r["display_name"] for r in await reg.suggest("Höxter")][:2] == ["Höxter", "Kreis Höxter"]
    assert {r["display_name"] for r in await reg.suggest("höx", 5)} == {"Höxter", "Kreis Höxter"}
    bad = await reg.suggest("Bad D", 20)
    assert len(bad) >= 5 and all("bad d" in reg.name_key(r["display_name"]) for r in bad)
    assert bad[0]["population"] >= bad[-1]["population"]  # the larger bodies first
    assert [r["display_name"] for r in await reg.suggest("Ahrenviölf")] == ["Ahrenviölfeld"]


async def test_register_import_from_gv100ad_is_idempotent_and_updates(db) -> None:
    path = FIXTURES / "GV100AD_311219-auszug.txt"
    report = await ImportRunner(ADMIN).run_items(read_paths([str(path)], "gazetteer"))
    assert report.ok and report.counts["created"] == 21 and report.counts["error"] == 0
    assert [r["key"] for r in await reg.find_by_name("Viöl")] == ["01054144", "010545453"]  # the Gemeinde and its Amt
    again = await ImportRunner(ADMIN).run_items(read_paths([str(path)], "gazetteer"))
    assert again.counts["unchanged"] == 21 and again.counts["created"] == 0
    # a newer figure updates the entry, its Amt's sum and nothing else
    text = path.read_text(encoding="utf-8").replace("00000002223", "00000002300")  # Viöl's population
    changed = await ImportRunner(ADMIN).run_items(parse_sources([Source("GV100AD_311219.txt", text.encode("utf-8"))], "gazetteer"))
    assert changed.counts["updated"] == 4 and changed.counts["unchanged"] == 17  # Viöl, and the sums of its Amt, Kreis and Land
    assert (await reg.get("01054144")).population == 2300  # type: ignore[union-attr]
    assert [r["population"] for r in await reg.find_by_name("Viöl") if r["key"] == "01054144"] == [2300]
    # dry run plans and writes nothing
    dry = await ImportRunner(ADMIN).run_items(parse_sources([Source("GV100AD_311219.txt", path.read_bytes())], "gazetteer"), dry_run=True)
    assert dry.counts["updated"] == 4
    assert (await reg.get("01054144")).population == 2300  # type: ignore[union-attr]


async def test_register_import_is_for_the_editorial_office(db) -> None:
    from catalogue.errors import PermissionDenied

    items = read_paths([str(FIXTURES / "GV100AD_311219-auszug.txt")], "gazetteer")
    with pytest.raises(PermissionDenied):
        await ImportRunner(Principal("anna", Role.EDITOR)).run_items(items)
    assert await reg.get("05762020") is None


async def test_concurrent_loads_leave_one_consistent_register(db) -> None:
    entries = register_excerpt(("05762",))

    async def load(n: int) -> str:
        try:
            await reg.store(entries, fingerprint=f"race-{n}", source_name="race", register_as_of="2019-12-31", attribution=None, full=False)
            return "stored"
        except reg.RegisterBusy:
            return "busy"

    outcomes = await asyncio.gather(*(load(n) for n in range(5)))
    assert "stored" in outcomes
    assert await reg.RegisterMeta.get("lock") is None  # released
    stored = await reg.stored_entries()
    assert sorted(e["_id"] for e in stored) == sorted(e["_id"] for e in entries)
    assert [r["key"] for r in await reg.find_by_name("Höxter")] == ["05762020", "05762"]


async def test_a_stale_lock_of_a_dead_process_is_taken_over(db) -> None:
    from catalogue.models import utcnow

    await reg.RegisterMeta.get_pymongo_collection().insert_one({"_id": "lock", "until": utcnow()})
    await reg.store(register_excerpt(("01001",)), fingerprint="x", source_name="x", register_as_of=None, attribution=None, full=False)
    assert [r["key"] for r in await reg.find_by_name("Flensburg")] == ["01001000"]


async def test_of_several_loaders_finding_a_stale_lock_exactly_one_takes_it(db) -> None:
    """The takeover is a compare-and-set on the expiry (catalogue.atomic): one winner, the others are told it is busy."""
    from datetime import timedelta

    from catalogue.models import utcnow

    coll = reg.RegisterMeta.get_pymongo_collection()
    for _ in range(3):
        await coll.delete_many({})
        await coll.insert_one({"_id": "lock", "owner": "dead", "until": utcnow() - timedelta(minutes=1)})
        start = asyncio.Event()

        async def take(start: asyncio.Event = start) -> str | None:
            await start.wait()
            try:
                return await reg.acquire_lock()
            except reg.RegisterBusy:
                return None

        tasks = [asyncio.create_task(take()) for _ in range(8)]
        await asyncio.sleep(0)
        start.set()
        tokens = [t for t in await asyncio.gather(*tasks) if t is not None]
        assert len(tokens) == 1
        held = await reg.RegisterMeta.get("lock")
        assert held is not None and held.owner == tokens[0] and held.until is not None and held.until > utcnow()
        assert not await reg.release_lock("dead")  # the dead process cannot give back what it lost
        assert await reg.release_lock(tokens[0])
        assert await reg.RegisterMeta.get("lock") is None


async def test_a_valid_lock_is_not_taken(db) -> None:
    token = await reg.acquire_lock()
    with pytest.raises(reg.RegisterBusy):
        await reg.acquire_lock()
    with pytest.raises(reg.RegisterBusy):
        await reg.store(register_excerpt(("01001",)), fingerprint="y", source_name="y", register_as_of=None, attribution=None, full=False)
    assert await reg.get("01001000") is None  # nothing written while another loader holds the lock
    assert await reg.release_lock(token)


# ------------------------------------------------------------------ API


async def test_municipality_api_lookup_question_and_detail(client) -> None:
    await load_register_excerpt()
    r = await client.get("/api/v1/municipalities", params={"q": "höx"})
    assert r.status_code == 200
    body = r.json()
    assert {i["name"] for i in body["items"]} == {"Höxter", "Kreis Höxter"}
    assert body["source"]["licence"] == "Datenlizenz Deutschland – Namensnennung – Version 2.0"
    assert body["source"]["attribution"].startswith("© Statistisches Bundesamt (Destatis)")

    r = await client.get("/api/v1/municipalities", params={"q": "Höxter", "exact": "true"})
    body = r.json()
    assert body["ambiguous"] is True and [i["key"] for i in body["items"]] == ["05762020", "05762"]
    assert "Welcher Eintrag ist gemeint?" in body["question"] and "Kreis Höxter" in body["question"]
    r = await client.get("/api/v1/municipalities", params={"q": "Kreis Höxter", "exact": "true"})
    assert r.json()["ambiguous"] is False and [i["kind"] for i in r.json()["items"]] == ["Kreis"]

    r = await client.get("/api/v1/municipalities/05762020")
    assert r.status_code == 200
    d = r.json()
    assert (d["name"], d["population"], d["population_as_of"], d["population_source"], d["area_km2"]) == (
        "Höxter", 28808, "2019-12-31", "Destatis GV-ISys", 158.16)
    assert d["kreis"] == "Kreis Höxter" and d["regierungsbezirk"] == "Regierungsbezirk Detmold" and d["state"] == "Nordrhein-Westfalen"
    assert d["size_class"] == "Mittelstadt" and d["urbanisation"] == "mittlere Besiedlungsdichte"

    r = await client.get("/api/v1/municipalities/99999999")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/api/v1/municipalities/1234")
    assert r.status_code in (400, 404) and r.headers["content-type"].startswith("application/problem+json")


async def test_municipality_api_takes_input_literally(client) -> None:
    await load_register_excerpt()
    for hostile in (".*", "(", "[a-z]", "a|b", "^", "$where", '{"$gt": ""}', "../../etc"):
        r = await client.get("/api/v1/municipalities", params={"q": hostile})
        assert r.status_code == 200 and r.json()["items"] == [], hostile
    r = await client.get("/api/v1/municipalities", params={"q": ""})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/api/v1/municipalities", params={"q": "x" * 101})
    assert r.status_code == 400
    r = await client.get("/api/v1/municipalities", params={"q": "Höx", "limit": "500"})
    assert r.status_code == 400


async def test_my_municipality_asks_which_and_shows_the_register_figures(client) -> None:
    await load_register_excerpt()
    r = await client.get("/", params={"kommune": "Höxter"})
    assert r.status_code == 200
    assert "Welche Kommune meinen Sie?" in r.text and "Kreis Höxter" in r.text and "05762020" in r.text
    r = await client.get("/", params={"kommune": "Höxter (05762020)"})
    assert "Welche Kommune meinen Sie?" not in r.text
    r = await client.get("/", params={"kommune": "Flensburg"})
    assert r.status_code == 200 and "Welche Kommune" not in r.text and "steht nicht im" not in r.text
    assert "Mittelstadt" in r.text and "dicht besiedelt" in r.text  # size class and urbanisation from the register
    assert "Statistisches Bundesamt (Destatis)" in r.text and "Datenlizenz Deutschland" in r.text
