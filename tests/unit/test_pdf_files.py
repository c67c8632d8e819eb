"""`catalogue.pdf.cache.PdfFiles`: rendered PDFs on disk, shared by the serving processes on one DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

from catalogue.pdf import PdfFiles


def test_a_kept_file_is_found_by_its_key_only(tmp_path: Path) -> None:
    files = PdfFiles(tmp_path / "pdf")
    assert files.read("rufbus", "3:2026-12-02:False", "profile") is None  # no directory yet
    files.write("rufbus", "3:2026-12-02:False", "profile", b"%PDF-1 drei")
    assert PdfFiles(tmp_path / "pdf").read("rufbus", "3:2026-12-02:False", "profile") == b"%PDF-1 drei"  # another process
    assert files.read("rufbus", "4:2026-12-02:False", "profile") is None  # another version
    assert files.read("rufbus", "3:2026-12-03:False", "profile") is None  # another day
    assert files.read("rufbus", "3:2026-12-02:False", "profile-full") is None  # another kind
    assert not [p for p in (tmp_path / "pdf").iterdir() if p.name.endswith(".tmp")]  # written whole, then renamed


def test_the_oldest_files_go_beyond_the_size_bound(tmp_path: Path) -> None:
    files = PdfFiles(tmp_path / "pdf", max_bytes=2500)
    for n in range(5):
        files.write(f"p{n}", 1, "profile", bytes(1000))
        os.utime(files._path(f"p{n}", 1, "profile"), (1000 + n, 1000 + n))  # a clear order of age
    (tmp_path / "pdf" / ".x.pdf.1.tmp").write_bytes(b"half")
    os.utime(tmp_path / "pdf" / ".x.pdf.1.tmp", (1000, 1000))  # a write that died long ago
    assert files.sweep() == 3
    assert [n for n in range(5) if files.read(f"p{n}", 1, "profile") is not None] == [3, 4]
    assert not (tmp_path / "pdf" / ".x.pdf.1.tmp").exists()


def test_a_directory_that_cannot_be_written_costs_only_a_render(tmp_path: Path) -> None:
    blocker = tmp_path / "pdf"
    blocker.write_text("a file where the directory should be")
    files = PdfFiles(blocker)
    files.write("rufbus", 1, "profile", b"%PDF")  # no exception: the PDF is simply not kept
    assert files.read("rufbus", 1, "profile") is None
