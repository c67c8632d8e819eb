"""The profile form, generated from the field registry: layout, labels and help texts, form data <-> ProfileContent, error mapping.

Inputs are named after the dotted pydantic path of the field they fill
("title", "contact.email", "municipalities.0.name"), so a validation error's
"field" points straight at the input next to which its message belongs.
The form is always re-rendered from what was typed (`values`), never from
the parsed result, so nothing typed is lost when a value is invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from catalogue import fields as registry
from catalogue.fields import FIELD_LABELS, FORM_SECTIONS, MARKDOWN_HELP, Field, FormSection, Widget
from catalogue.formatting import format_date_de, format_float_de
from catalogue.models import MAX_LIST, Profile, ProfileContent

# Everything below is generated from the field registry (catalogue/fields.py).

LABELS: dict[str, str] = FIELD_LABELS
SHORT_LABELS: dict[str, str] = {f.path: f.display_label for f in registry.BY_PATH.values()}
HELP_TEXTS: dict[str, str] = {f.path: f.help_text() for f in registry.BY_PATH.values() if f.help}

# Repeatable groups (municipalities, partners, links) and their subfields.
GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    f.name: tuple(s.name for s in f.subfields) for f in registry.CONTENT if f.input and f.input.widget is Widget.ROWS
}
ADD_ROW_ACTIONS: dict[str, str] = {f"add-{group}": group for group in GROUP_FIELDS}
# Empty rows shown below the filled ones in repeatable groups.
SPARE_ROWS = 1


def _form_leaves() -> list[Field]:
    """The form's inputs outside the repeatable groups, in registry order."""
    return [f for f in registry.leaves(registry.CONTENT) if f.input is not None and f.top not in GROUP_FIELDS]


FORM_LEAVES: tuple[Field, ...] = tuple(_form_leaves())
# Markdown fields of the form in page order, with the funding text.
MARKDOWN_INPUTS: tuple[str, ...] = registry.markdown_paths()
MULTI_INPUTS: tuple[str, ...] = tuple(f.path for f in FORM_LEAVES if f.input and f.input.widget is Widget.CHECKBOXES)
SCALAR_INPUTS: tuple[str, ...] = tuple(f.path for f in FORM_LEAVES if f.path not in MULTI_INPUTS)


def _rows(fields: tuple[Field, ...]) -> list[list[Field]]:
    """Fields grouped into the form's rows (an input with `same_row` joins the row before it)."""
    rows: list[list[Field]] = []
    for f in fields:
        if f.input is None:
            continue
        if rows and f.input.same_row:
            rows[-1].append(f)
        else:
            rows.append([f])
    return rows


@dataclass(frozen=True)
class FormLayoutSection:
    section: FormSection
    rows: list[list[Field]]

    @property
    def own_group(self) -> Field | None:
        """The repeatable group that is this whole section (links), if it is one."""
        only = self.rows[0][0] if len(self.rows) == 1 and len(self.rows[0]) == 1 else None
        return only if only is not None and only.input is not None and only.input.own_section else None


FORM_LAYOUT: tuple[FormLayoutSection, ...] = tuple(
    FormLayoutSection(s, _rows(tuple(f for f in registry.CONTENT if f.form_section == s.key))) for s in FORM_SECTIONS
)


def subfield_rows(f: Field) -> list[list[Field]]:
    return _rows(f.subfields)


def input_attrs(f: Field) -> str:
    """Extra HTML attributes of a text input, from the registry and the model's limits."""
    assert f.input is not None
    attrs = []
    if f.input.inputmode:
        attrs.append(f'inputmode="{f.input.inputmode}"')
    maxlength = f.input.maxlength
    if maxlength == "model":
        found = f.limits()
        maxlength = found.get("max_length") or registry.digits_of(found.get("pattern"))
    if maxlength:
        attrs.append(f'maxlength="{maxlength}"')
    if f.input.required:
        attrs.append("required")
    if f.input.autocomplete:
        attrs.append(f'autocomplete="{f.input.autocomplete}"')
    return " ".join(attrs)


def input_id(name: str) -> str:
    return "f-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ------------------------------------------------------------ typed values


@dataclass
class FormValues:
    """What the user typed, keyed by input name; lists for checkbox groups."""

    scalars: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # rows to show per group

    def get(self, name: str) -> str:
        return self.scalars.get(name, "")

    def has(self, name: str, value: str) -> bool:
        return value in self.multi.get(name, [])

    def row_count(self, group: str) -> int:
        return self.rows.get(group, SPARE_ROWS)


MAX_INPUT = 25_000
MAX_CHOICES = max(len(registry.field(name).options()) for name in MULTI_INPUTS)
_ROW_RE = re.compile(
    r"^(" + "|".join(GROUP_FIELDS) + r")\.(\d{1,3})\.(" + "|".join(sorted({s for subs in GROUP_FIELDS.values() for s in subs})) + r")$"
)


