"""What a commit of the Tantivy backend leaves behind (the write side, issue 10's mixed load).

Every commit makes a segment, and Tantivy's merge policy (not adjustable in tantivy-py) rewrites the whole index
once 8 segments of up to ~16,800 documents are there. So each commit adds again the documents written lately
(`CARRY_MAX`): their earlier segments empty out and are dropped, the index keeps few segments, and what it shows is
every document's last state; a deleted one does not come back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalogue.access import PUBLIC_LABEL
from catalogue.search import tantivy_backend
from catalogue.search.base import SearchQuery
from catalogue.search.tantivy_backend import TantivyBackend
from tests.contract.test_search_contract import make


async def titles(backend: TantivyBackend) -> dict[str, str]:
    result = await backend.search(SearchQuery(per_page=100, facets=()), labels=(PUBLIC_LABEL,))
    return {h.id: h.title for h in result.hits}


def segments(backend: TantivyBackend) -> int:
    return int(backend._live.index.searcher().num_segments)  # what the commits left behind


async def test_commits_of_different_documents_leave_few_segments_and_the_last_states(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "search")
    await backend.upsert([make(f"p{n}", f"Projekt {n}") for n in range(20)])
    for round_ in range(3):
        for n in range(10):  # one document per commit, each a different one: 10 segments without carrying
            await backend.upsert([make(f"p{n}", f"Projekt {n} Fassung {round_}")])
            assert segments(backend) <= 2
    await backend.delete(["p3"])
    await backend.upsert([make("p4", "Projekt 4 zuletzt")])
    assert segments(backend) <= 2
    expected = {f"p{n}": f"Projekt {n} Fassung 2" for n in range(10)} | {f"p{n}": f"Projekt {n}" for n in range(10, 20)}
    del expected["p3"]
    expected["p4"] = "Projekt 4 zuletzt"
    assert await titles(backend) == expected
    assert backend.document_count() == 19
    await backend.close()


async def test_the_carried_set_starts_anew_when_full_and_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tantivy_backend, "CARRY_MAX", 4)
    backend = TantivyBackend(tmp_path / "search")
    for n in range(11):
        await backend.upsert([make(f"p{n}", f"Projekt {n}")])
        assert len(backend._carried) <= 4
    await backend.delete(["p10"])
    assert await titles(backend) == {f"p{n}": f"Projekt {n}" for n in range(10)}
    await backend.close()


async def test_a_new_writer_carries_nothing_from_the_last_one(tmp_path: Path) -> None:
    """Another process may have written the index while this one did not hold the writer: what this one wrote
    before is not added again (it could be older)."""
    backend = TantivyBackend(tmp_path / "search")
    await backend.upsert([make("p1", "Projekt 1")])
    await backend.release_writer()
    other = TantivyBackend(tmp_path / "search")
    await other.upsert([make("p1", "Projekt 1 von anderswo")])
    await other.release_writer()
    await backend.acquire_writer()
    await backend.upsert([make("p2", "Projekt 2")])
    assert await titles(backend) == {"p1": "Projekt 1 von anderswo", "p2": "Projekt 2"}
    await backend.close()
    await other.close()


async def test_a_rebuild_leaves_nothing_carried_from_the_index_it_replaces(tmp_path: Path) -> None:
    """The rebuilt index holds every document's state as the rebuild read it; a document carried from the old
    index's writer (older than that) must not be added again into the new one."""
    backend = TantivyBackend(tmp_path / "search")
    await backend.upsert([make("p1", "Projekt 1 alt")])
    assert "p1" in backend._carried

    async def source():  # type: ignore[no-untyped-def]
        yield make("p1", "Projekt 1 neu")
        yield make("p2", "Projekt 2")

    await backend.rebuild(source())
    await backend.upsert([make("p3", "Projekt 3")])
    assert await titles(backend) == {"p1": "Projekt 1 neu", "p2": "Projekt 2", "p3": "Projekt 3"}
    await backend.close()
