"""The importer on real pages: the share of stated facts that land in the right structured fields.

Reads the development set beside the repository (../shared/eval/dev/: real
public pages, each with the facts it states); nothing of it is copied into
the repository. Without the set the test is skipped with that reason. It
prints the score by kind and fails below 90 % overall. See
tests/quality/real_pages.py for what counts as right.
"""

from __future__ import annotations

import pytest

from tests.quality.real_pages import DEV_SET, evaluate

TARGET = 0.90


def test_development_set_facts_land_in_the_right_fields(capsys: pytest.CaptureFixture[str]) -> None:
    if not (DEV_SET / "expected.json").exists():
        pytest.skip(f"Entwicklungsdatensatz fehlt ({DEV_SET}); er liegt nur neben dem Repository (CI), nicht darin")
    score = evaluate(DEV_SET)
    table = score.table()
    with capsys.disabled():  # the score is shown on every run, not only when the test fails
        print(f"\nImporter on the development set ({DEV_SET}):")  # noqa: T201 - the measurement's output
        print("\n".join("  " + line for line in table.splitlines()))  # noqa: T201 - …
    assert score.overall >= TARGET, f"only {score.overall:.0%} of the stated facts in the right fields (target {TARGET:.0%})\n{table}\n" + "\n".join(score.misses)
