"""The page checks of the web tests can fail: each is fed a deliberately broken input.

(tests/web_support.py; the browser test's PDF check, the editor tests' label and
aria-invalid checks. The editor tests also break a real rendered form.)
"""

from __future__ import annotations

import pytest

from tests.web_support import check_pdf_response, control_tag, marked_invalid, unlabelled_controls

GOOD_FORM = (
    '<label for="f-title">Titel</label><input id="f-title" name="title" type="text" aria-describedby="f-title-fehler" aria-invalid="true">'
    '<input type="hidden" name="csrf_token" value="x">'
)


def test_pdf_check_accepts_a_pdf() -> None:
    check_pdf_response(200, "application/pdf", b"%PDF-1.7 ...")


@pytest.mark.parametrize(
    ("status", "content_type", "body"),
    [
        (404, "text/html; charset=utf-8", b"<!doctype html>Nicht gefunden"),  # the route is not wired
        (500, "application/problem+json", b"{}"),
        (200, "text/html; charset=utf-8", b"<!doctype html>"),  # a page instead of the PDF
        (200, "application/pdf", b"<html>"),  # not PDF bytes
    ],
)
def test_pdf_check_fails_on_anything_else(status: int, content_type: str, body: bytes) -> None:
    with pytest.raises(AssertionError):
        check_pdf_response(status, content_type, body)


def test_label_check() -> None:
    assert unlabelled_controls(GOOD_FORM) == []
    assert unlabelled_controls(GOOD_FORM.replace('for="f-title"', 'for="f-other"')) == ["f-title"]
    assert unlabelled_controls('<select name="x"></select>') == ["x"]  # no id, so no label can point at it


def test_aria_invalid_check() -> None:
    assert control_tag(GOOD_FORM, "f-title").startswith("<input")
    assert marked_invalid(GOOD_FORM, "f-title")
    assert not marked_invalid(GOOD_FORM.replace(' aria-invalid="true"', ""), "f-title")
    assert not marked_invalid(GOOD_FORM.replace('aria-describedby="f-title-fehler"', ""), "f-title")
    assert not marked_invalid(GOOD_FORM, "f-missing")
