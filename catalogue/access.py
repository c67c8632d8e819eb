"""Who may do what: the one permission table of the catalogue.

Roles: anonymous readers (None), editors, reviewers, admins. Editors own the
profiles they create. Whether an action is *allowed* (403 otherwise) is
decided here; whether it *fits the profile's state* (409 otherwise) is
decided by the workflow in catalogue/profiles.py.
"""

from __future__ import annotations

from enum import StrEnum

from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, Role


class Action(StrEnum):
    VIEW = "view"
    CREATE = "create"
    EDIT = "edit"
    SUBMIT = "submit"
    PUBLISH = "publish"
    RETURN = "return"
    ARCHIVE = "archive"
    RESTORE = "restore"
    CONFIRM = "confirm"
    HISTORY = "history"
    IMPORT = "import"
    IMPORT_PUBLISHED = "import_published"
    MANAGE_USERS = "manage_users"
    REVIEW_QUEUE = "review_queue"
    RENAME = "rename"  # give a profile a new slug


REVIEW_ACTIONS = {Action.PUBLISH, Action.RETURN, Action.ARCHIVE, Action.RESTORE, Action.IMPORT_PUBLISHED, Action.REVIEW_QUEUE, Action.RENAME}


def allowed(
    principal: Principal | None,
    action: Action,
    *,
    owner: str | None = None,
    status: EditorialStatus | None = None,
) -> bool:
    """True when `principal` may perform `action` on a profile with this owner and status."""
    if action == Action.VIEW and status == EditorialStatus.PUBLISHED:
        return True
    if principal is None:
        return False
    role = principal.role
    is_owner = owner is not None and owner == principal.username
    if action == Action.MANAGE_USERS:
        return role == Role.ADMIN
    if role in (Role.REVIEWER, Role.ADMIN):
        return True
    # Editors from here on.
    match action:
        case Action.CREATE | Action.IMPORT:
            return True
        case Action.VIEW | Action.HISTORY | Action.CONFIRM:
            return is_owner
        case Action.EDIT | Action.SUBMIT:
            return is_owner and status in (None, EditorialStatus.DRAFT)
        case _:
            return False


# ------------------------------------------------------------ permission labels (search)
#
# Every profile is in the search index whatever its state; who may see a
# document there is expressed as labels, in the manner of CKAN's
# `permission_labels`: a document carries the labels of those who may VIEW
# it, a caller carries its own labels, and every search filters on "the
# document has one of the caller's labels". Both sides are derived from
# `allowed(…, Action.VIEW, …)` above (tests/unit/test_access_labels.py checks
# them against it for every role, owner and status):
#
#   document                          labels
#   published                         public, user:<owner>
#   draft, submitted, archived        reviewers, user:<owner>
#
#   caller                            labels
#   anonymous                         public
#   editor                            public, user:<username>
#   reviewer, admin                   public, reviewers, user:<username>

PUBLIC_LABEL = "public"
REVIEWERS_LABEL = "reviewers"
OWNER_LABEL_PREFIX = "user:"
# Labels that together see every document: for batch work and start-up checks, never for a request.
ALL_DOCUMENTS_LABELS: tuple[str, ...] = (PUBLIC_LABEL, REVIEWERS_LABEL)


def owner_label(username: str) -> str:
    return f"{OWNER_LABEL_PREFIX}{username}"


def document_labels(*, owner: str | None, status: EditorialStatus | str | None) -> list[str]:
    """The labels a profile's search document carries: who may view it."""
    labels = [PUBLIC_LABEL if status == EditorialStatus.PUBLISHED else REVIEWERS_LABEL]
    if owner:
        labels.append(owner_label(owner))
    return labels


def principal_labels(principal: Principal | None) -> tuple[str, ...]:
    """The labels a caller's searches filter on (the one place that computes them)."""
    if principal is None:
        return (PUBLIC_LABEL,)
    if principal.role in (Role.REVIEWER, Role.ADMIN):
        return (PUBLIC_LABEL, REVIEWERS_LABEL, owner_label(principal.username))
    return (PUBLIC_LABEL, owner_label(principal.username))
