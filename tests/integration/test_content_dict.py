"""`content_dict` dumps validated content without validating it again: validation must be idempotent.

catalogue.profiles.content_dict used to validate a profile's content once more before dumping it (for
the history's states and diffs, and the PATCH merge). A value validated once validates to itself, so
the dump alone gives the same dict; these tests hold that (a validator that changed a validated value
again would make the history disagree with the stored profile).
"""

from __future__ import annotations

from typing import Any

import pytest

from api.schemas import PROFILE_EXAMPLE
from catalogue import history
from catalogue.access import Action
from catalogue.models import CONTENT_FIELDS, Profile, ProfileContent, ProfileVersion, version_key
from catalogue.profiles import ProfileService, content_dict, state_of
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.fixtures.profiles import example_profiles, longest


def _contents() -> list[dict[str, Any]]:
    return [{k: v for k, v in data.items() if k in CONTENT_FIELDS} for data in [PROFILE_EXAMPLE, *example_profiles(), longest()]]


def _validated_again(content: ProfileContent | Profile) -> dict[str, Any]:
    """What content_dict gave before: the content validated once more, then dumped."""
    return ProfileContent.model_validate(content.model_dump(include=set(CONTENT_FIELDS))).model_dump(mode="json")


@pytest.mark.parametrize("data", _contents(), ids=lambda d: str(d["title"])[:20])
async def test_content_dict_is_the_content_validated_again(db: object, data: dict[str, Any]) -> None:
    content = ProfileContent.model_validate(data)
    profile = Profile.model_validate({**content.model_dump(), "slug": "beispiel"})
    for given in (content, profile):
        dumped = content_dict(given)
        assert dumped == _validated_again(given)
        assert list(dumped) == list(CONTENT_FIELDS)  # the registry's order, as the stored states have it


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Detmold", "Detmold"),
        ("Regierungsbezirk Detmold", "Detmold"),
        ("RB Detmold", "Detmold"),
        ("Reg.-Bez. Detmold", "Detmold"),
        ("Regierungsbezirk Regierungsbezirk Detmold", "Detmold"),
        ("Regierungsbezirk RB  Detmold", "Detmold"),
        ("Regierungsbezirk", "Regierungsbezirk"),
        ("RB RB", "RB"),
        ("Arnsberg RB", "Arnsberg RB"),
    ],
)
def test_district_validation_is_idempotent(given: str, name: str) -> None:
    once = ProfileContent.model_validate({"title": "Ein Projekt", "district": given})
    assert once.district == name
    again = ProfileContent.model_validate(once.model_dump())
    assert again.district == once.district
    assert content_dict(once) == _validated_again(once)


async def test_written_states_match_the_stored_profile(db: object) -> None:
    """What an edit and a transition record (the version's state, the changes' values) is the stored profile as read back."""
    history.clear_cache()
    editor = Principal("erika", Role.EDITOR)
    svc = ProfileService()
    created = await svc.create({"title": "Gemeinsamer Bauhof", "state": "Nordrhein-Westfalen"}, editor)
    patch = {"summary": "Neu.", "district": "Regierungsbezirk Regierungsbezirk Detmold", "keywords": ["Bauhof", "Bauhof", "Fahrzeuge"],
             "contact": {"email": "bauhof@seevetal.example"}}
    edited = await svc.update(created.slug, editor, patch, if_match=None, partial=True, require_if_match=False)
    raw = await Profile.get_pymongo_collection().find_one({"_id": created.id})
    assert raw is not None and raw["district"] == "Detmold" and raw["keywords"] == ["Bauhof", "Fahrzeuge"]
    await _assert_recorded(created.id, edited.version)
    assert {c.field: c.new for c in (await svc.versions(edited))[0].changes} == {
        "summary": "Neu.", "district": "Detmold", "keywords": ["Bauhof", "Fahrzeuge"], "contact": content_dict(edited)["contact"]
    }
    submitted = await svc.transition(edited.slug, Action.SUBMIT, editor)
    await _assert_recorded(created.id, submitted.version)


async def _assert_recorded(profile_id: object, number: int) -> None:
    """The version document `number` holds the state of the profile as stored (read back and parsed)."""
    stored = await Profile.get(profile_id)
    doc = await ProfileVersion.get_pymongo_collection().find_one({"_id": version_key(profile_id, number)})
    assert stored is not None and doc is not None and stored.version == number
    assert doc["state"] == state_of(stored)


async def test_put_stores_the_body_as_validated(client: Any, auth: dict[str, dict[str, str]]) -> None:
    """A PUT body is validated once (by the API); what is stored, answered and recorded is that validated content."""
    api = "/api/v1/profiles"
    r = await client.post(api, json={"title": "Gemeinsamer Bauhof"}, headers=auth["editor"])
    slug, tag = r.json()["slug"], r.headers["etag"]
    body = {"title": "  Gemeinsamer Bauhof  ", "district": "Regierungsbezirk RB Detmold", "keywords": ["Bauhof", "Bauhof", " IKZ "],
            "population_as_of": "2020-06-30", "contact": {"email": "bauhof@seevetal.example"}}
    r = await client.put(f"{api}/{slug}", json=body, headers={**auth["editor"], "If-Match": tag})
    assert r.status_code == 200, r.text
    expected = content_dict(ProfileContent.model_validate(body))
    assert {k: r.json()[k] for k in CONTENT_FIELDS} == expected
    raw = await Profile.get_pymongo_collection().find_one({"slug": slug})
    assert raw is not None
    assert {"title": raw["title"], "district": raw["district"], "keywords": raw["keywords"]} == {
        "title": "Gemeinsamer Bauhof", "district": "Detmold", "keywords": ["Bauhof", "IKZ"]
    }
    await _assert_recorded(raw["_id"], 2)
    read = (await client.get(f"{api}/{slug}", headers=auth["editor"])).json()
    assert {k: read[k] for k in CONTENT_FIELDS} == expected
