"""The import runner on the embedded FerretDB: the test texts, upserts, duplicates, dry run, round trips, gazetteer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalogue import gazetteer as gaz
from catalogue.errors import PermissionDenied
from catalogue.models import OutboxEntry, Profile, ProfileContent, ProfileSlug, ProfileVersion, Provenance
from catalogue.profile_keys import ProfileKey
from catalogue.profiles import NewProfile, ProfileService, content_dict
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, Role
from importers.base import Source
from importers.demo import demo_items
from importers.export import export_csv, export_json, export_ndjson
from importers.runner import ImportRunner, parse_sources, read_paths
from tests.factories import REFERENCE_TEXT, STRUCTURED_TEXT

ADMIN = Principal("import", Role.ADMIN)
REVIEWER = Principal("rita", Role.REVIEWER)
EDITOR = Principal("erika", Role.EDITOR)
STRUCTURED = STRUCTURED_TEXT  # the invented structured profile (Kreis Beispielland)
REFERENCE = REFERENCE_TEXT  # the invented reference text (Stadt Beispielstadt)
# The same project from another source (the catalogue's NDJSON): a probable duplicate of STRUCTURED.
OTHER_SOURCE = json.dumps({"title": "Gemeinsames Online-Fundbüro", "lead": {"name": "Kreis Beispielland", "kind": "Kreis"}, "population": 12000}) + "\n"


async def _counts(db) -> dict[str, int]:
    return {name: await db[name].count_documents({}) for name in sorted(await db.list_collection_names())}


async def _import(paths: list[Path], actor: Principal = ADMIN, **kw):
    return await ImportRunner(actor).run_items(read_paths([str(p) for p in paths]), **kw)


def _source(name: str, text: str) -> Source:
    return Source(name=name, raw=text.encode("utf-8"))


async def test_structured_text_gives_the_profile(db) -> None:
    report = await _import([STRUCTURED])
    assert report.summary() == "1 neu, 0 geändert, 0 unverändert, 0 Dubletten übersprungen, 0 Fehler"
    result = report.results[0]
    assert result.action == "created" and result.warnings  # hints for the editor
    p = await Profile.find_one(Profile.slug == result.slug)
    assert p is not None
    assert p.title == "Gemeinsames Online-Fundbüro"
    assert p.lead is not None and p.lead.name == "Kreis Beispielland"
    towns = [m.name for m in p.municipalities]
    assert towns == ["Musterstadt", "Beispielheim", "Probstadt", "Testhausen", "Neu-Exempel"]
    partners = {x.name for x in p.partners}
    assert {"Hochschule Musterland", "Volkshochschule Beispielland"} <= partners
    assert p.population == 12345 and str(p.population_as_of) == "2022-12-31" and p.population_source == "Statistikamt Beispielland"
    assert p.area_km2 == 87.65 and p.district == "Arnsberg" and p.state == "Nordrhein-Westfalen"
    assert p.collaboration_since == 2021
    assert p.contact.email == "fundbuero@beispielland.example" and p.contact.postcode == "12345" and p.contact.city == "Musterstadt"
    # a draft by default, with history, provenance and one outbox entry
    assert p.status == EditorialStatus.DRAFT and p.owner == "import" and p.version == 1
    assert p.last_change is not None and p.last_change.action == "import"
    assert p.provenance is not None and p.provenance.importer == "structured" and p.provenance.source_id == str(STRUCTURED)
    assert await OutboxEntry.find(OutboxEntry.slug == p.slug).count() == 1


async def test_reference_text_is_a_draft_with_warnings(db) -> None:
    report = await _import([REFERENCE], publish=True)  # reference texts stay drafts even then
    result = report.results[0]
    assert result.action == "created" and result.status == "draft"
    assert any("fehlt" in w["message"] for w in result.warnings)
    p = await Profile.find_one(Profile.slug == result.slug)
    assert p is not None and p.status == EditorialStatus.DRAFT
    assert p.state == "Schleswig-Holstein" and p.lead is not None and p.lead.name == "Stadt Beispielstadt"


async def test_dry_run_writes_nothing_and_predicts_the_real_run(db) -> None:
    await _import([REFERENCE])
    before = await _counts(db)
    items = read_paths([str(STRUCTURED), str(REFERENCE)])
    dry = await ImportRunner(ADMIN).run_items(items, dry_run=True, publish=True)
    assert await _counts(db) == before
    assert dry.dry_run and dry.summary().startswith("Probelauf")
    real = await ImportRunner(ADMIN).run_items(read_paths([str(STRUCTURED), str(REFERENCE)]), publish=True)
    assert [(r.action, r.slug, r.status) for r in dry.results] == [(r.action, r.slug, r.status) for r in real.results]
    assert [r.action for r in real.results] == ["created", "unchanged"]


async def test_reimport_changes_nothing(db) -> None:
    first = await _import([STRUCTURED, REFERENCE])
    profiles = {p.slug: (p.version, p.revision_id) for p in await Profile.find_all().to_list()}
    outbox = await OutboxEntry.count()
    second = await _import([STRUCTURED, REFERENCE])
    assert [r.action for r in first.results] == ["created", "created"]
    assert [r.action for r in second.results] == ["unchanged", "unchanged"]
    assert second.summary() == "0 neu, 0 geändert, 2 unverändert, 0 Dubletten übersprungen, 0 Fehler"
    assert {p.slug: (p.version, p.revision_id) for p in await Profile.find_all().to_list()} == profiles
    assert await OutboxEntry.count() == outbox


async def test_changed_source_updates_the_profile(db, tmp_path: Path) -> None:
    path = tmp_path / "fundbuero.txt"
    path.write_text(STRUCTURED.read_text(encoding="utf-8"), encoding="utf-8")
    slug = (await _import([path])).results[0].slug
    path.write_text(STRUCTURED.read_text(encoding="utf-8").replace("Musterstadt", "Musterstadt-Neu", 1), encoding="utf-8")
    report = await _import([path])
    assert [r.action for r in report.results] == ["updated"] and report.results[0].slug == slug
    p = await Profile.find_one(Profile.slug == slug)
    assert p is not None and p.version == 2 and p.last_change.action == "import"


async def test_duplicate_from_another_source_is_skipped_or_merged(db) -> None:
    await ImportRunner(ADMIN).run_items(parse_sources([_source("andere-quelle.ndjson", OTHER_SOURCE)]))
    before = await _counts(db)
    report = await _import([STRUCTURED])
    result = report.results[0]
    assert result.action == "duplicate" and result.duplicate_of == "gemeinsames-online-fundbuero"
    assert "1 Dublette übersprungen" in report.summary()
    assert await _counts(db) == before
    merged = await _import([STRUCTURED], merge=True)
    assert merged.results[0].action == "updated" and merged.results[0].slug == "gemeinsames-online-fundbuero"
    assert await Profile.count() == 1
    p = await Profile.find_one(Profile.slug == "gemeinsames-online-fundbuero")
    assert p is not None and p.version == 2 and p.population == 12345
    assert p.provenance is not None and p.provenance.importer == "structured"
    assert (await _import([STRUCTURED])).results[0].action == "unchanged"  # now it is that source's profile


async def test_broken_records_are_reported_and_the_good_ones_imported(db) -> None:
    good = [{"title": f"Gemeinsamer Bauhof Nummer {n}", "state": "Bayern", "population": 1000 * n} for n in (1, 2, 3)]
    lines = [json.dumps(good[0]), "{kaputt", json.dumps(good[1]), json.dumps({"title": "ab"}),
             json.dumps({"title": "Unbekanntes Land", "state": "Atlantis"}), json.dumps(good[2]), json.dumps({"title": "Doppelt" })]
    lines[-1] = json.dumps(good[0])  # the same record twice in one file
    items = parse_sources([_source("bauhof.ndjson", "\n".join(lines) + "\n")])
    report = await ImportRunner(ADMIN).run_items(items)
    actions = [r.action for r in report.results]
    assert actions == ["created", "error", "created", "error", "error", "created", "duplicate"]
    assert report.summary() == "3 neu, 0 geändert, 0 unverändert, 1 Dublette übersprungen, 3 Fehler"
    assert not report.ok and report.failed == 3
    bad = report.results[1]
    assert bad.position == 2 and bad.source == "bauhof.ndjson" and "JSON" in bad.errors[0]["message"]
    assert any("Titel" in e["message"] for e in report.results[3].errors)
    assert any("Bundesland" in e["message"] for e in report.results[4].errors)
    assert await Profile.count() == 3
    lines_out = "\n".join(report.lines())
    assert "bauhof.ndjson #2: Fehler" in lines_out


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv"])
async def test_export_then_import_reproduces_the_profiles(db, fmt: str) -> None:
    await ImportRunner(ADMIN, importer_label="demo").run_items(demo_items(), publish=True)
    await _import([STRUCTURED, REFERENCE])
    originals = {p.slug: (content_dict(p), p.status) for p in await Profile.find_all().to_list()}
    exported = {"json": export_json, "ndjson": export_ndjson, "csv": export_csv}[fmt](await Profile.find_all().to_list())
    for model in (Profile, ProfileSlug, ProfileVersion, ProfileKey):  # an empty catalogue: profiles with their keys and history
        await model.get_pymongo_collection().delete_many({})
    report = await ImportRunner(ADMIN).run_items(parse_sources([_source(f"export.{fmt}", exported)]), publish=True)
    assert report.ok and report.counts["created"] == len(originals), report.summary()
    again = {p.slug: (content_dict(p), p.status) for p in await Profile.find_all().to_list()}
    assert {s: c for s, (c, _) in again.items()} == {s: c for s, (c, _) in originals.items()}
    # importing the export a second time is a no-op
    second = await ImportRunner(ADMIN).run_items(parse_sources([_source(f"export.{fmt}", exported)]), publish=True)
    assert second.counts["unchanged"] == len(originals), second.summary()


async def test_export_into_the_same_catalogue_is_unchanged(db) -> None:
    svc = ProfileService()
    await svc.create({"title": "Rufbus im Amt Hüttener Berge", "state": "Schleswig-Holstein"}, EDITOR)
    exported = export_ndjson(await Profile.find_all().to_list())
    report = await ImportRunner(ADMIN).run_items(parse_sources([_source("export.ndjson", exported)]))
    assert [r.action for r in report.results] == ["unchanged"]


async def test_publish_needs_a_reviewer(db) -> None:
    before = await _counts(db)
    with pytest.raises(PermissionDenied):
        await _import([STRUCTURED], EDITOR, publish=True)
    with pytest.raises(PermissionDenied):
        await _import([STRUCTURED], EDITOR, publish=True, dry_run=True)
    assert await _counts(db) == before
    report = await _import([STRUCTURED], EDITOR)
    p = await Profile.find_one(Profile.slug == report.results[0].slug)
    assert p is not None and p.status == EditorialStatus.DRAFT and p.owner == "erika"
    published = await _import([STRUCTURED], REVIEWER, publish=True)  # publishes the existing draft
    assert published.results[0].action == "updated" and published.results[0].status == "published"


async def test_editor_cannot_overwrite_someone_elses_profile(db, tmp_path: Path) -> None:
    path = tmp_path / "fundbuero.txt"
    path.write_text(STRUCTURED.read_text(encoding="utf-8"), encoding="utf-8")
    await _import([path], REVIEWER, publish=True)
    path.write_text(STRUCTURED.read_text(encoding="utf-8").replace("Musterweg 1\n", "Musterweg 3\n"), encoding="utf-8")
    report = await _import([path], EDITOR)
    assert report.results[0].action == "error" and "Katalogredaktion" in report.results[0].errors[0]["message"]


async def test_gazetteer_import_from_a_plain_csv_and_literal_lookups(db) -> None:
    csv = (
        "Amtlicher Gemeindeschlüssel;Gemeindename;Fläche km2;Bevölkerung\n"
        "05762;Höxter;1.201,42;\n05762020;Höxter, Stadt;158,16;28.808\n05762004;Bad Driburg, Stadt;142,04;18.980\n"
        "12053000;Frankfurt (Oder), Stadt;147,85;57.751\n"
    )
    items = parse_sources([_source("gemeinden.csv", csv)], "gazetteer")
    with pytest.raises(PermissionDenied):
        await ImportRunner(EDITOR).run_items(items)
    report = await ImportRunner(ADMIN).run_items(items)
    assert report.ok and report.counts["created"] == 4
    assert {r["display_name"] for r in await gaz.suggest("höx")} == {"Höxter", "Kreis Höxter"}
    assert [r["key"] for r in await gaz.suggest("hoex")] == [r["key"] for r in await gaz.suggest("höx")]
    hoexter = await gaz.get("05762020")
    assert hoexter is not None and hoexter.population == 28808 and hoexter.area_km2 == 158.16
    assert hoexter.state is not None and hoexter.state.value == "Nordrhein-Westfalen"
    assert (await gaz.get("05762")).population == 28808 + 18980  # type: ignore[union-attr]  # the sum of what is loaded
    # a second import changes nothing
    again = await ImportRunner(ADMIN).run_items(parse_sources([_source("gemeinden.csv", csv)], "gazetteer"))
    assert again.counts["unchanged"] == 4
    # user input is taken literally, never as a regular expression
    assert [r["display_name"] for r in await gaz.suggest("Frankfurt (O")] == ["Frankfurt (Oder)"]
    for hostile in (".*", "h.xter", "(", "[", "\\", "$", "a|b", "{$gt: ''}"):
        assert await gaz.suggest(hostile) == [], hostile
    for typed, plain in (("Frankfurt .", "Frankfurt"), ("^H", "H"), ("Fr.*", "Fr")):  # punctuation is a word break, no pattern
        assert await gaz.suggest(typed) == await gaz.suggest(plain), typed
    assert await gaz.suggest("") == []
    assert len(await gaz.suggest("b", limit=3)) <= 3


async def test_gazetteer_changed_entries_are_updated(db) -> None:
    csv1 = "Amtlicher Gemeindeschlüssel;Gemeindename;Fläche km2;Bevölkerung\n05762020;Höxter, Stadt;158,16;28.808\n"
    await ImportRunner(ADMIN).run_items(parse_sources([_source("g.csv", csv1)], "gazetteer"))
    report = await ImportRunner(ADMIN).run_items(parse_sources([_source("g.csv", csv1.replace("28.808", "29.001"))], "gazetteer"))
    assert report.counts["updated"] == 1
    entry = await gaz.get("05762020")
    assert entry is not None and entry.population == 29001 and len(await gaz.stored_entries()) == 1


async def test_create_many_and_update_with_provenance(db) -> None:
    svc = ProfileService()
    content = ProfileContent(title="Gemeinsame Vergabestelle Altmark")
    result = await svc.create_many(
        [NewProfile(content=content, slug="vergabestelle"), NewProfile(content=content, slug="vergabestelle")], EDITOR
    )
    first, second = result.items
    assert isinstance(first, Profile) and first.slug == "vergabestelle" and first.revision_id is not None
    assert isinstance(second, Profile) and second.slug != "vergabestelle"  # the clash was retried with a free slug
    # The clash shows when the slugs are reserved, before the outbox: one bulk entry plus the retry's own.
    assert result.outbox_seq is not None
    entries = await OutboxEntry.find_all().sort("_id").to_list()
    assert [len(e.items()) for e in entries] == [1, 1] and entries[0].seq == result.outbox_seq
    with pytest.raises(PermissionDenied):
        await svc.create_many([NewProfile(content=content, slug="x", status=EditorialStatus.PUBLISHED)], EDITOR)
    stored = await svc.find("vergabestelle")
    assert stored.version == 1 and stored.last_change.action == "import"
    updated = await svc.update(
        "vergabestelle", EDITOR, {"title": "Gemeinsame Vergabestelle Altmark-Kreis"}, if_match=None, partial=True,
        require_if_match=False, provenance=Provenance(importer="csv", source_id="x"), action="import",
    )
    assert updated.version == 2 and updated.last_change.action == "import" and updated.provenance.source_id == "x"  # type: ignore[union-attr]
    with pytest.raises(PermissionDenied):
        await svc.update("vergabestelle", EDITOR, {}, if_match=None, partial=True, require_if_match=False, status=EditorialStatus.PUBLISHED)


async def test_bulk_encoding_matches_beanie(db) -> None:
    from beanie.odm.utils.encoder import Encoder

    from catalogue.profiles import _to_db

    await ImportRunner(ADMIN, importer_label="demo").run_items(demo_items()[:5], publish=True)
    await _import([STRUCTURED])
    for p in await Profile.find_all().to_list():
        # Beanie leaves the revision out unless it manages it; ours is the ETag and is always stored.
        assert p.revision_id is not None
        assert _to_db(p) == Encoder(to_db=True, keep_nulls=True, include={"revision_id"}).encode(p)


async def test_other_editors_drafts_are_not_revealed(db) -> None:
    await _import([STRUCTURED], Principal("otto", Role.EDITOR))
    report = await _import([STRUCTURED], EDITOR)
    result = report.results[0]
    # Issue 13: planned as a new profile of its own, exactly as if the hidden draft did not exist.
    assert result.action == "created" and result.duplicate_of is None and result.slug != "gemeinsames-online-fundbuero"
    assert not any("öffentlich" in w["message"] or "vergeben" in w["message"] for w in result.warnings)
    assert await Profile.count() == 2


@pytest.mark.parametrize("strategy", ["keys", "scan"])
async def test_key_lookup_strategies_agree(db, strategy: str) -> None:
    """Per-chunk reads of key documents (request paths) and one preloading scan (large CLI imports) give the same results."""
    def runner() -> ImportRunner:
        return ImportRunner(ADMIN, key_strategy=strategy, chunk_size=2)

    await runner().run_items(parse_sources([_source("andere-quelle.ndjson", OTHER_SOURCE)]))
    same_title = [
        {"title": "Gemeinsamer Bauhof", "lead": {"name": "Gemeinde Seeshaupt", "kind": "Gemeinde"}},
        {"title": "Gemeinsamer Bauhof", "lead": {"name": "Gemeinde Iffeldorf", "kind": "Gemeinde"}},
        {"title": "Gemeinsamer Bauhof", "lead": {"name": "Gemeinde Bernried", "kind": "Gemeinde"}},
        {"title": "Gemeinsamer Bauhof", "lead": {"name": "Gemeinde Seeshaupt", "kind": "Gemeinde"}, "summary": "anders"},
    ]
    ndjson = "\n".join(json.dumps(x) for x in same_title) + "\n"
    first = await runner().run_items(parse_sources([_source("bauhof.ndjson", ndjson)]))
    assert [(r.action, r.slug) for r in first.results] == [
        ("created", "gemeinsamer-bauhof"),
        ("created", "gemeinsamer-bauhof-gemeinde-iffeldorf"),
        ("created", "gemeinsamer-bauhof-gemeinde-bernried"),
        ("duplicate", "gemeinsamer-bauhof"),
    ]
    again = await runner().run_items(parse_sources([_source("bauhof.ndjson", ndjson)]))
    assert [r.action for r in again.results] == ["unchanged", "unchanged", "unchanged", "duplicate"]
    dup = await runner().run_items(read_paths([str(STRUCTURED)]))
    assert dup.results[0].action == "duplicate" and dup.results[0].duplicate_of == "gemeinsames-online-fundbuero"
    exported = export_ndjson(await Profile.find_all().to_list())
    assert (await runner().run_items(parse_sources([_source("e.ndjson", exported)]))).counts["unchanged"] == 4


def test_cli_import_and_export(mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`leuchtturm import` / `export`: report, exit codes 0/1/2, export that imports back unchanged."""
    from click.testing import CliRunner
    from pymongo import MongoClient

    from api.cli import main
    from catalogue.settings import get_settings
    from tests.conftest import unique_db_name

    name = unique_db_name("cli")
    for key, value in {"MONGODB_URL": mongo_uri, "MONGODB_DB": name, "DATA_DIR": str(tmp_path / "var"), "MEILI_URL": ""}.items():
        monkeypatch.setenv(f"LEUCHTTURM_{key}", value)
    get_settings.cache_clear()
    cli = CliRunner()
    try:
        r = cli.invoke(main, ["import", str(STRUCTURED), str(REFERENCE), "--dry-run"])
        assert r.exit_code == 0, r.output
        assert "Probelauf (nichts gespeichert): 2 neu" in r.output
        r = cli.invoke(main, ["import", str(STRUCTURED), str(REFERENCE), "--publish"])
        assert r.exit_code == 0, r.output
        assert "2 neu, 0 geändert, 0 unverändert, 0 Dubletten übersprungen, 0 Fehler" in r.output
        assert "strukturiert-fundbuero-beispielland.txt #1: neu – gemeinsames-online-fundbuero" in r.output
        broken = tmp_path / "teils.ndjson"
        broken.write_text(json.dumps({"title": "Gemeinsamer Bauhof Nordheide"}) + "\n{kaputt\n", encoding="utf-8")
        r = cli.invoke(main, ["import", str(broken), "--report", str(tmp_path / "bericht.json")])
        assert r.exit_code == 1, r.output
        assert "1 neu, 0 geändert, 0 unverändert, 0 Dubletten übersprungen, 1 Fehler" in r.output
        written = json.loads((tmp_path / "bericht.json").read_text(encoding="utf-8"))  # written record by record
        assert written["counts"]["error"] == 1 and written["total"] == 2 and written["complete"] is True
        assert [(r["position"], r["action"]) for r in written["records"]] == [(1, "created"), (2, "error")]
        r = cli.invoke(main, ["user", "create", "erika", "--password-stdin"], input="ein-sicheres-passwort\n")
        assert r.exit_code == 0, r.output
        r = cli.invoke(main, ["import", str(STRUCTURED), "--publish", "--user", "erika"])
        assert r.exit_code == 2 and "Katalogredaktion" in r.output
        register = tmp_path / "gemeinden.csv"  # a register among the files: refused before anything is read or written
        register.write_text("Amtlicher Gemeindeschlüssel;Gemeindename;Fläche km2;Bevölkerung\n05762020;Höxter, Stadt;158,16;28.808\n",
                            encoding="utf-8")
        for fmt in ("auto", "gazetteer"):
            r = cli.invoke(main, ["import", str(broken), str(register), "--format", fmt, "--user", "erika"])
            assert r.exit_code == 2 and "Katalogredaktion" in r.output and "gemeinden.csv" in r.output, (fmt, r.output)
            assert "Fehler" in r.output and "neu" not in r.output
        assert cli.invoke(main, ["import", str(STRUCTURED), "--user", "niemand"]).exit_code == 2
        assert cli.invoke(main, ["import", str(tmp_path / "fehlt.txt")]).exit_code == 2
        out = tmp_path / "export.csv"
        r = cli.invoke(main, ["export", str(out)])
        assert r.exit_code == 0 and "3 Profile" in r.output
        r = cli.invoke(main, ["export", "--status", "published", "--format", "ndjson", "-"])
        assert r.exit_code == 0 and len([line for line in r.output.splitlines() if line.startswith("{")]) == 1  # the reference text stayed a draft
        r = cli.invoke(main, ["import", str(out)])
        assert r.exit_code == 0 and "0 neu, 0 geändert, 3 unverändert" in r.output, r.output
    finally:
        get_settings.cache_clear()
        MongoClient(mongo_uri).drop_database(name)


