"""Cost of the real-page importer's HTML path per MB (issue 13, deliverable 6).

Builds synthetic project pages of the given sizes (a structured page: a header, an `<h1>`, the labelled
sections with many paragraphs, lists and a fact table; invented text, no real municipality's facts) and
parses each with `importers.registry.parse_source` (the path uploads and `leuchtturm import` take) in a
child process of its own, so CPU time and peak memory belong to that one parse. Prints, per size, the
CPU seconds (process time) and seconds per MB, the growth of the peak resident memory during the
parse (ru_maxrss; 0 when the parse stays below the peak of loading the register), and the peak of
memory the parse allocates (tracemalloc, in a second, traced parse) with its ratio to the input.

    .venv/bin/python benchmarks/html_parse.py [--sizes 2,5,10] [--shape structured|reference|flat] [--no-cut]

Targets (issue 13): 10 MB of HTML in <= 5 s CPU, memory <= 10x the input. The HTML size cap
(importers.registry.HTML_MAX_BYTES) is bypassed here so the cost beyond it can be measured.
Figures measured while other sessions run are noisy (CPU time less so than wall clock).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORDS = (
    "Projekt Verwaltung Bürgerinnen Bürger digital Antrag Verfahren Gemeinde Kreis Zusammenarbeit Ergebnis "
    "Ziel Umsetzung Beteiligung Schule Energie Wärme Straße Beleuchtung Förderung Haushalt Personal Termin "
    "Dienst Online Plattform Abstimmung Rat Ausschuss Konzept Planung Netz Daten Service Bericht Arbeit"
).split()
SECTIONS = ("Anlass", "Ziel", "Umsetzung", "Ergebnisse", "Erfahrungen")


def _sentence(rnd: random.Random) -> str:
    words = [rnd.choice(WORDS) for _ in range(rnd.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def build_page(size: int, shape: str, seed: int = 1) -> str:
    """A page of about `size` bytes (UTF-8)."""
    rnd = random.Random(seed)
    head = (
        "<!doctype html><html lang='de'><head><meta charset='utf-8'><title>Beispielprojekt</title>"
        "<style>body{font-family:sans-serif}</style><script>var x = 1;</script></head><body>"
        "<nav class='menu'><ul><li><a href='/'>Start</a></li><li><a href='/p'>Projekte</a></li></ul></nav>"
    )
    parts = [head]
    if shape != "flat":
        parts.append("<main><h1>Gemeinsame Straßenbeleuchtung im Beispielkreis</h1>")
        parts.append("<table><tr><th>Einwohner:</th><td>12.345</td></tr><tr><th>Bundesland:</th><td>Hessen</td></tr></table>")
    total = sum(len(p) for p in parts)
    n = 0
    while total < size:
        chunk: list[str] = []
        if shape == "structured" and n % 40 == 0:
            chunk.append(f"<h2>{SECTIONS[(n // 40) % len(SECTIONS)]}</h2>")
        if shape == "flat":
            chunk.append("<div><span>" + _sentence(rnd) + "</span> " + _sentence(rnd) + "<br>" + _sentence(rnd) + "</div>")
        elif n % 7 == 3:
            chunk.append("<ul>" + "".join(f"<li>{_sentence(rnd)}</li>" for _ in range(4)) + "</ul>")
        else:
            chunk.append("<p>" + " ".join(_sentence(rnd) for _ in range(4)) + " <a href='#'>mehr</a></p>")
        text = "".join(chunk)
        parts.append(text)
        total += len(text.encode())
        n += 1
    parts.append("</main><footer>Impressum</footer></body></html>" if shape != "flat" else "</body></html>")
    return "".join(parts)


def _child(path: str, no_cut: bool) -> None:
    """Parse one page; print CPU seconds, peak RSS growth (KB), peak Python allocation and the outcome as JSON."""
    import tracemalloc

    from importers import html_page, registry
    from importers.base import Source

    registry.HTML_MAX_BYTES = 1 << 40  # measure beyond the cap
    if no_cut:
        html_page.TEXT_MAX_CHARS = 1 << 40  # the cost before issue 13's text bound
    # load the municipality register once first, as a running server has (a fixed cost, not per MB)
    registry.parse_source(Source(name="w.html", raw=b"<html><h1>Test</h1><p>Ein Satz.</p></html>", media_type="text/html"))
    raw = Path(path).read_bytes()
    source = Source(name=Path(path).name, raw=raw, media_type="text/html")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    importer, records = registry.parse_source(source)
    cpu = time.process_time() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    record = records[0] if records else None
    count = len(records)
    del records
    tracemalloc.start()  # a second parse, traced: the peak of memory the parse allocates beyond the input
    registry.parse_source(source)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({
        "cpu_s": cpu, "rss_kb": rss_after - rss_before, "peak_bytes": peak, "input_bytes": len(raw), "importer": importer.name if importer else None,
        "records": count, "ok": bool(record and not record.errors),
        "title": (record.content.get("title") if record else None),
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="2,5,10", help="sizes in MB, comma-separated")
    parser.add_argument("--shape", default="structured", choices=("structured", "reference", "flat"))
    parser.add_argument("--no-cut", action="store_true", help="read the whole text (the cost before the text bound)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.no_cut)
        return 0
    import tempfile

    print(f"HTML-Import: Seiten der Form „{args.shape}“, je Größe ein eigener Prozess", flush=True)
    print(f"{'MB':>5} {'CPU s':>8} {'s/MB':>6} {'RSS+ MB':>8} {'Spitze MB':>10} {'Spitze/Eingabe':>15}  Ergebnis", flush=True)
    failed = False
    with tempfile.TemporaryDirectory(prefix="leuchtturm-html-bench-") as tmp:
        for mb in (float(s) for s in args.sizes.split(",")):
            page = build_page(int(mb * 1048576), args.shape)
            path = Path(tmp) / f"seite-{mb:g}mb.html"
            path.write_text(page, encoding="utf-8")
            size_mb = path.stat().st_size / 1048576
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(path), *(["--no-cut"] if args.no_cut else [])], capture_output=True, text=True, check=False, cwd=ROOT,
            )
            if done.returncode != 0:
                print(f"{size_mb:5.1f} Fehler: {done.stderr[-2000:]}", flush=True)
                failed = True
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rss_mb, peak_mb = r["rss_kb"] / 1024, r["peak_bytes"] / 1048576
            print(
                f"{size_mb:5.1f} {r['cpu_s']:8.2f} {r['cpu_s'] / size_mb:6.2f} {rss_mb:8.1f} {peak_mb:10.1f} {peak_mb / size_mb:14.1f}x  "
                f"{r['importer']}, {r['records']} Datensatz, {'gültig' if r['ok'] else 'mit Fehlern'}",
                flush=True,
            )
    no_cut = " --no-cut" if args.no_cut else ""
    print(f"(.venv/bin/python benchmarks/html_parse.py --sizes {args.sizes} --shape {args.shape}{no_cut})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
