"""Small lists kept by key (collection `key_lists`): the members of one list in one document.

A list that a request shows whole – the users an admin manages, the API
tokens of one user – is one document read by `_id`, so listing reads that
key and then each member by its own key, never scanning a collection.
Members are added before the document they name is written and removed
after it is gone; a reader skips a member whose document does not exist (a
write that failed), so a list never misses a member. Additions and removals
are atomic on both stores (`$addToSet` / `$pull` through catalogue.atomic).
"""

from __future__ import annotations

from typing import Any

from beanie import Document
from pydantic import Field

from catalogue import atomic

USERS = "users"


def tokens_of(username: str) -> str:
    """The list of one user's API tokens (members: the token hashes, the tokens' `_id`)."""
    return f"tokens:{username}"


class KeyList(Document):
    """One list (`_id` = its name, e.g. "users" or "tokens:<username>")."""

    id: str  # type: ignore[assignment]
    members: list[str] = Field(default_factory=list)

    class Settings:
        name = "key_lists"


async def add(list_id: str, member: str) -> None:
    await atomic.update_if(KeyList.get_pymongo_collection(), list_id, None, {"$addToSet": {"members": member}}, upsert=True)


async def add_many(list_id: str, members: list[str]) -> None:
    if members:
        await atomic.update_if(KeyList.get_pymongo_collection(), list_id, None, {"$addToSet": {"members": {"$each": members}}}, upsert=True)


async def remove(list_id: str, member: str) -> None:
    await atomic.update_if(KeyList.get_pymongo_collection(), list_id, None, {"$pull": {"members": member}})


async def members(list_id: str) -> list[str]:
    doc: dict[str, Any] | None = await KeyList.get_pymongo_collection().find_one({"_id": list_id})
    return [str(m) for m in (doc or {}).get("members") or []]


__all__ = ["USERS", "KeyList", "add", "add_many", "members", "remove", "tokens_of"]
