"""The profile lifecycle on the embedded FerretDB."""

from __future__ import annotations

import asyncio

import pytest

from catalogue.access import Action
from catalogue.errors import InvalidTransition, NotFound, PermissionDenied, PreconditionFailed, PreconditionRequired, ValidationFailed
from catalogue.models import OutboxEntry, Profile
from catalogue.profiles import ProfileService, etag
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, Role

EDITOR = Principal("erika", Role.EDITOR)
OTHER = Principal("otto", Role.EDITOR)
REVIEWER = Principal("rita", Role.REVIEWER)

BASE = {
    "title": "Gemeinsamer Bauhof Nordheide",
    "summary": "Drei Gemeinden teilen sich Fahrzeuge und Personal.",
    "fields_of_action": ["Daseinsvorsorge"],
    "lead": {"name": "Gemeinde Seevetal", "kind": "Gemeinde"},
    "state": "Niedersachsen",
    "population": 42000,
    "project_status": "laufend",
    "contact": {"email": "bauhof@seevetal.example"},
}


@pytest.fixture
def svc() -> ProfileService:
    return ProfileService()


async def test_whole_lifecycle(db, svc: ProfileService) -> None:
    p = await svc.create(BASE, EDITOR)
    assert p.slug == "gemeinsamer-bauhof-nordheide"
    assert p.status == EditorialStatus.DRAFT and p.version == 1 and p.owner == "erika"
    assert p.size_class == "Mittelstadt"

    p = await svc.update(p.slug, EDITOR, {"summary": "Neu."}, if_match=etag(p), partial=True)
    assert p.version == 2 and p.summary == "Neu."
    p = await svc.transition(p.slug, Action.SUBMIT, EDITOR)
    assert p.status == EditorialStatus.SUBMITTED
    with pytest.raises(PermissionDenied):
        await svc.transition(p.slug, Action.PUBLISH, EDITOR)
    with pytest.raises(ValidationFailed):
        await svc.transition(p.slug, Action.RETURN, REVIEWER)  # comment required
    p = await svc.transition(p.slug, Action.RETURN, REVIEWER, comment="Bitte Finanzierung ergänzen.")
    assert p.status == EditorialStatus.DRAFT and p.review_comments[-1].text == "Bitte Finanzierung ergänzen."
    p = await svc.transition(p.slug, Action.SUBMIT, EDITOR)
    p = await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
    assert p.status == EditorialStatus.PUBLISHED and p.published_at is not None
    with pytest.raises(InvalidTransition):
        await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
    p = await svc.transition(p.slug, Action.ARCHIVE, REVIEWER)
    assert p.status == EditorialStatus.ARCHIVED
    p = await svc.transition(p.slug, Action.RESTORE, REVIEWER)
    assert p.status == EditorialStatus.DRAFT
    assert [e.action for e in reversed(await svc.versions(p))] == ["create", "edit", "submit", "return", "submit", "publish", "archive", "restore"]
    # Every change announced to the search outbox, in order.
    entries = await OutboxEntry.find(OutboxEntry.slug == p.slug).sort("seq").to_list()
    assert len(entries) == 8
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)


async def test_slugs_are_ascii_stable_and_unique(db, svc: ProfileService) -> None:
    a = await svc.create({**BASE, "title": "Größere Straßen für Übach-Palenberg"}, EDITOR)
    assert a.slug == "groessere-strassen-fuer-uebach-palenberg"
    b = await svc.create({**BASE, "title": "Größere Straßen für Übach-Palenberg"}, EDITOR)
    assert b.slug == "groessere-strassen-fuer-uebach-palenberg-gemeinde-seevetal"
    c = await svc.create({**BASE, "title": "Größere Straßen für Übach-Palenberg"}, EDITOR)
    assert c.slug == "groessere-strassen-fuer-uebach-palenberg-2"
    a = await svc.update(a.slug, EDITOR, {"title": "Ganz anderer Titel"}, if_match=etag(a), partial=True)
    assert a.slug == "groessere-strassen-fuer-uebach-palenberg"


