"""planning.explain: what an explanation says about stop words and about compounds found by their head."""

from __future__ import annotations

from catalogue.search import planning


def test_stop_words_are_marked_and_match_nothing() -> None:
    """Both engines ignore "wie" and "für": an explanation must not claim they matched."""
    plan = planning.plan("wie Bauhof für Gemeinden")
    words = planning.explain(plan, {"texts": "Wie der Bauhof für alle Gemeinden arbeitet"}, {})["words"]
    by_word = {w["word"]: w for w in words}
    assert by_word["wie"] == {"word": "wie", "matched": [], "stop_word": True}
    assert by_word["für"]["stop_word"] is True and by_word["für"]["matched"] == []
    assert by_word["Bauhof"]["matched"][0]["kind"] == "typed" and "stop_word" not in by_word["Bauhof"]


def test_a_compound_the_hit_lacks_is_explained_by_its_head() -> None:
    """Tantivy finds a compound missing from the index by its head ("Großgeräte": "Spezialgeräten"); the explanation
    says so instead of showing nothing."""
    plan = planning.plan("Großgeräte")
    words = planning.explain(plan, {"texts": "Tausch von Spezialgeräten zwischen Bauhöfen"}, {})["words"]
    assert words[0]["matched"] == [{"form": "spezialgerat", "kind": "compound-head", "weight": 1.0}]
    # no head match where the hit has no word ending so
    assert planning.explain(plan, {"texts": "Tausch von Maschinen"}, {})["words"][0]["matched"] == []
