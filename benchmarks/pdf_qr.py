"""QR code benchmark: CPU time of the PDF's QR code for addresses it has not seen.

Times, interleaved on the same new addresses (the per-address cache of `qr_svg` never hits):
plain segno (`segno.make(url, error="m")` then `save(kind="svg")`, how the PDF drew it before),
and `catalogue.pdf.qr.svg` (segno's code with mask 0, the mask chosen on packed ints, the SVG
written directly), plus its two halves. Checks that both give the same bytes.

    .venv/bin/python benchmarks/pdf_qr.py [--urls 200] [--rounds 3]

CPU time (process_time) per code, median over rounds; noisy on a shared machine.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import segno

from catalogue.pdf import qr


def plain(url: str) -> str:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", border=0, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("ascii")


def per_code_ms(fn: Callable[[str], object], urls: list[str]) -> float:
    start = time.process_time()
    for url in urls:
        fn(url)
    return (time.process_time() - start) / len(urls) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=200, help="new addresses per round (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each with fresh addresses (default 3)")
    args = parser.parse_args()
    base = "https://leuchtturm.example/profiles/"
    for version in range(1, 41):
        qr.version_layout(version)  # per-version tables, built once per process
    ways: dict[str, Callable[[str], object]] = {
        "segno.make + save(svg) (before)": plain,
        "qr.svg (now)": qr.svg,
        "  of which qr.make (code, mask)": qr.make,
        "  segno.make(mask=0) alone": lambda url: segno.make(url, error="m", mask=0),
    }
    spent: dict[str, list[float]] = {name: [] for name in ways}
    for r in range(args.rounds):
        for name, fn in ways.items():
            urls = [f"{base}kommune-{r}-{i}-{name[:3]}-projekt-{i * 7919 % 10007}" for i in range(args.urls)]
            spent[name].append(per_code_ms(fn, urls))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    same = all(qr.svg(f"{base}probe-{i}") == plain(f"{base}probe-{i}") for i in range(50))
    print(f"QR code for a new address, CPU per code ({args.urls} addresses x {args.rounds} rounds):")
    for name, values in spent.items():
        print(f"  {name:<36} {statistics.median(values):6.2f} ms")
    print(f"  same SVG bytes on 50 probes: {same}")
    print(f"Reproduce: .venv/bin/python benchmarks/pdf_qr.py --urls {args.urls} --rounds {args.rounds}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
