"""Permission labels agree with the permission table for every role, owner and status."""

from __future__ import annotations

import itertools

import pytest

from catalogue.access import (
    PUBLIC_LABEL,
    Action,
    allowed,
    document_labels,
    principal_labels,
)
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, Role

PRINCIPALS = [
    None,
    Principal("erika", Role.EDITOR),
    Principal("otto", Role.EDITOR),
    Principal("rita", Role.REVIEWER),
    Principal("adam", Role.ADMIN),
    Principal("erika", Role.REVIEWER),
]


@pytest.mark.parametrize(
    ("principal", "owner", "status"),
    list(itertools.product(PRINCIPALS, ["erika", "otto", None], list(EditorialStatus))),
)
def test_labels_follow_the_view_permission(principal: Principal | None, owner: str | None, status: EditorialStatus) -> None:
    may_view = allowed(principal, Action.VIEW, owner=owner, status=status)
    shares_a_label = bool(set(principal_labels(principal)) & set(document_labels(owner=owner, status=status)))
    assert shares_a_label == may_view


def test_label_values() -> None:
    assert principal_labels(None) == (PUBLIC_LABEL,)
    assert principal_labels(Principal("erika", Role.EDITOR)) == ("public", "user:erika")
    assert set(principal_labels(Principal("rita", Role.REVIEWER))) == {"public", "reviewers", "user:rita"}
    assert document_labels(owner="erika", status=EditorialStatus.PUBLISHED) == ["public", "user:erika"]
    assert document_labels(owner="erika", status="archived") == ["reviewers", "user:erika"]
    assert document_labels(owner=None, status="draft") == ["reviewers"]