def values_from_form(form: Mapping[str, Any] | Any) -> FormValues:
    """Collect the typed values from a submitted form (unknown inputs are ignored)."""
    values = FormValues()
    getall = getattr(form, "getall", None)
    for name in SCALAR_INPUTS:
        raw = form.get(name)
        if raw is not None:
            values.scalars[name] = str(raw)[:MAX_INPUT]
    for name in MULTI_INPUTS:
        items = getall(name, []) if getall else form.get(name, [])
        if isinstance(items, str):
            items = [items]
        values.multi[name] = [str(v) for v in items][:MAX_CHOICES]
    highest: dict[str, int] = {}
    for key in list(form.keys()):
        m = _ROW_RE.match(str(key))
        if not m or m.group(3) not in GROUP_FIELDS[m.group(1)]:
            continue
        group, index, _ = m.groups()
        if int(index) >= MAX_LIST + SPARE_ROWS:
            continue
        values.scalars[key] = str(form.get(key) or "")[:MAX_INPUT]
        highest[group] = max(highest.get(group, -1), int(index))
    for group in GROUP_FIELDS:
        values.rows[group] = max(highest.get(group, -1) + 1, SPARE_ROWS)
    return values


def _as_text(f: Field, value: Any) -> str:
    """A stored value as the form shows it (German numbers and dates)."""
    if value is None:
        return ""
    kind = f.kind()
    if kind == "date":
        return format_date_de(value)
    if kind == "float":
        return format_float_de(value, 2, strip_zeros=True)
    if kind == "list":
        return ", ".join(str(v) for v in value)
    return str(value)


def values_from_profile(profile: Profile | ProfileContent | None) -> FormValues:
    """The form's values for an existing profile (or a fresh, empty form with the model's defaults)."""
    values = FormValues()
    if profile is None:
        for f in FORM_LEAVES:
            default = f.model_field().default
            if isinstance(default, str) and default:
                values.scalars[f.path] = default
        values.rows = dict.fromkeys(GROUP_FIELDS, SPARE_ROWS)
        return values
    data = profile.model_dump(mode="json")
    for f in FORM_LEAVES:
        value = registry.value_at(data, f.path)
        if f.path in MULTI_INPUTS:
            values.multi[f.path] = list(value or [])
        else:
            values.scalars[f.path] = _as_text(f, value)
    for group, subs in GROUP_FIELDS.items():
        items = data.get(group) or []
        for i, item in enumerate(items):
            for sub in subs:
                values.scalars[f"{group}.{i}.{sub}"] = _as_text(registry.field(f"{group}.{sub}"), item.get(sub))
        values.rows[group] = len(items) + SPARE_ROWS
    return values


# ------------------------------------------------------------ parsing


def _blank(v: str | None) -> bool:
    return v is None or not v.strip()


def parse_int_de(text: str) -> int | str:
    """'28.808' or '28808' -> 28808; anything else is returned unchanged (pydantic reports it).

    ASCII digits only ([0-9], not \\d, which matches every script's digits:
    Python's int() would read '١٢٣' as 123).
    """
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"-?[0-9]{1,3}(\.[0-9]{3})+", t):
        t = t.replace(".", "")
    if re.fullmatch(r"-?[0-9]+", t):
        try:
            return int(t)
        except ValueError:  # more digits than Python converts (4300): let pydantic report it
            return text
    return text


def parse_float_de(text: str) -> float | str:
    """'158,16' / '1.234,5' / '158.16' -> float; anything else is returned unchanged."""
    t = text.strip().replace("\u00a0", "").replace(" ", "").removesuffix("€").removesuffix("km²")
    if re.fullmatch(r"-?[0-9]{1,3}(\.[0-9]{3})+(,[0-9]+)?", t):
        t = t.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?[0-9]+,[0-9]+", t):
        t = t.replace(",", ".")
    if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", t):
        return float(t)
    return text