async def test_concurrent_edits_second_gets_412_and_nothing_is_lost(db, svc: ProfileService) -> None:
    p = await svc.create(BASE, EDITOR)
    tag = etag(p)
    first = await svc.update(p.slug, EDITOR, {"summary": "Erste Änderung"}, if_match=tag, partial=True)
    with pytest.raises(PreconditionFailed):
        await svc.update(p.slug, EDITOR, {"title": "Zweite Änderung"}, if_match=tag, partial=True)
    stored = await Profile.find_one(Profile.slug == p.slug)
    assert stored.summary == "Erste Änderung" and stored.title == BASE["title"]
    assert etag(stored) == etag(first)
    with pytest.raises(PreconditionRequired):
        await svc.update(p.slug, EDITOR, {"title": "Ohne If-Match"}, if_match=None, partial=True)


async def test_race_between_read_and_write_is_caught_by_revision(db, svc: ProfileService) -> None:
    from catalogue.profile_keys import keys_of_profile
    from catalogue.profiles import _Before, _Step, state_of

    p = await svc.create(BASE, EDITOR)
    stale = await Profile.find_one(Profile.slug == p.slug)
    before = _Before(stale.revision_id, stale.version, stale.last_change, state_of(stale), keys_of_profile(stale))
    await svc.update(p.slug, EDITOR, {"summary": "gewonnen"}, if_match=etag(p), partial=True)
    stale.summary = "verloren"
    svc._append_history(stale, EDITOR, _Step("edit", []))
    assert await svc._write(stale, before) is False
    stored = await Profile.find_one(Profile.slug == p.slug)
    assert stored.summary == "gewonnen" and stored.version == 2
    assert [e.action for e in await svc.versions(stored)] == ["edit", "create"]


async def test_version_diffs_show_exactly_the_changed_fields(db, svc: ProfileService) -> None:
    p = await svc.create(BASE, EDITOR)
    p = await svc.update(p.slug, EDITOR, {"summary": "v2", "population": 43000}, if_match=etag(p), partial=True)
    p = await svc.update(p.slug, EDITOR, {"contact": {"email": "bauhof@seevetal.de"}}, if_match=etag(p), partial=True)
    changes = await svc.diff(p.slug, 1, 3, EDITOR)
    assert sorted(c.field for c in changes) == ["contact", "population", "summary"]
    pop = next(c for c in changes if c.field == "population")
    assert (pop.old, pop.new) == (42000, 43000)
    assert [c.field for c in await svc.diff(p.slug, 2, 3, EDITOR)] == ["contact"]
    assert (await svc.version_state(p, 1))["summary"] == BASE["summary"]
    # An unchanged save writes no version.
    same = await svc.update(p.slug, EDITOR, {"summary": "v2"}, if_match=etag(p), partial=True)
    assert same.version == 3


async def test_invalid_edit_writes_nothing(db, svc: ProfileService) -> None:
    p = await svc.create(BASE, EDITOR)
    with pytest.raises(ValidationFailed) as exc:
        await svc.update(p.slug, EDITOR, {"population": -5, "links": [{"title": "x", "url": "javascript:alert(1)"}]}, if_match=etag(p), partial=True)
    assert {e["field"] for e in exc.value.errors} == {"population", "links.0.url"}
    stored = await Profile.find_one(Profile.slug == p.slug)
    assert stored.version == 1 and stored.population == 42000


async def test_visibility(db, svc: ProfileService, tmp_path) -> None:
    p = await svc.create(BASE, EDITOR)
    with pytest.raises(NotFound):
        await svc.get(p.slug, None)
    with pytest.raises(NotFound):
        await svc.get(p.slug, OTHER)
    assert (await svc.get(p.slug, REVIEWER)).slug == p.slug
    with pytest.raises(NotFound):
        await svc.update(p.slug, OTHER, {"title": "Übernahme"}, if_match="*", partial=True)
    # lists come from the index: the draft is there, found only by its owner and the reviewers
    from catalogue.listing import list_profiles
    from catalogue.search.sync import SearchSync
    from catalogue.search.tantivy_backend import TantivyBackend

    index = TantivyBackend(tmp_path / "search")
    await SearchSync().drain(index)
    for actor, expected in ((None, []), (OTHER, []), (EDITOR, [p.slug]), (REVIEWER, [p.slug])):
        found = await list_profiles(index, actor)
        assert [i.slug for i in found.items] == expected and found.total == len(expected), actor


