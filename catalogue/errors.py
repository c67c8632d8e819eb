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
    """Turn a pydantic ValidationError into a list of {field, message, type}."""
    out = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        kind = err.get("type", "")
        message = _GERMAN_MESSAGES.get(kind, err.get("msg", ""))
        if kind == "extra_forbidden":
            message = f"Unbekanntes Feld: {loc}"
        elif kind in ("value_error",):
            message = str(err.get("msg", "")).removeprefix("Value error, ")
        elif kind in ("string_too_short", "string_too_long", "too_short", "too_long", "greater_than", "greater_than_equal", "less_than_equal", "less_than"):
            message = _bounds_message(kind, err.get("ctx", {}))
        out.append({"field": loc, "message": message, "type": kind})
    return out


def _bounds_message(kind: str, ctx: dict[str, Any]) -> str:
    match kind:
        case "string_too_short":
            return f"mindestens {ctx.get('min_length')} Zeichen"
        case "string_too_long":
            return f"höchstens {ctx.get('max_length')} Zeichen"
        case "too_short":
            return f"mindestens {ctx.get('min_length')} Einträge"
        case "too_long":
            return f"höchstens {ctx.get('max_length')} Einträge"
        case "greater_than":
            return f"muss größer als {ctx.get('gt')} sein"
        case "greater_than_equal":
            return f"muss mindestens {ctx.get('ge')} sein"
        case "less_than_equal":
            return f"darf höchstens {ctx.get('le')} sein"
        case _:
            return f"muss kleiner als {ctx.get('lt')} sein"


_GERMAN_MESSAGES = {
    "missing": "Pflichtfeld fehlt",
    "string_type": "muss ein Text sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "int_type": "muss eine ganze Zahl sein",
    "int_from_float": "muss eine ganze Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "float_type": "muss eine Zahl sein",
    "list_type": "muss eine Liste sein",
    "dict_type": "muss ein Objekt sein",
    "model_type": "muss ein Objekt sein",
    "model_attributes_type": "muss ein Objekt sein",
    "enum": "ist kein zulässiger Wert",
    "literal_error": "ist kein zulässiger Wert",
    "string_pattern_mismatch": "hat nicht das erwartete Format",
    "date_parsing": "muss ein Datum sein (JJJJ-MM-TT)",
    "date_from_datetime_parsing": "muss ein Datum sein (JJJJ-MM-TT)",
    "date_type": "muss ein Datum sein (JJJJ-MM-TT)",
    "bool_parsing": "muss wahr oder falsch sein",
    "value_error": "ist ungültig",
}