@pytest.mark.skipif(bool(__import__("os").environ.get("LEUCHTTURM_TEST_MONGODB_URL")), reason="the scan is chosen only on FerretDB")
async def test_the_cli_scans_when_the_store_holds_few_profiles_per_record_and_reads_keys_otherwise(db) -> None:
    """On FerretDB "auto" reads the stored profiles once (nothing, into an empty store) instead of four keyed reads per
    record, unless the store holds more than SCAN_RATIO profiles per record of the run."""
    from importers.runner import SCAN_RATIO, KnownProfiles

    assert (await KnownProfiles.open("auto", records=1)).preload  # an empty store: nothing to read
    await Profile.get_pymongo_collection().insert_many(
        [{"slug": f"p-{n}", "title": f"Profil {n}", "status": "published", "provenance": {"source_id": f"s{n}"}} for n in range(6)]
    )
    known = await KnownProfiles.open("auto", records=6 // SCAN_RATIO)
    assert known.preload and known.by_source_id.keys() == {f"s{n}" for n in range(6)}
    assert not (await KnownProfiles.open("auto", records=6 // SCAN_RATIO - 1)).preload
    assert not (await KnownProfiles.open("auto", records=0)).preload


async def test_files_are_read_a_chunk_at_a_time_and_results_handed_on_in_order(db, tmp_path: Path) -> None:
    """`iter_paths` into `run_items(on_result=...)` (the CLI): the files are read only a chunk ahead of the write, the
    results come in record order and are only counted in the report; the outcome equals a run over the parsed list."""
    from importers.runner import estimate_records, iter_paths

    files = []
    for f in range(3):
        lines = [json.dumps({"title": f"Projekt {f}-{n}", "lead": {"name": f"Gemeinde {f}{n}", "kind": "Gemeinde"}}) for n in range(5)]
        if f == 1:
            lines.append("{kaputt")  # an error record in the middle
            lines.append(json.dumps({"title": "Projekt 0-1", "lead": {"name": "Gemeinde 01", "kind": "Gemeinde"}}))  # a duplicate
        (path := tmp_path / f"teil-{f}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(str(path))
    assert estimate_records(files) == 17  # a line per record (the broken one too)
    pulled = 0

    def lazily():
        nonlocal pulled
        for item in iter_paths(files):
            pulled += 1
            yield item

    runner = ImportRunner(ADMIN, chunk_size=2)
    ahead: list[int] = []
    original = runner.service.create_many

    async def create_many(items, actor, **kw):
        ahead.append(pulled - sum(len(x) for x in seen))  # records read but not yet handed to a write
        seen.append(items)
        return await original(items, actor, **kw)

    seen: list[list[NewProfile]] = []
    runner.service.create_many = create_many  # type: ignore[method-assign]
    handed: list[tuple[str, int, str]] = []
    report = await runner.run_items(lazily(), expected=(17, 17), on_result=lambda r: handed.append((r.source.rsplit("/", 1)[-1], r.position, r.action)))
    assert max(ahead) <= 4  # this chunk and the next one, never the files
    assert report.results == [] and report.total == 17
    assert report.counts == {"created": 15, "updated": 0, "unchanged": 0, "duplicate": 1, "error": 1}
    assert [h[:2] for h in handed] == [(f"teil-{f}.ndjson", n) for f in range(3) for n in range(1, 6 if f != 1 else 8)]
    assert handed[10][2] == "error" and handed[11][2] == "duplicate"
    listed = await ImportRunner(ADMIN).run_items(read_paths(files))
    assert listed.counts == {"created": 0, "updated": 0, "unchanged": 15, "duplicate": 1, "error": 1}
    assert await Profile.get_pymongo_collection().count_documents({}) == 15


async def test_the_runner_takes_the_model_the_importer_validated(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record is validated once, by its importer; an item kept as JSON (an upload's preview) is validated again."""
    from importers import runner as runner_module
    from importers.runner import ImportItem

    calls: list[object] = []
    validate = runner_module.validate_record
    monkeypatch.setattr(runner_module, "validate_record", lambda r: calls.append(r) or validate(r))
    items = parse_sources([_source("a.ndjson", OTHER_SOURCE)])
    assert items[0].record.validated is not None
    report = await ImportRunner(ADMIN).run_items(items)
    assert report.counts["created"] == 1 and calls == []
    kept = [ImportItem.from_dict(i.to_dict()) for i in parse_sources([_source("a.ndjson", OTHER_SOURCE.replace("12000", "13000"))])]
    assert kept[0].record.validated is None
    report = await ImportRunner(ADMIN).run_items(kept)
    assert report.counts["updated"] == 1 and len(calls) == 1


async def test_a_streamed_register_from_an_editor_is_refused_per_record_and_nothing_is_written(db, tmp_path: Path) -> None:
    """A list is refused before anything is written (PermissionDenied); a streamed run meets a register file only as it
    reads it: its records are errors with the reason, the register stays unchanged, the profiles beside it go in."""
    from importers.runner import iter_paths

    register = tmp_path / "g.csv"
    register.write_text("Amtlicher Gemeindeschlüssel;Gemeindename;Fläche km2;Bevölkerung\n05762020;Höxter, Stadt;158,16;28.808\n", encoding="utf-8")
    profiles = tmp_path / "p.ndjson"
    profiles.write_text(OTHER_SOURCE, encoding="utf-8")
    with pytest.raises(PermissionDenied):
        await ImportRunner(EDITOR).run_items(read_paths([str(register)], "gazetteer"))
    report = await ImportRunner(EDITOR).run_items(iter_paths([str(profiles)]), expected=(1, 1))
    assert report.counts["created"] == 1
    report = await ImportRunner(EDITOR).run_items(iter_paths([str(register)], "gazetteer"), expected=(1, 0))
    assert report.counts["error"] == 1 and "Katalogredaktion" in report.results[0].errors[-1]["message"]
    assert await gaz.get("05762020") is None
