"""QR codes for the PDFs: segno's code, with its data mask chosen about ten times faster.

segno (pure Python) spends most of a code's time choosing the data mask: it builds all eight
masked matrices cell by cell and scores each with the penalty rules of ISO/IEC 18004:2015
7.8.3.1 (N1 runs, N2 blocks, N3 finder-like patterns, N4 dark proportion). Here segno encodes
the address once with mask 0; the unmasked modules are recovered from it, and each of the eight
masked matrices is one int (``Packing``: row i, column j is one bit) scored with the same rules
by a few whole-matrix shifts and bit counts,
exactly as segno scores them (its reading of N3 included, lowest total wins, the first mask on a
tie). The winning mask is applied to segno's code and its format information rewritten by segno.
tests/unit/test_pdf_qr.py proves that mask and SVG bytes equal plain ``segno.make(url, error="m")``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import segno
from segno import consts
from segno import encoder as segno_encoder

N1, N2, N3, N4 = 3, 3, 40, 10  # ISO/IEC 18004:2015 Table 11
_TO_ASCII = bytes.maketrans(b"\x00\x01", b"01")
_FROM_ASCII = bytes.maketrans(b"01", b"\x00\x01")
_DARK_RUN = re.compile(b"1+")


GAP = 10  # zero bits after each row of a packed matrix: shifts by up to 10 never reach the next row


@dataclass(frozen=True)
class Packing:
    """A square matrix of ``width`` packed into one int: row i, column j is bit i * stride + j.

    Every penalty rule then is a few operations on the whole matrix (a shift by 1 is the
    neighbour in the row, a shift by ``stride`` the one in the column)."""

    width: int

    @property
    def stride(self) -> int:
        return self.width + GAP

    @functools.cached_property
    def cells(self) -> int:
        return self.columns(self.width)

    def columns(self, count: int, rows: int | None = None) -> int:
        """Bits of columns 0..count-1 in rows 0..rows-1 (all rows by default)."""
        line = (1 << count) - 1 if count > 0 else 0
        return sum(line << (i * self.stride) for i in range(self.width if rows is None else rows))

    def pack(self, rows: list[int]) -> int:
        return sum(line << (i * self.stride) for i, line in enumerate(rows))

    def unpack(self, packed: int) -> list[int]:
        line = (1 << self.width) - 1
        return [packed >> (i * self.stride) & line for i in range(self.width)]


@functools.lru_cache(maxsize=64)
def packing(width: int) -> Packing:
    return Packing(width)


@functools.lru_cache(maxsize=64)
def _masks(width: int) -> tuple[int, int, int, int, int]:
    """The bit masks the rules need for one width (see ``penalties``)."""
    p = packing(width)
    s = width - 1
    return (
        p.columns(width - 1),  # a horizontal pair starts here
        p.columns(width, rows=s),  # a vertical pair starts here
        p.columns(width - 6),  # a horizontal 1:1:3:1:1 fits from here
        p.columns(width, rows=width - 6),  # a vertical one fits from here
        p.cells,
    )


@dataclass(frozen=True)
class Layout:
    """What is fixed for one QR code version: its size, data region and the masks' bits."""

    width: int
    data: tuple[int, ...]  # per row: the cells of the encoding region
    fixed: int  # packed: the function patterns as the mask evaluation sees them
    masks: tuple[tuple[int, ...], ...]  # per mask pattern, per row: the cells it flips
    packed_masks: tuple[int, ...]


@functools.lru_cache(maxsize=40)
def version_layout(version: int) -> Layout:
    width = version * 4 + 17
    # The same steps segno takes before it places the codewords (encoder._encode).
    matrix = segno_encoder.make_matrix(width, width)  # type: ignore[no-untyped-call]  # segno has no annotations
    segno_encoder.add_finder_patterns(matrix, width, width)  # type: ignore[no-untyped-call]  # segno has no annotations
    segno_encoder.add_alignment_patterns(matrix, width, width)  # type: ignore[no-untyped-call]  # segno has no annotations
    data = []
    fixed = []
    for i, row in enumerate(matrix):
        region = 0
        values = 0
        for j, cell in enumerate(row):
            if cell > 0x1:
                region |= 1 << j
            elif cell:
                values |= 1 << j
        if i == width - 8:
            region &= ~(1 << 8)  # the dark module is not data (segno's function matrix)
        data.append(region)
        fixed.append(values)
    masks = tuple(
        tuple(
            sum(1 << j for j in range(width) if data[i] >> j & 1 and pattern(i, j))
            for i in range(width)
        )
        for pattern in segno_encoder.get_data_mask_functions(False)  # type: ignore[no-untyped-call]  # segno has no annotations
    )
    p = packing(width)
    return Layout(width, tuple(data), p.pack(fixed), masks, tuple(p.pack(list(m)) for m in masks))


def row_bits(row: bytes | bytearray) -> int:
    """A matrix row (bytes of 0 and 1) as an int whose bit j is column j."""
    return int(bytes(row[::-1]).translate(_TO_ASCII), 2)


def bits_row(value: int, width: int) -> bytearray:
    """The inverse of ``row_bits``."""
    return bytearray(format(value, f"0{width}b")[::-1].encode("ascii").translate(_FROM_ASCII))


