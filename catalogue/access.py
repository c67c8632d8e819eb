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
