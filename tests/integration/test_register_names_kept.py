"""Place words of a query: every register name is kept in memory, so a word that names no place costs no read
(catalogue/search/places.py); a load of the register is seen at once in this process, from another within the ttl."""

from __future__ import annotations

import pytest

from catalogue import gazetteer
from catalogue.gazetteer import RegisterMeta, RegisterName
from catalogue.search.places import RegisterPlaces
from tests.clocks import ManualClock
from tests.integration.test_remembered_callers import finds_during
from tests.web_support import load_register_excerpt, register_excerpt


async def _names_read(places: RegisterPlaces) -> frozenset[str]:
    """The names, once the background read (started by the first ask, if not before) is done."""
    if await places.known_names() is None:
        assert places.loading is not None
        await places.loading
    names = await places.known_names()
    assert names is not None
    return names


async def test_a_word_that_names_no_place_costs_no_read_once_the_names_are_kept(db) -> None:
    await load_register_excerpt()
    places = RegisterPlaces(clock=ManualClock())
    phrases = ["Bauhof", "Kreis Höxter", "Höxter", "Winterdienst"]
    cold, reads = await finds_during(lambda: places.resolve(phrases))  # names not read yet: each phrase by key
    assert "register_names" in reads and set(cold) == {"Kreis Höxter", "Höxter"}
    await _names_read(places)
    places.clear()  # nothing cached per phrase: only the names decide
    found, reads = await finds_during(lambda: places.resolve(phrases))
    assert found == cold
    assert reads and all(r == "register_names" for r in reads)
    unknown, reads = await finds_during(lambda: places.resolve(["Bauhof", "Winterdienst", "Gemeinsamer Bauhof"]))
    assert unknown == {} and reads == []


async def test_every_name_find_by_name_knows_has_a_kept_key(db) -> None:
    """`name_lookup_keys` covers every key `find_by_name` reads: no place is skipped for a missing key."""
    await load_register_excerpt()
    names = await gazetteer.name_keys()
    texts: list[str] = []
    for entry in register_excerpt():
        name = str(entry.get("name") or "")
        texts += [name, f"Kreis {name}", f"Stadt {name}", f"{name}, Stadt", name.replace("ö", "o").replace("ü", "u")]
    found = 0
    for text in texts:
        if await gazetteer.find_by_name(text):
            found += 1
            assert gazetteer.name_lookup_keys(text) & names, text
    assert found > 50


async def test_a_load_here_is_seen_at_once_and_another_processs_within_the_ttl(db) -> None:
    await load_register_excerpt(("05762",))  # Kreis Höxter only
    clock = ManualClock()
    places = RegisterPlaces(clock=clock)
    await _names_read(places)
    assert "flensburg" not in (await places.known_names() or ())

    await load_register_excerpt(("05762", "01001"))  # Flensburg, loaded in this process
    assert await places.known_names() is None  # read again; meanwhile phrases are looked up by key
    assert "Flensburg" in await places.resolve(["Flensburg"])
    names = await _names_read(places)
    assert "flensburg" in names

    # another process loads a register with one more name (written past this process)
    await RegisterName.get_pymongo_collection().insert_one({"_id": "neustadt am probe", "refs": "[]"})
    await RegisterMeta.get_pymongo_collection().update_one({"_id": "register"}, {"$set": {"fingerprint": "another"}})
    clock.now += places.ttl - 1
    assert "neustadt am probe" not in (await places.known_names() or ())
    clock.now += 1
    assert await places.known_names() is None  # its version changed: read again
    assert "neustadt am probe" in await _names_read(places)


@pytest.mark.parametrize("text", ["", "   ", "05762020"])
def test_lookup_keys_of_nothing_and_of_a_key(text: str) -> None:
    keys = gazetteer.name_lookup_keys(text)
    assert keys == (set() if not text.strip() else {"05762020"})
