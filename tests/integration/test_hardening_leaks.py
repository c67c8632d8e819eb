"""Issue 13, leaks: the public sees a human source (title and URL) and nothing about uploaders, files,
paths or importers; import previews never hint at profiles the caller may not see."""

from __future__ import annotations

import json

from catalogue.models import Provenance
from catalogue.pdf.render import provenance_text
from catalogue.profiles import ProfileService
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, Role

API = "/api/v1/profiles"
IMPORTS = "/api/v1/imports"
REVIEWER = Principal("rita", Role.REVIEWER)
UPLOAD = Provenance(importer="structured-text", source="upload/erika/geheime-liste-2025.txt", source_id="upload/erika/geheime-liste-2025.txt")
WEB = Provenance(
    importer="demo", source="https://interkommunales.nrw/projekt/beispiel", source_title="Interkommunales.NRW: Beispiel",
    source_id="shared/seeds/demo-007.txt",
)
SECRETS = ("erika", "geheime-liste", "upload/", "structured-text", "shared/seeds", "demo-007", "Import „")


async def _published(title: str, provenance: Provenance, owner: str = "erika") -> str:
    svc = ProfileService()
    p = await svc.create({"title": title}, REVIEWER, provenance=provenance, status=EditorialStatus.PUBLISHED)
    from catalogue.models import Profile

    await Profile.get_pymongo_collection().update_one({"_id": p.id}, {"$set": {"owner": owner}})
    return str(p.slug)


async def test_finding_public_output_shows_no_uploader_file_path_or_importer(client, auth, app) -> None:
    """Finding: public profile JSON showed provenance.source `upload/<username>/<file>`; pages and PDFs showed
    internal paths such as `shared/seeds/…` and `Import „demo“`."""
    uploaded = await _published("Hochgeladenes Profil", UPLOAD)
    from_web = await _published("Profil nach einer Webseite", WEB)
    for slug in (uploaded, from_web):
        public_json = (await client.get(f"{API}/{slug}")).text
        page = (await client.get(f"/profiles/{slug}")).text
        for secret in SECRETS:
            assert secret not in public_json, (slug, secret)
            assert secret not in page, (slug, secret)
    body = (await client.get(f"{API}/{uploaded}")).json()
    assert body["source"] is None and body["provenance"] is None and body["owner"] is None
    body = (await client.get(f"{API}/{from_web}")).json()
    assert body["source"] == {"title": "Interkommunales.NRW: Beispiel", "url": "https://interkommunales.nrw/projekt/beispiel"}
    page = (await client.get(f"/profiles/{from_web}")).text
    assert 'href="https://interkommunales.nrw/projekt/beispiel"' in page and "Interkommunales.NRW: Beispiel" in page
    # The owner sees the details of their own upload (the API's provenance).
    mine = (await client.get(f"{API}/{uploaded}", headers=auth["editor"])).json()
    assert mine["provenance"]["source"] == "upload/erika/geheime-liste-2025.txt"
    # Lists and search results carry no provenance at all.
    listing = (await client.get(API)).text
    for secret in SECRETS:
        assert secret not in listing
    # The PDF's source line: the public title and link only.
    assert provenance_text(UPLOAD.model_dump(mode="json")) == ("", None)
    text, link = provenance_text(WEB.model_dump(mode="json"))
    assert text.startswith("Interkommunales.NRW: Beispiel") and link == "https://interkommunales.nrw/projekt/beispiel"
    assert not any(s in text for s in SECRETS)


async def _preview(client, headers, records: list[dict]) -> dict:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    r = await client.post(IMPORTS, content=body.encode(), params={"filename": "liste.ndjson"}, headers={**headers, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 201, r.text
    return r.json()


async def test_finding_import_preview_does_not_reveal_hidden_drafts(client, auth) -> None:
    """Finding: an import preview told an editor whether another editor's hidden draft exists with a given slug or title."""
    other = Principal("otto", Role.EDITOR)
    hidden = await ProfileService().create(
        {"title": "Geheimer Entwurf Bauhof", "lead": {"name": "Gemeinde Nethe"}}, other
    )
    probe = [
        {"slug": hidden.slug, "title": "Ganz anderes Projekt Radweg"},  # the hidden draft's slug
        {"title": "Geheimer Entwurf Bauhof", "lead": {"name": "Gemeinde Nethe"}},  # its title and lead
        {"slug": "gibt-es-nicht-xyz", "title": "Ganz anderes Projekt Radweg Zwei"},  # a free slug, for comparison
    ]
    preview = (await _preview(client, auth["editor"], probe))["preview"]
    text = json.dumps(preview, ensure_ascii=False)
    records = preview["records"]
    # Every record is planned as new, with a slug of its own, and nothing is said about the hidden draft.
    assert [r["action"] for r in records] == ["created", "created", "created"], text
    assert hidden.slug not in {r["slug"] for r in records}
    assert all(r["warnings"] == [] and r["errors"] == [] for r in records), text
    for word in ("vergeben", "nicht öffentlich", "Dublette von", "anderen Person", "otto"):
        assert word not in text, (word, text)
    # Answer shape is the same as for a slug nobody has: the probe cannot tell the two apart.
    assert records[0]["warnings"] == records[2]["warnings"] == []
    # The owner of the hidden draft is told, as before, about the duplicate of their own profile.
    own = (await _preview(client, auth["other"], [{"title": "Geheimer Entwurf Bauhof", "lead": {"name": "Gemeinde Nethe"}}]))["preview"]
    assert own["records"][0]["action"] == "duplicate"


async def test_a_reimport_after_a_hidden_match_finds_its_own_profile(client, auth) -> None:
    """A record that matched only a hidden profile became a new one; importing it again must update that one, not add a third."""
    other = Principal("otto", Role.EDITOR)
    await ProfileService().create({"title": "Geteilter Text Nordheide", "lead": {"name": "Gemeinde Nordheide"}}, other)
    record = [{"title": "Geteilter Text Nordheide", "lead": {"name": "Gemeinde Nordheide"}}]
    batch = await _preview(client, auth["editor"], record)
    r = await client.post(f"{IMPORTS}/{batch['id']}/confirm", headers=auth["editor"])
    assert r.status_code == 200, r.text
    again = (await _preview(client, auth["editor"], record))["preview"]
    assert again["records"][0]["action"] == "unchanged", again
