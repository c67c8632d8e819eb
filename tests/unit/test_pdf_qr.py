"""The PDF's QR code (catalogue/pdf/qr.py): the same mask and the same SVG bytes as plain segno,
and each penalty rule of ISO/IEC 18004 7.8.3.1 on small hand-counted matrices."""

from __future__ import annotations

import io
import json
import random
import string
from pathlib import Path

import pytest
import segno

from benchmarks.synthetic import synthetic_profiles
from catalogue.pdf import qr
from catalogue.pdf.render import qr_svg
from catalogue.slugs import slugify
from tests.fixtures.profiles import buergerbus, fundbuero, longest

ROOT = Path(__file__).resolve().parents[2]
BASES = ("https://leuchtturm.example/profiles/", "http://localhost:8000/profiles/", "https://x.de/profiles/")


def reference(url: str) -> tuple[segno.QRCode, str]:
    code = segno.make(url, error="m")
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", border=0, xmldecl=False, svgns=True)
    return code, buffer.getvalue().decode("ascii")


def addresses() -> list[str]:
    demo = json.loads((ROOT / "data" / "demo" / "profiles.json").read_text(encoding="utf-8"))
    slugs = [entry["slug"] for entry in demo]
    slugs += [f()["slug"] for f in (fundbuero, buergerbus, longest)]
    slugs += [slugify(content["title"]) for content in synthetic_profiles(60, seed=7)]
    urls = [base + slug for base in BASES for slug in slugs]
    rng = random.Random(18004)
    alphabet = string.ascii_letters + string.digits + "-_.~%/?=&#äöüß"
    for length in list(range(1, 40)) + [rng.randrange(40, 300) for _ in range(180)]:
        urls.append(rng.choice(BASES) + "".join(rng.choice(alphabet) for _ in range(length)))
    urls += ["A", "1234567890", "HTTPS://X.DE/P/ABC"]  # numeric / alphanumeric segments, Micro QR
    return urls


def test_mask_and_svg_bytes_equal_plain_segno_for_many_addresses() -> None:
    urls = addresses()
    masks: set[int] = set()
    versions: set[int] = set()
    for url in urls:
        expected, svg = reference(url)
        code = qr.make(url)
        assert (code.mask, code.version, code.error) == (expected.mask, expected.version, expected.error), url
        assert code.matrix == expected.matrix, url
        assert qr.svg(url) == svg, url
        masks.add(expected.mask)
        versions.add(expected.version)
    assert len(urls) > 500
    assert masks == set(range(8))  # every mask won somewhere, so every branch of the choice ran
    assert len(versions) >= 10


def test_the_pdf_view_uses_it() -> None:
    url = "https://leuchtturm.example/profiles/" + fundbuero()["slug"]
    assert qr_svg(url) == reference(url)[1]


def rows(text: str) -> list[int]:
    """A matrix from lines of '#' (dark) and '.' (light) as row ints (bit j = column j)."""
    return [sum(1 << j for j, c in enumerate(line) if c == "#") for line in text.split()]


def test_n1_runs_of_five_or_more_in_rows_and_columns() -> None:
    # 8x8, checkerboard except row 0 (a dark run of 6: 6 - 2 = 4) and column 7 from row 2 (6 dark: 4)
    grid = [["#" if (i + j) % 2 else "." for j in range(8)] for i in range(8)]
    grid[0] = list("######.#")
    for i in range(2, 8):
        grid[i][7] = "#"
    matrix = rows("\n".join("".join(r) for r in grid))
    n1, _, _, _ = qr.penalties(matrix, 8)
    # row 0: run of 6 -> 4; column 7: rows 2..7 dark (6) -> 4; column 7 row 1 is light and row 0 dark
    assert n1 == 4 + 4
    # a run of exactly 5 scores 3, of 4 nothing
    assert qr.penalties(rows("#####.#.\n" + "\n".join(["#.#.#.#.", ".#.#.#.#"] * 3) + "\n#.#.#.#."), 8)[0] == 3
    assert qr.penalties(rows("####.#.#\n" + "\n".join([".#.#.#.#", "#.#.#.#."] * 3) + "\n.#.#.#.#"), 8)[0] == 0


def test_n2_every_2x2_block_of_one_colour_scores_3_overlapping_too() -> None:
    checker = ["#.#.#.#.", ".#.#.#.#"] * 4
    assert qr.penalties(rows("\n".join(checker)), 8)[1] == 0
    block = [list(r) for r in checker]
    for i in (0, 1):
        for j in (0, 1, 2):  # a dark 2x3 block: two overlapping 2x2 blocks
            block[i][j] = "#"
    assert qr.penalties(rows("\n".join("".join(r) for r in block)), 8)[1] == 2 * 3
    light = ["." * 8] * 8
    assert qr.penalties(rows("\n".join(light)), 8)[1] == 7 * 7 * 3


def test_n3_finder_like_pattern_with_four_light_modules_on_one_side() -> None:
    # 11 wide: the pattern with 4 light after it (row), nothing else dark
    blank = "." * 11
    assert qr.penalties(rows("\n".join(["#.###.#...."] + [blank] * 10)), 11)[2] == 40
    # light only before it, at the end of the row
    assert qr.penalties(rows("\n".join(["....#.###.#"] + [blank] * 10)), 11)[2] == 40
    # dark on both sides within four modules, away from the edges: not counted
    assert qr.penalties(rows("\n".join(["#...#.###.#...#"] + ["." * 15] * 14)), 15)[2] == 0
    # four light modules after it, dark right before it: counted
    assert qr.penalties(rows("\n".join(["...##.###.#...."] + ["." * 15] * 14)), 15)[2] == 40
    # the same pattern down column 3
    column = ["...#......."] * 11
    for i in (1, 5):
        column[i] = blank
    assert qr.penalties(rows("\n".join(column[:7] + [blank] * 4)), 11)[2] == 40


def test_n3_an_overlapping_pattern_after_a_counted_one_is_not_seen() -> None:
    # dark light dark dark dark light dark dark dark light dark: patterns at 0 and at 4.
    # segno resumes the search 7 after a counted one, so the one at 4 is skipped (one count).
    line = "#.###.###.#"
    assert qr.penalties(rows("\n".join([line] + ["." * 11] * 10)), 11)[2] == 40
    column = "\n".join(("#" if c == "#" else ".") + "." * 10 for c in line)
    assert qr.penalties(rows(column), 11)[2] == 40


def test_n4_dark_proportion() -> None:
    half = ["#" * 5 + "." * 5] * 10
    assert qr.penalties(rows("\n".join(half)), 10)[3] == 0
    dark = ["#" * 10] * 10
    assert qr.penalties(rows("\n".join(dark)), 10)[3] == 100
    mostly = ["#" * 6 + "." * 4] * 10  # 60 %: two full 5 % steps away
    assert qr.penalties(rows("\n".join(mostly)), 10)[3] == 20


@pytest.mark.parametrize("width", [21, 25, 45])
def test_penalties_equal_segno_on_random_matrices(width: int) -> None:
    from segno import encoder

    rng = random.Random(width)
    for _ in range(40):
        bits = [[rng.random() < rng.choice((0.3, 0.5, 0.7)) for _ in range(width)] for _ in range(width)]
        matrix = tuple(bytearray(int(b) for b in row) for row in bits)
        expected = encoder.mask_scores(matrix, width, width)
        assert qr.penalties([qr.row_bits(r) for r in matrix], width) == expected
