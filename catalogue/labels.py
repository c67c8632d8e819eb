"""German labels of the profile's fields: a view of the field registry (catalogue/fields.py).

The web form, the profile page, diffs, validation messages (API, forms,
importers) and the PDF read the labels declared there.
"""

from __future__ import annotations

from catalogue.fields import FIELD_LABELS, field_label

__all__ = ["FIELD_LABELS", "field_label"]
