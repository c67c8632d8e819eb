"""Export records of validated profiles are dumped as they are (not validated again), and the export mirror's CSV row
is made from the record it already has: the sync worker renders one per published profile it indexes (issue 10's
import rate), so both must give exactly what the validating path gives."""

from __future__ import annotations

import json
from typing import Any

import pytest

from benchmarks.synthetic import synthetic_profiles
from catalogue.models import ProfileContent
from importers.export import csv_row, iter_csv, to_export_dict
from tests.factories import example_profile


def _contents() -> list[ProfileContent]:
    odd = example_profile(
        title="  Gemeinsamer Bauhof  ",
        keywords=["Bauhof", "Bauhof", "Winterdienst"],
        district="Regierungsbezirk Detmold",
        summary="=SUMME(1;2) am Anfang",
    )
    return [ProfileContent.model_validate(d) for d in [example_profile(), odd, *synthetic_profiles(60, 7)]]


def _validating(item: ProfileContent) -> dict[str, Any]:
    """The record as the dict path makes it: the content validated once more, then dumped."""
    return to_export_dict(item.model_dump(mode="json"))


@pytest.mark.parametrize("meta", [{}, {"slug": "bauhof", "status": "published"}])
def test_a_model_gives_the_record_the_validating_path_gives_key_for_key(meta: dict[str, Any]) -> None:
    for content in _contents():
        dumped = {**content.model_dump(mode="json"), **meta}
        record = to_export_dict(content) | meta
        assert json.dumps(record, ensure_ascii=False) == json.dumps(to_export_dict(dumped), ensure_ascii=False)
        assert json.dumps(to_export_dict(content), ensure_ascii=False) == json.dumps(_validating(content), ensure_ascii=False)


def test_a_model_is_not_validated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    contents = _contents()
    calls: list[Any] = []
    original = ProfileContent.model_validate

    def counting(cls: type[ProfileContent], obj: Any, *args: Any, **kwargs: Any) -> ProfileContent:
        calls.append(obj)
        return original.__func__(cls, obj, *args, **kwargs)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(ProfileContent, "model_validate", classmethod(counting))
    for content in contents:
        to_export_dict(content)
    assert calls == []
    to_export_dict(contents[0].model_dump(mode="json"))  # a dict still is
    assert len(calls) == 1


def test_the_csv_row_of_a_record_is_the_row_the_csv_export_writes() -> None:
    for content in _contents():
        record = to_export_dict(content)
        header, row = list(iter_csv([content]))
        assert csv_row(record) == row and row.endswith("\r\n")
        cut = {k: v for k, v in record.items() if k != "contact"}  # a record cut down (the public one) keeps its columns
        assert csv_row(cut).count(",") >= len(header.split(",")) - 1