def parse_date_de(text: str) -> str:
    """'31.12.2019' -> '2019-12-31'; ISO dates pass through; anything else unchanged."""
    t = text.strip()
    m = re.fullmatch(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", t)
    if m:
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
        except ValueError:
            return text
    return t


_PARSERS: dict[str, Callable[[str], Any]] = {"int": parse_int_de, "float": parse_float_de, "date": parse_date_de}


def _put(target: dict[str, Any], f: Field, raw: str, values: FormValues, name: str) -> bool:
    """Put one typed value into `target` (converted for the model); True when something was typed."""
    assert f.input is not None
    widget = f.input.widget
    if widget is Widget.CHECKBOXES:
        target[f.name] = values.multi.get(name, [])
        return bool(target[f.name])
    if widget is Widget.MARKDOWN:
        target[f.name] = raw.replace("\r\n", "\n")
        return bool(raw.strip())
    if widget is Widget.KEYWORDS:
        target[f.name] = [k.strip() for k in re.split(r"[,;\n]", raw) if k.strip()]
        return bool(target[f.name])
    if _blank(raw):
        if f.model_field().is_required():  # pydantic reports it, next to its input
            target[f.name] = raw.strip()
        return False
    parse = _PARSERS.get(f.kind())
    target[f.name] = parse(raw) if parse else raw.strip()
    return True


def content_data(values: FormValues) -> dict[str, Any]:
    """Build the ProfileContent input dict from typed values (validation is the service's job)."""
    s = values.scalars
    data: dict[str, Any] = {}
    for f in registry.CONTENT:
        if f.input is None:
            continue
        widget = f.input.widget
        if widget is Widget.ROWS:
            items = []
            for i in range(values.row_count(f.name)):
                typed = {sub.name: s.get(f"{f.name}.{i}.{sub.name}", "").strip() for sub in f.subfields}
                if not any(typed.values()):
                    continue
                item: dict[str, Any] = {}
                for sub in f.subfields:
                    _put(item, sub, typed[sub.name], values, f"{f.name}.{i}.{sub.name}")
                items.append(item)
            data[f.name] = items
            values.rows.setdefault(f.name, SPARE_ROWS)
        elif widget in (Widget.GROUP, Widget.FIELDS):
            obj: dict[str, Any] = {}
            typed_any = False
            for sub in f.subfields:
                typed_any |= _put(obj, sub, s.get(sub.path, ""), values, sub.path)
            optional = not f.model_field().is_required() and f.model_field().default is None
            if typed_any or not optional:
                data[f.name] = obj
        else:
            _put(data, f, s.get(f.path, ""), values, f.path)
    return data


def row_index_map(values: FormValues) -> dict[str, list[int]]:
    """For each group, the form row index of each list item (empty rows are skipped in the data)."""
    out: dict[str, list[int]] = {}
    for group, sub in GROUP_FIELDS.items():
        out[group] = [
            i for i in range(values.row_count(group)) if any(values.get(f"{group}.{i}.{k}").strip() for k in sub)
        ]
    return out


# An error on a whole object goes next to its first input.
_INPUT_FOR: dict[str, str] = {
    f.name: f.subfields[0].path for f in registry.CONTENT if f.input and f.input.widget in (Widget.GROUP, Widget.FIELDS)
}


def map_errors(errors: list[dict[str, Any]], values: FormValues) -> dict[str, list[str]]:
    """Error messages keyed by input name; messages without a matching input go under ''."""
    rows = row_index_map(values)
    known = set(SCALAR_INPUTS) | set(MULTI_INPUTS)
    out: dict[str, list[str]] = {}
    for err in errors:
        path = str(err.get("field") or "")
        message = german_message(path, str(err.get("message") or "ist ungültig"))
        parts = path.split(".")
        target = ""
        if parts and parts[0] in GROUP_FIELDS and len(parts) >= 2 and parts[1].isdigit():
            idx = int(parts[1])
            form_idx = rows[parts[0]][idx] if idx < len(rows[parts[0]]) else idx
            sub = parts[2] if len(parts) > 2 else GROUP_FIELDS[parts[0]][0]
            target = f"{parts[0]}.{form_idx}.{sub}"
        elif parts and parts[0] in GROUP_FIELDS:
            target = f"{parts[0]}.0.{GROUP_FIELDS[parts[0]][0]}"
        else:
            for n in range(len(parts), 0, -1):
                candidate = ".".join(parts[:n])
                if candidate in known:
                    target = candidate
                    break
                if candidate in _INPUT_FOR:
                    target = _INPUT_FOR[candidate]
                    break
        out.setdefault(target, []).append(message)
    return out


def german_message(path: str, message: str) -> str:
    """Some validators (e-mail) speak English; say it in German."""
    if path.endswith("email") and ("email" in message.lower() or "value is not" in message):
        return "muss eine gültige E-Mail-Adresse sein, zum Beispiel name@kommune.de"
    if message.isascii() and message[:1].isupper() and "Input" in message:
        return "ist ungültig"
    return message


def error_label(name: str) -> str:
    """A readable label for an input name, for the error summary."""
    m = _ROW_RE.match(name)
    if m:
        group, index, sub = m.groups()
        return f"{LABELS[group]}, Zeile {int(index) + 1}: {LABELS[f'{group}.{sub}']}"
    if "." in name and name in LABELS:
        parent, label = LABELS[name.split(".", 1)[0]], LABELS[name]
        return label if label == parent else f"{parent}: {label}"
    return LABELS.get(name, name or "Profil")


__all__ = ["FORM_LAYOUT", "HELP_TEXTS", "LABELS", "MARKDOWN_HELP", "SHORT_LABELS", "FormValues", "content_data", "values_from_form", "values_from_profile"]
