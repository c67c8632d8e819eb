"""A write's read-your-writes wait (api/read_your_writes.py, `SearchSync.wait_applied`) costs as few store reads as it can.

The service tells the wait which of its outbox entries announced a write
that landed (`catalogue.outbox.confirm_landed`, after the compare-and-set or
the insert), so the wait does not read the profile's version back to tell.
The editor's own list still shows the change in the answer's wake.
"""

from __future__ import annotations

from typing import Any

from tests.factories import publishable
from tests.integration.test_keyed_reads import recorded_request

API = "/api/v1/profiles"


def _version_reads(commands: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [c for _db, name, c in commands if name == "find" and c.get("find") == "profiles" and c.get("projection") == {"version": 1}]


async def _recorded(client: Any, method: str, url: str, **kw: Any) -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
    r, commands = await recorded_request(client, method, url, **kw)
    assert commands, "no store command recorded (is the recorder attached?)"
    return r, commands


async def test_a_write_that_landed_is_waited_for_without_reading_its_version_back(client, auth) -> None:
    editor = auth["editor"]
    r, commands = await _recorded(client, "POST", API, json=publishable({"title": "Rufbus im Amt Probstei"}), headers=editor)
    assert r.status_code == 201, r.text
    assert _version_reads(commands) == []
    slug, tag = r.json()["slug"], r.headers["etag"]
    mine = (await client.get(f"{API}?mine=true", headers=editor)).json()["items"]
    assert [i["title"] for i in mine if i["slug"] == slug] == ["Rufbus im Amt Probstei"]

    r, commands = await _recorded(client, "PATCH", f"{API}/{slug}", json={"title": "Rufbus im Amt Selent"}, headers={**editor, "If-Match": tag})
    assert r.status_code == 200, r.text
    assert _version_reads(commands) == []
    mine = (await client.get(f"{API}?mine=true", headers=editor)).json()["items"]
    assert [i["title"] for i in mine if i["slug"] == slug] == ["Rufbus im Amt Selent"]  # read-your-writes holds

    # a write that lost its compare-and-set (412) is not waited for, and its entry is not confirmed
    r = await client.patch(f"{API}/{slug}", json={"title": "Zu spät"}, headers={**editor, "If-Match": tag})
    assert r.status_code == 412, r.text
    mine = (await client.get(f"{API}?mine=true", headers=editor)).json()["items"]
    assert [i["title"] for i in mine if i["slug"] == slug] == ["Rufbus im Amt Selent"]