def _scan_n3(matches: int, counted: int, step: int) -> int:
    """segno's N3 scan along lines: a counted pattern resumes the search 7 modules later, any
    other 4 later, so a pattern overlapping a counted one (4 or 6 after it) is not seen.

    ``step`` is the distance of neighbouring modules in the packed matrix (1 or the stride);
    each line is scanned on its own."""
    if not matches & ((counted << 4 * step) | (counted << 6 * step)):
        return N3 * counted.bit_count()  # no overlaps: every counted pattern is seen
    score = 0
    resume: dict[int, int] = {}  # per line: the first position the search looks at again
    positions = []
    while matches:
        low = matches & -matches
        positions.append(low.bit_length() - 1)
        matches ^= low
    stride = step if step > 1 else None
    for bit in sorted(positions, key=lambda b: (b % stride, b) if stride else b):
        line, at = (bit % stride, bit // stride) if stride else (-1, bit)
        if at < resume.get(line, -1):
            continue
        if counted >> bit & 1:
            score += N3
            resume[line] = at + 7
        else:
            resume[line] = at + 4
    return score


def penalties(rows: list[int], width: int) -> tuple[int, int, int, int]:
    """The penalty scores (N1, N2, N3, N4) of a square matrix given as row ints, as segno counts them.

    N1: every run of five or more equal modules in a row or column scores its length - 2.
    N2: every 2x2 block of one colour scores 3. N3: every 1:1:3:1:1 pattern with four light
    modules (or the symbol's edge) before or after it scores 40. N4: 10 for every full 5 % the
    dark proportion lies away from 50 %."""
    return packed_penalties(packing(width).pack(rows), width)


def packed_penalties(x: int, width: int) -> tuple[int, int, int, int]:
    """``penalties`` of a packed matrix (``Packing``)."""
    s = width + GAP
    h_pair, v_pair, h_n3, v_n3, cells = _masks(width)
    light = ~x & cells
    # N1, rows and columns: a run of L >= 5 has L - 4 windows of five, plus 2 for its start.
    same_h = ~(x ^ (x >> 1)) & h_pair
    runs = same_h & (same_h >> 1) & (same_h >> 2) & (same_h >> 3)
    n1 = runs.bit_count() + 2 * (runs & ~(runs << 1)).bit_count()
    same_v = ~(x ^ (x >> s)) & v_pair
    runs = same_v & (same_v >> s) & (same_v >> 2 * s) & (same_v >> 3 * s)
    n1 += runs.bit_count() + 2 * (runs & ~(runs << s)).bit_count()
    # N2: 2x2 blocks of one colour (overlapping blocks each count).
    n2 = N2 * (same_h & same_v & (same_v >> 1)).bit_count()
    # N3: dark light dark dark dark light dark, light (or the edge) on at least one side.
    n3 = 0
    for step, fits in ((1, h_n3), (s, v_n3)):
        found = (
            x & (light >> step) & (x >> 2 * step) & (x >> 3 * step) & (x >> 4 * step)
            & (light >> 5 * step) & (x >> 6 * step) & fits
        )
        if found:
            before = (x << step) | (x << 2 * step) | (x << 3 * step) | (x << 4 * step)
            after = (x >> 7 * step) | (x >> 8 * step) | (x >> 9 * step) | (x >> 10 * step)
            n3 += _scan_n3(found, found & ~(before & after), step)
    percent = float(x.bit_count()) / (width**2)
    n4 = N4 * int(abs(percent * 100 - 50) / 5)
    return n1, n2, n3, n4


def best_mask(data: int, layout: Layout) -> int:
    """The mask with the lowest total penalty (the first one on a tie, as segno chooses)."""
    best, best_score = 0, -1
    for number, flips in enumerate(layout.packed_masks):
        score = sum(packed_penalties(layout.fixed | (data ^ flips), layout.width))
        if best_score < 0 or score < best_score:
            best, best_score = number, score
    return best


def make(url: str) -> segno.QRCode:
    """``segno.make(url, error="m")``, the same code, with the mask chosen by row arithmetic."""
    code = segno.make(url, error="m", mask=0)
    if code.is_micro:  # never for error="m" with a URL; kept exact anyway
        return segno.make(url, error="m")
    layout = version_layout(code.version)
    rows = [row_bits(row) for row in code.matrix]
    zero = layout.masks[0]
    data = [(r ^ m) & d for r, m, d in zip(rows, zero, layout.data, strict=True)]
    mask = best_mask(packing(layout.width).pack(data), layout)
    if mask:
        flip = layout.masks[mask]
        matrix = tuple(
            bits_row(r ^ m0 ^ m, layout.width) for r, m0, m in zip(rows, zero, flip, strict=True)
        )
        segno_encoder.add_format_info(matrix, code.version, consts.ERROR_MAPPING[code.error], mask)  # type: ignore[no-untyped-call]  # segno has no annotations
        code.matrix = matrix
        code.mask = mask
    return code


def svg(url: str) -> str:
    """The address as an SVG QR code without border or XML declaration (the PDF's drawing).

    The same text as ``make(url).save(out, kind="svg", border=0, xmldecl=False, svgns=True)``
    (segno's writer, tested byte for byte), written here from the rows' dark runs: one path,
    a horizontal line of stroke width 1 through the middle of each run, every move relative
    to the end of the previous run."""
    code = make(url)
    width = len(code.matrix)
    moves = []
    end_x, end_y = 0, -1
    for y, row in enumerate(code.matrix):
        for run in _DARK_RUN.finditer(row.translate(_TO_ASCII)):
            start, stop = run.span()
            if end_y < 0:
                moves.append(f"M{start} {y}.5h{stop - start}")
            else:
                moves.append(f"m{start - end_x} {y - end_y}h{stop - start}")
            end_x, end_y = stop, y
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{width}" class="segno">'
        f'<path class="qrline" stroke="#000" d="{"".join(moves)}"/></svg>\n'
    )
