"""Start-up failures as one German line (issue 13): `leuchtturm serve` prints it and exits with 2 or 3.

Exit code 2: the configuration is wrong (a setting, https without a secret
key). Exit code 3: the environment is (a database or search service that
cannot be reached, a missing FerretDB binary, a port in use).
"""

from __future__ import annotations

import logging
import socket

from pydantic import ValidationError

from catalogue.embedded import EmbeddedStoreError
from catalogue.settings import ConfigurationError

CONFIG_EXIT = 2
ENVIRONMENT_EXIT = 3


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _one_line(text: str, limit: int = 400) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def settings_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        name = "LEUCHTTURM_" + "_".join(str(p) for p in err.get("loc", ())).upper()
        parts.append(f"{name}: {err.get('msg', '').removeprefix('Value error, ')}")
    return _one_line("Ungültige Einstellung – " + "; ".join(parts))


def startup_message(exc: BaseException) -> str:
    """One German line for whatever stopped the start."""
    from pymongo.errors import ConfigurationError as MongoConfigurationError
    from pymongo.errors import ConnectionFailure, OperationFailure

    from catalogue.search.base import SearchError

    leaf = _leaf(exc)
    if isinstance(leaf, ConfigurationError):
        return _one_line(str(leaf))
    if isinstance(leaf, ValidationError):
        return settings_message(leaf)
    if isinstance(leaf, EmbeddedStoreError):
        return _one_line(f"Die eingebettete Datenbank (FerretDB) konnte nicht starten: {leaf}")
    if isinstance(leaf, OperationFailure) and leaf.code in (13, 18):
        return "Die Anmeldung an der Datenbank ist fehlgeschlagen: Benutzer oder Passwort in LEUCHTTURM_MONGODB_URL prüfen."
    if isinstance(leaf, ConnectionFailure):
        detail = str(leaf).split(" (configured timeouts", 1)[0].split(", Timeout:", 1)[0]
        return _one_line(f"Die Datenbank (LEUCHTTURM_MONGODB_URL) ist nicht erreichbar: {detail}", 300)
    if isinstance(leaf, MongoConfigurationError):
        return _one_line(f"LEUCHTTURM_MONGODB_URL ist ungültig: {leaf}")
    if isinstance(leaf, SearchError):
        return _one_line(f"Der Suchindex ist nicht verfügbar: {leaf}")
    return _one_line(f"Der Dienst konnte nicht starten ({type(leaf).__name__}: {leaf})")


def exit_code(exc: BaseException) -> int:
    leaf = _leaf(exc)
    return CONFIG_EXIT if isinstance(leaf, ConfigurationError | ValidationError) else ENVIRONMENT_EXIT


def port_problem(host: str, port: int) -> str | None:
    """A German line if the address cannot be bound (checked before anything starts), else None."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return f"Die Adresse LEUCHTTURM_HOST={host} ist unbekannt."
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            return f"Der Dienst kann {host}:{port} nicht belegen ({exc.strerror or exc}); läuft er schon, oder ist LEUCHTTURM_PORT anders zu wählen?"
    return None


class QuietStartup(logging.Filter):
    """Drops uvicorn's error records (tracebacks) until the app has started; `serve` prints one line instead."""

    def __init__(self) -> None:
        super().__init__()
        self.started = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "Application startup complete" in record.getMessage():
            self.started = True
        return self.started or record.levelno < logging.ERROR
