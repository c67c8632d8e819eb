"""Issue 13, history page: word diffs are bounded and computed off the event loop."""

from __future__ import annotations

import difflib
import random
import threading

from api.web import editor
from catalogue.profiles import ProfileService, etag
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.web_support import PASSWORD, csrf_from, seed_users

EDITOR = Principal("redaktion-hx", Role.EDITOR)
LONG_FIELDS = ("occasion", "goal", "implementation", "results", "lessons")
WORDS = ["die", "der", "und", "Stadt", "Gemeinde", "Projekt", "mit", "für", "Bürgerinnen", "Bauhof", "in", "das"]


def long_text(seed: int, chars: int = 20_000) -> str:
    """≈ `chars` characters of few distinct words: the worst case for a word diff (many equal tokens)."""
    rnd = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < chars - 20:
        word = rnd.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:chars]


async def long_history_profile(seed: int = 0) -> str:
    """A draft with five 20,000-character Markdown fields, each changed completely once; its slug."""
    svc = ProfileService()
    p = await svc.create({"title": f"Lange Texte {seed}", **{f: long_text(seed * 10 + i) for i, f in enumerate(LONG_FIELDS)}}, EDITOR)
    changed = {f: long_text(seed * 10 + i + 100) for i, f in enumerate(LONG_FIELDS)}
    await svc.update(p.slug, EDITOR, changed, if_match=etag(p), partial=True)
    return str(p.slug)


async def web_login(client, username: str = "redaktion-hx") -> None:
    page = await client.get("/anmelden")
    r = await client.post("/anmelden", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303, r.text


async def test_finding_history_of_long_fields_is_bounded_and_off_the_loop(client, monkeypatch) -> None:
    """Finding: one ≈ 14,000-character Markdown field changed once: GET /profiles/{slug}/versionen took 15.7 s on the loop."""
    await seed_users()
    slug = await long_history_profile()
    compared: list[tuple[int, int]] = []
    threads: set[str] = set()
    real_matcher, real_readable = difflib.SequenceMatcher, editor.readable_changes

    def spy_matcher(*args, **kwargs):
        compared.append((len(kwargs.get("a", ())), len(kwargs.get("b", ()))))
        return real_matcher(*args, **kwargs)

    def spy_readable(changes):
        threads.add(threading.current_thread().name)
        return real_readable(changes)

    monkeypatch.setattr(difflib, "SequenceMatcher", spy_matcher)
    monkeypatch.setattr(editor, "readable_changes", spy_readable)
    await web_login(client)
    r = await client.get(f"/profiles/{slug}/versionen")
    assert r.status_code == 200, r.text
    r2 = await client.get(f"/profiles/{slug}/versionen", params={"von": 1, "bis": 2})
    assert r2.status_code == 200
    # The page says where it gave up comparing word by word, and still shows both texts.
    assert "zu lang für einen Vergleich Wort für Wort" in r.text
    assert "zu lang für einen Vergleich Wort für Wort" in r2.text
    assert all(a <= editor.DIFF_WORD_LIMIT and b <= editor.DIFF_WORD_LIMIT for a, b in compared), compared
    assert threads and all(name.startswith("cpu-work") for name in threads), threads


def test_word_diff_marks_small_changes_word_by_word_and_escapes() -> None:
    text = long_text(1)
    changed = text[:10_000] + " <b>neu</b> " + text[10_000:]
    out = str(editor.word_diff(text, changed))
    assert "<ins>&lt;b&gt;neu&lt;/b&gt; </ins>" in out or ("<ins>" in out and "&lt;b&gt;neu" in out)
    assert "zu lang" not in out
    assert str(editor.word_diff("a b c", "a x c")) == "a <del>b </del><ins>x </ins>c"
    assert str(editor.word_diff("", "neu")) == "<ins>neu</ins>"