async def test_a_version_written_here_is_not_written_again_but_a_missing_one_is_repaired(db, svc: ProfileService, monkeypatch) -> None:
    """Before each write the previous version document is stored again in case the process that wrote the change
    died before storing it; one this process stored is known to be there (no store command), a missing one is written."""
    from catalogue import history
    from catalogue.models import ProfileVersion, version_key

    inserts: list[str] = []  # version documents written (an upsert each)
    collection = ProfileVersion.get_pymongo_collection()
    original = type(collection).replace_one

    async def counting(self, selector, document, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == collection.name:
            inserts.append(document["_id"])
        return await original(self, selector, document, *args, **kwargs)

    p = await svc.create(BASE, EDITOR)
    monkeypatch.setattr(type(collection), "replace_one", counting)
    p = await svc.update(p.slug, EDITOR, {"summary": "v2"}, if_match=etag(p), partial=True)
    assert inserts == [version_key(p.id, 2)]  # only the new version: version 1 was stored by this process
    # a process that died after its change but before its version document: the next write repairs it
    await collection.delete_one({"_id": version_key(p.id, 2)})
    history.clear_cache()
    inserts.clear()
    p = await svc.update(p.slug, EDITOR, {"summary": "v3"}, if_match=etag(p), partial=True)
    assert inserts == [version_key(p.id, 2), version_key(p.id, 3)]
    monkeypatch.undo()
    assert [e.number for e in await svc.versions(p)] == [3, 2, 1]
    assert (await svc.version_state(p, 2))["summary"] == "v2"


async def test_a_creation_is_stored_compactly_and_its_history_shows_every_field_it_set(db, svc: ProfileService) -> None:
    """Neither `last_change` nor the first version document repeats the new profile's content; history gives it back."""
    from catalogue import history
    from catalogue.models import ProfileContent, ProfileVersion, version_key
    from catalogue.profiles import NewProfile, diff_content, state_of

    expected = [(c.field, c.new) for c in diff_content({}, ProfileContent.model_validate(BASE).model_dump(mode="json"))]
    single = await svc.create(BASE, EDITOR)
    bulk = (await svc.create_many(
        [NewProfile(content=ProfileContent.model_validate({**BASE, "title": "Bauhof Zwei"}), slug="bauhof-zwei", status=EditorialStatus.PUBLISHED)],
        REVIEWER,
    )).items[0]
    assert isinstance(bulk, Profile)
    versions = ProfileVersion.get_pymongo_collection()
    for p, status in ((single, "draft"), (bulk, "published")):
        raw = await Profile.get_pymongo_collection().find_one({"_id": p.id})
        stored = await versions.find_one({"_id": version_key(p.id, 1)})
        assert raw is not None and raw["last_change"]["changes"] == []
        if p is bulk:  # a bulk creation (an import) leaves its version document to the profile's next write
            assert stored is None
        else:
            assert stored is not None and stored["changes"] == [] and stored["state"] == state_of(p)
        history.clear_cache()
        (first,) = await svc.versions(p)  # from the profile's last_change
        want = [(f, v) for f, v in expected if f != "title"] + [("status", status)]
        assert [(c.field, c.new) for c in first.changes if c.field != "title"] == want and all(c.old is None for c in first.changes)
        edited = await svc.update(p.slug, EDITOR if p is single else REVIEWER, {"summary": "Neu."}, if_match=etag(p), partial=True)
        history.clear_cache()
        second, first = await svc.versions(edited)  # now from the version document
        assert [c.field for c in second.changes] == ["summary"]
        assert [(c.field, c.new) for c in first.changes if c.field != "title"] == want
        stored = await versions.find_one({"_id": version_key(p.id, 1)})  # the bulk one's written before version 2
        assert stored is not None and stored["changes"] == [] and stored["state"] == state_of(p)
        assert (await svc.version_state(edited, 1)) == state_of(p) and (await svc.version_state(edited, 2))["summary"] == "Neu."


async def test_a_version_document_of_a_failed_replacement_is_never_read_as_history(db, svc: ProfileService, monkeypatch) -> None:
    """The new version document goes beside the profile's replacement; if the replacement fails with an error, the
    document may stay (it is not deleted: the delete could meet a landed write's document of the same number). It is
    never read as history, and the write that lands that number replaces it."""
    from catalogue import atomic, history

    p = await svc.create(BASE, EDITOR)
    collection = Profile.get_pymongo_collection()
    original = type(collection).replace_one

    async def failing(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == collection.name:
            if atomic.mode().locking:
                await asyncio.sleep(0.05)  # let the version document beside it be written first
            raise ConnectionError("store gone")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(type(collection), "replace_one", failing)
    with pytest.raises(ConnectionError):
        await svc.update(p.slug, EDITOR, {"summary": "never"}, if_match=etag(p), partial=True)
    monkeypatch.undo()
    history.clear_cache()
    assert [e.number for e in await svc.versions(p)] == [1]
    with pytest.raises(NotFound):
        await svc.version_state(p, 2)
    p = await svc.update(p.slug, EDITOR, {"summary": "v2"}, if_match=etag(p), partial=True)
    p = await svc.update(p.slug, EDITOR, {"summary": "v3"}, if_match=etag(p), partial=True)
    history.clear_cache()
    assert [e.number for e in await svc.versions(p)] == [3, 2, 1]
    assert (await svc.version_state(p, 2))["summary"] == "v2"
    second = (await svc.versions(p))[1]
    assert [(c.field, c.new) for c in second.changes] == [("summary", "v2")]


@pytest.mark.parametrize("lost", ["none", "along"])
async def test_a_version_document_left_by_a_failed_write_is_replaced_by_the_write_that_lands_its_number(
    db, svc: ProfileService, monkeypatch, lost: str
) -> None:
    """A document a failed write left under version 2's key (its clean-up failed too, or its process died) is
    replaced by the version that lands as 2: by that write itself, or (`lost="along"`: its process died before
    writing it) by the repair before version 3, in another process (nothing known in memory)."""
    from catalogue import history, profiles
    from catalogue.models import ProfileVersion, version_key

    p = await svc.create(BASE, EDITOR)
    versions = ProfileVersion.get_pymongo_collection()
    stale = dict(BASE, summary="never")
    await versions.insert_one(
        {
            "_id": version_key(p.id, 2),
            "profile_id": str(p.id),
            "number": 2,
            "at": p.updated_at,
            "by": "niemand",
            "action": "update",
            "comment": None,
            "changes": [{"field": "summary", "old": BASE["summary"], "new": "never"}],
            "state": dict(stale, status="draft"),
        }
    )
    if lost == "along":
        original = history.store

        async def dies_before_its_version(profile_id, entry, state):  # type: ignore[no-untyped-def]
            if entry.number != 2:
                await original(profile_id, entry, state)

        monkeypatch.setattr(profiles.version_store, "store", dies_before_its_version)
    p = await svc.update(p.slug, EDITOR, {"summary": "v2"}, if_match=etag(p), partial=True)
    monkeypatch.undo()
    history.clear_cache()  # another process writes next
    p = await svc.update(p.slug, EDITOR, {"summary": "v3"}, if_match=etag(p), partial=True)
    history.clear_cache()
    stored = await versions.find_one({"_id": version_key(p.id, 2)})
    assert stored is not None and stored["state"]["summary"] == "v2" and stored["by"] == EDITOR.username
    assert (await svc.version_state(p, 2))["summary"] == "v2"
    assert [(c.field, c.new) for c in (await svc.versions(p))[1].changes] == [("summary", "v2")]
