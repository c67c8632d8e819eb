"""Domain errors. The API maps each to an RFC 9457 problem (api/problems.py)."""

from __future__ import annotations

from typing import Any


class CatalogueError(Exception):
    """Base of all domain errors; `title` is a short German summary."""

    status = 400
    title = "Ungültige Anfrage"
    type_slug = "bad-request"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.extra = extra


class ValidationFailed(CatalogueError):
    status = 422
    title = "Eingaben sind ungültig"
    type_slug = "validation"


class NotFound(CatalogueError):
    status = 404
    title = "Nicht gefunden"
    type_slug = "not-found"


class PermissionDenied(CatalogueError):
    status = 403
    title = "Keine Berechtigung"
    type_slug = "forbidden"


class NotAuthenticated(CatalogueError):
    status = 401
    title = "Anmeldung erforderlich"
    type_slug = "unauthenticated"


class Conflict(CatalogueError):
    status = 409
    title = "Konflikt"
    type_slug = "conflict"


class InvalidTransition(Conflict):
    title = "Dieser Statuswechsel ist nicht möglich"
    type_slug = "invalid-transition"


class ProfileMoved(CatalogueError):
    """The profile was asked for by an old slug; it answers with a permanent redirect to the current one."""

    status = 301
    title = "Dauerhaft verschoben"
    type_slug = "moved"

    def __init__(self, old_slug: str, new_slug: str) -> None:
        super().__init__(f"Das Profil „{old_slug}“ heißt jetzt „{new_slug}“.", old_slug=old_slug, new_slug=new_slug)
        self.old_slug = old_slug
        self.new_slug = new_slug


class Gone(CatalogueError):
    status = 410
    title = "Vorschau abgelaufen"
    type_slug = "import-expired"


class TooLarge(CatalogueError):
    status = 413
    title = "Datei zu groß"
    type_slug = "too-large"


class ImportFailed(CatalogueError):
    """A confirmed import stopped part-way; confirming it again completes the same set of profiles."""

    status = 500
    title = "Import unterbrochen"
    type_slug = "import-failed"


class PreconditionFailed(CatalogueError):
    status = 412
    title = "Das Profil wurde inzwischen geändert"
    type_slug = "stale-revision"


class PreconditionRequired(CatalogueError):
    status = 428
    title = "If-Match-Header fehlt"
    type_slug = "if-match-required"


class TooManyRequests(CatalogueError):
    status = 429
    title = "Zu viele Versuche"
    type_slug = "rate-limited"


class DependencyUnavailable(CatalogueError):
    status = 503
    title = "Dienst nicht verfügbar"
    type_slug = "unavailable"


def pydantic_errors(exc: Any) -> list[dict[str, Any]]:
    """Turn a pydantic ValidationError into a list of {field, label, message, type} in German."""
    from catalogue.fields import field_label

    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err.get("loc", ()) if p != "__root__")
        kind = err.get("type", "")
        message = f"Unbekanntes Feld: {'.'.join(map(str, loc))}" if kind == "extra_forbidden" else german_message(err)
        out.append({"field": ".".join(str(p) for p in loc), "label": field_label(loc) if loc else "", "message": message, "type": kind})
    return out


_MESSAGES: dict[str, str] = {
    "missing": "fehlt (Pflichtfeld)",
    "extra_forbidden": "ist kein bekanntes Feld",
    "string_type": "muss Text sein",
    "int_type": "muss eine ganze Zahl sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "int_from_float": "muss eine ganze Zahl sein",
    "float_type": "muss eine Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "bool_type": "muss ja oder nein sein",
    "list_type": "muss eine Liste sein",
    "dict_type": "muss ein Objekt mit Feldern sein",
    "model_type": "muss ein Objekt mit Feldern sein",
    "model_attributes_type": "muss ein Objekt mit Feldern sein",
    "date_type": "muss ein Datum sein (TT.MM.JJJJ)",
    "date_parsing": "ist kein gültiges Datum (erwartet JJJJ-MM-TT)",
    "date_from_datetime_parsing": "ist kein gültiges Datum (erwartet JJJJ-MM-TT)",
    "date_from_datetime_inexact": "darf keine Uhrzeit enthalten",
    "datetime_parsing": "ist kein gültiger Zeitpunkt",
    "datetime_type": "ist kein gültiger Zeitpunkt",
    "string_pattern_mismatch": "hat ein ungültiges Format",
    "url_parsing": "ist keine gültige Adresse",
    "json_invalid": "ist kein gültiges JSON",
}


def _num(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:,}".replace(",", ".")
    return value


def german_message(err: dict[str, Any]) -> str:
    """One pydantic error as a short German message (without the field name)."""
    typ = err.get("type", "")
    ctx = {k: _num(v) for k, v in (err.get("ctx") or {}).items()}
    loc = err.get("loc") or ()
    last = str(loc[-1]) if loc else ""
    if typ == "string_too_short":
        n = ctx.get("min_length", 1)
        return "darf nicht leer sein" if n == 1 else f"ist zu kurz (mindestens {n} Zeichen)"
    if typ == "string_too_long":
        return f"ist zu lang (höchstens {ctx.get('max_length')} Zeichen)"
    if typ == "too_long":
        return f"hat zu viele Einträge (höchstens {ctx.get('max_length')})"
    if typ == "too_short":
        return f"hat zu wenige Einträge (mindestens {ctx.get('min_length')})"
    if typ == "greater_than":
        return f"muss größer als {ctx.get('gt')} sein"
    if typ == "greater_than_equal":
        return f"muss mindestens {ctx.get('ge')} sein"
    if typ == "less_than":
        return f"muss kleiner als {ctx.get('lt')} sein"
    if typ == "less_than_equal":
        return f"darf höchstens {ctx.get('le')} sein"
    if typ == "enum":
        expected = ctx.get("expected", "")
        return f"ist kein zulässiger Wert (erlaubt: {expected.replace(' or ', ', ')})"
    if typ == "string_pattern_mismatch":
        if last == "postcode":
            return "muss eine fünfstellige Postleitzahl sein"
        if last == "ags":
            return "muss ein Schlüssel des Gemeindeverzeichnisses sein (8 Ziffern für eine Gemeinde, 5 für einen Kreis, 9 für einen Gemeindeverband)"
        if last == "phone":
            return "darf nur Ziffern, Leerzeichen und + ( ) / - enthalten"
    if typ == "value_error":
        if last == "email":
            return "ist keine gültige E-Mail-Adresse"
        msg = str(err.get("msg", ""))
        return msg.removeprefix("Value error, ") or "ist ungültig"
    return _MESSAGES.get(typ, "ist ungültig")


