"""The CPU of the rendering side of the reads, in process, per cold profile or per answer (no HTTP, no store timing).

Reproduce:

    .venv/bin/python benchmarks/render_parts.py [--count 10000] [--profiles 300] [--rounds 5] [--data-dir DIR]

Uses benchmarks/read_paths.py's data directory (imported on the first run,
reused with `--data-dir`; the server must not run on it). Takes `--profiles`
stored profiles, and six 20-hit searches and their hits as list items, from
the index, then measures this thread's CPU time (time.thread_time), best of
`--rounds`, each part as it is now and, beside it, as it was done before:
 1. the Markdown texts of a profile (`catalogue.markdown.render_html`, cache
    emptied: a profile not read before); before: every text through
    markdown-it (no plain-prose path);
 2. the API read's body (`api.schemas.profile_out` and its JSON), Markdown
    cache emptied; before: without the plain-prose path;
 3. the page's sections and JSON-LD (`api.web.pages.profile_fragments`),
    Markdown cache emptied; before: without the plain-prose path;
 4. the search API's answer from a search result (`search_body`, encoded);
    before: the documented models (`SearchResponse`, ~80 validated models)
    encoded as Litestar encodes a handler's model;
 5. an API list of 20 items (`profile_list_item`, encoded); before: each
    item validated (`ProfileListItem(...)` from `dataclasses.fields`).
Figures measured while other work runs on the machine are noisy; compare runs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.read_paths import loaded_store


def best_ms(func: Callable[[Any], Any], items: Sequence[Any], rounds: int, before: Callable[[], None] | None = None) -> float:
    """Best of `rounds` of this thread's CPU time per item, in ms (`before` runs ahead of each round, untimed)."""
    best = float("inf")
    for _ in range(rounds):
        if before is not None:
            before()
        t0 = time.thread_time()
        for item in items:
            func(item)
        best = min(best, time.thread_time() - t0)
    return best * 1000 / len(items)


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    os.environ.update(env)
    from litestar.plugins.pydantic import PydanticInitPlugin
    from litestar.serialization import encode_json, get_serializer

    from api.app import create_app
    from api.controllers import search as search_api
    from api.schemas import ProfileList, ProfileListItem, profile_list_item, profile_out
    from api.web.pages import PROFILE_FRAGMENTS, profile_fragments
    from catalogue import markdown
    from catalogue.access import PUBLIC_LABEL
    from catalogue.fields import markdown_paths, value_at
    from catalogue.listing import ListedProfile
    from catalogue.models import Profile
    from catalogue.search import SearchQuery
    from catalogue.settings import Settings
    from catalogue.vocabularies import EditorialStatus

    app = create_app(Settings(_env_file=None))
    async with app.lifespan():
        docs = [d async for d in Profile.get_pymongo_collection().find({}).limit(args.profiles)]  # batch work: one scan
        profiles = [Profile.model_validate(d) for d in docs]
        texts = [t for p in profiles for path in markdown_paths() if (t := value_at(p, path))]
        search = app.state.runtime.search
        results = [
            await search.search(SearchQuery(q=q, filters={"status": [EditorialStatus.PUBLISHED.value]}, per_page=20), labels=(PUBLIC_LABEL,))
            for q in ("Verwaltung", "Bus", "Schule", "Digitalisierung", "Energie", "Kita")
        ]
        listed = [ListedProfile.from_document(h.document) for r in results for h in r.hits]
        env_ = app.template_engine.engine  # type: ignore[union-attr]
        base = "https://katalog.example"
        cold = markdown.render_html.cache_clear

        def page_fragments(p: Profile) -> Any:
            PROFILE_FRAGMENTS.clear()  # each profile rendered afresh
            return profile_fragments(env_, p, f"{base}/profiles/{p.slug}")

        serializer = get_serializer(PydanticInitPlugin.encoders())  # as Litestar encodes a handler's models
        real_plain = markdown._plain_html  # noqa: SLF001 - switched off for the "before" figures

        def no_plain_path(text: str) -> None:
            return None

        def parser_only() -> None:
            markdown._plain_html = no_plain_path  # type: ignore[assignment]  # noqa: SLF001
            cold()

        def plain_path() -> None:
            markdown._plain_html = real_plain  # noqa: SLF001
            cold()

        def models_answer(r: Any) -> bytes:
            facets = [
                search_api.Facet(name=n, label=search_api.FACET_LABELS.get(n, n),
                                 values=[search_api.FacetValue(value=v, count=c) for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))])
                for n, counts in r.facets.items()
            ]
            hits = [search_api.SearchHit(**h) for h in (search_api.search_body(base, r)["hits"])]
            return encode_json(search_api.SearchResponse(total=r.total, page=r.page, per_page=r.per_page, pages=r.pages, hits=hits,
                                                         facets=facets), serializer)

        def values_answer(r: Any) -> bytes:
            return encode_json(search_api.search_body(base, r), serializer)

        def validated_list(chunk: Sequence[ListedProfile]) -> bytes:
            items = [
                ProfileListItem(**{f.name: getattr(i, f.name) for f in fields(i) if f.name in ProfileListItem.model_fields},
                                links_self="", url="", pdf_url="")
                for i in chunk
            ]
            return encode_json(ProfileList(items=items, total=len(items), page=1, per_page=20), serializer)

        def list_answer(chunk: Sequence[ListedProfile]) -> bytes:
            items = [profile_list_item(i, base) for i in chunk]
            return encode_json(ProfileList(items=items, total=len(items), page=1, per_page=20), serializer)

        def api_body(p: Profile) -> bytes:
            return encode_json(profile_out(p, base), serializer)

        chunks = [listed[i : i + 20] for i in range(0, len(listed), 20)]
        per_profile = len(texts) / len(profiles)
        r = args.rounds
        lines = [
            ("Markdown texts of a profile, cold", best_ms(markdown.render_html, texts, r, parser_only) * per_profile,
             best_ms(markdown.render_html, texts, r, plain_path) * per_profile, "profile"),
            ("API body, cold Markdown", best_ms(api_body, profiles, r, parser_only), best_ms(api_body, profiles, r, plain_path), "profile"),
            ("page sections and JSON-LD, cold Markdown", best_ms(page_fragments, profiles, r, parser_only),
             best_ms(page_fragments, profiles, r, plain_path), "profile"),
            ("search answer (20 hits, facets)", best_ms(models_answer, results, r), best_ms(values_answer, results, r), "answer"),
            ("API list (20 items)", best_ms(validated_list, chunks, r), best_ms(list_answer, chunks, r), "answer"),
        ]
        markdown._plain_html = real_plain  # noqa: SLF001
        print(f"  {'':<42} {'vorher':>9} {'jetzt':>9}")
        for label, before, now, per in lines:
            print(f"  {label:<42} {before:6.3f} ms {now:6.3f} ms  je {'Profil' if per == 'profile' else 'Antwort'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--profiles", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--data-dir", default="", help="reuse this data directory (benchmarks/read_paths.py's; imported on the first run)")
    args = parser.parse_args()
    data_dir, env = loaded_store(args.data_dir, "leuchtturm-render-", args.count)
    print(f"{args.count} Profile, Daten in {data_dir}; CPU dieses Threads, bestes von {args.rounds} Durchläufen "
          "(auf geteilter Maschine verrauscht)", flush=True)
    asyncio.run(run(args, env))
    print(f"Befehl: .venv/bin/python benchmarks/render_parts.py --count {args.count} --profiles {args.profiles} --rounds {args.rounds}"
          + (f" --data-dir {data_dir}" if args.data_dir else ""))


if __name__ == "__main__":
    main()
