"""The `leuchtturm` command line.

Every command except `serve` works whether or not the server runs: on the
embedded default it connects to the running embedded FerretDB (found through
the state file in the data directory) or starts one for its own run.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from catalogue.embedded import EmbeddedStoreError
from catalogue.errors import CatalogueError
from catalogue.search.base import SearchError
from catalogue.settings import Settings, get_settings
from catalogue.vocabularies import Role


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Fehler: {message}", err=True)
    sys.exit(code)


def run_async(fn: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return asyncio.run(fn())
    except EmbeddedStoreError as exc:
        _fail(str(exc))
    except SearchError as exc:
        _fail(
            f"Suchindex nicht verfügbar ({exc}). Läuft der Server auf denselben Daten? "
            "Dann bitte ohne laufenden Server ausführen – ein fehlender Index wird beim Start auch selbst neu aufgebaut."
        )
    except CatalogueError as exc:
        details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        _fail(exc.detail + (f" ({details})" if details else ""))


@asynccontextmanager
async def storage_only(settings: Settings):  # noqa: ANN201
    from catalogue.storage import connect

    storage = await connect(settings)
    try:
        yield storage
    finally:
        await storage.close()


@asynccontextmanager
async def runtime(settings: Settings):  # noqa: ANN201
    from catalogue.runtime import Runtime

    rt = await Runtime.start(settings, run_sync_worker=False)
    try:
        yield rt
    finally:
        await rt.stop()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Ausführliche Protokollausgabe")
def main(verbose: bool) -> None:
    """Leuchtturm – Katalog kommunaler Projekte."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# --------------------------------------------------------------------- serve


@main.command()
@click.option("--host", default=None, help="Adresse (Standard: LEUCHTTURM_HOST)")
@click.option("--port", default=None, type=int, help="Port (Standard: LEUCHTTURM_PORT)")
def serve(host: str | None, port: int | None) -> None:
    """Startet den Webdienst (mit eingebetteter Datenbank, wenn keine MongoDB-URL gesetzt ist)."""
    import uvicorn

    from api.app import create_app

    logging.getLogger().setLevel(logging.INFO)
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides) if overrides else get_settings()
    app = create_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on")
    server = uvicorn.Server(config)
    try:
        server.run()
    except EmbeddedStoreError as exc:
        _fail(str(exc))
    if not server.started:
        _fail("Der Dienst konnte nicht starten (siehe Meldungen oben).", 3)


# --------------------------------------------------------------------- users


@main.group()
def user() -> None:
    """Benutzer verwalten."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.EDITOR.value, show_default=True)
@click.option("--name", "display_name", default=None, help="Anzeigename")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Passwort von der Standardeingabe lesen")
def user_create(username: str, role: str, display_name: str | None, email: str | None, password_stdin: bool) -> None:
    """Legt einen Benutzer an (editor, reviewer oder admin)."""
    from catalogue.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")

    async def go() -> None:
        async with storage_only(get_settings()):
            u = await create_user(username, password, Role(role), display_name=display_name, email=email)
            click.echo(f"Benutzer {u.username} ({u.role.value}) angelegt.")

    run_async(go)


@user.command("list")
def user_list() -> None:
    """Zeigt alle Benutzer."""
    from catalogue.users import User

    async def go() -> None:
        async with storage_only(get_settings()):
            for u in await User.find_all().sort("username").to_list():
                click.echo(f"{u.username:<24} {u.role.value:<9} {'aktiv' if u.active else 'gesperrt':<9} {u.display_name}")

    run_async(go)


@user.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
def user_set_password(username: str, password_stdin: bool) -> None:
    """Setzt ein neues Passwort."""
    from catalogue.users import set_password

    password = sys.stdin.readline().rstrip("\n") if password_stdin else click.prompt("Neues Passwort", hide_input=True, confirmation_prompt=True)

    async def go() -> None:
        async with storage_only(get_settings()):
            await set_password(username, password)
            click.echo("Passwort geändert.")

    run_async(go)


@user.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Sperrt einen Benutzer (Anmeldung und Tokens)."""
    from catalogue.users import update_user

    async def go() -> None:
        async with storage_only(get_settings()):
            u = await update_user(username, active=False)
            click.echo(f"Benutzer {u.username} gesperrt.")

    run_async(go)


# --------------------------------------------------------------------- tokens


@main.group()
def token() -> None:
    """API-Tokens für Maschinen verwalten."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="API-Zugang", show_default=True, help="Wofür ist das Token?")
def token_create(username: str, name: str) -> None:
    """Erzeugt ein API-Token; es wird nur dieses eine Mal angezeigt."""
    from catalogue.users import create_token

    async def go() -> None:
        async with storage_only(get_settings()):
            t, secret = await create_token(username, name)
            click.echo(f"Token {t.token_id} für {t.username} erzeugt. Es wird nur jetzt angezeigt:", err=True)
            click.echo(secret)

    run_async(go)


@token.command("list")
@click.argument("username", required=False)
def token_list(username: str | None) -> None:
    """Zeigt Tokens (ohne Geheimnis)."""
    from catalogue.users import ApiToken

    async def go() -> None:
        async with storage_only(get_settings()):
            query = ApiToken.find(ApiToken.username == username) if username else ApiToken.find_all()
            for t in await query.sort("created_at").to_list():
                state = "widerrufen" if t.revoked_at else "aktiv"
                click.echo(f"{t.token_id}  {t.username:<20} {state:<10} {t.name}")

    run_async(go)


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Widerruft ein Token."""
    from catalogue.users import revoke_token

    async def go() -> None:
        async with storage_only(get_settings()):
            t = await revoke_token(token_id)
            click.echo(f"Token {t.token_id} widerrufen.")

    run_async(go)


# --------------------------------------------------------------------- search


@main.command()
def reindex() -> None:
    """Baut den Suchindex aus der Datenbank neu auf (atomarer Austausch, die Suche bleibt verfügbar)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async def go() -> None:
        from catalogue.models import Profile

        async with runtime(get_settings()) as rt:
            total = await Profile.find_all().count()
            with Progress(TextColumn("Neuaufbau"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
                task = progress.add_task("reindex", total=total)
                count = await rt.sync.reindex(rt.search, lambda done: progress.update(task, completed=done))
                progress.update(task, completed=count)
            click.echo(f"{count} Profile indexiert (alle Status; wer was findet, regeln die Berechtigungen).")

    run_async(go)


# --------------------------------------------------------------------- import / export

IMPORT_FORMATS = ("auto", "structured", "reference", "html", "csv", "json", "ndjson", "gazetteer")
FULL_REPORT_LIMIT = 200  # above this many records only problems are listed one by one


@main.command("import")
@click.argument("paths", nargs=-1, required=False, type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--format", "fmt", type=click.Choice(IMPORT_FORMATS), default="auto", show_default=True, help="Format der Dateien")
@click.option("--dry-run", is_flag=True, help="Nur zeigen, was geschähe; nichts speichern")
@click.option("--publish", is_flag=True, help="Direkt veröffentlichen (nur Redaktion/Admin; Referenztexte bleiben Entwürfe)")
@click.option("--merge", is_flag=True, help="Vermutliche Dubletten mit dem vorhandenen Profil zusammenführen statt überspringen")
@click.option("--user", "username", default=None, help="Als dieser Benutzer importieren (dessen Rolle gilt); Standard: Systemkonto „import“ (admin)")
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, writable=True), default=None,
    help="Vollständigen Bericht als JSON in diese Datei schreiben",
)
def import_(paths: tuple[str, ...], fmt: str, dry_run: bool, publish: bool, merge: bool, username: str | None, report_path: str | None) -> None:
    """Importiert Profile (Text, HTML, CSV, JSON, NDJSON) oder das Gemeindeverzeichnis.

    Vorhandene Profile werden anhand von Quelle, Kürzel oder Inhalt erkannt und
    aktualisiert, nie verdoppelt. `--format gazetteer` ohne Datei lädt das
    mitgelieferte Gemeindeverzeichnis (Destatis GV-ISys) neu; mit Datei ein
    anderes (GV-ISys-Auszug als CSV oder GV100AD). Exit-Code 0 ohne Fehler, 1
    wenn einzelne Datensätze fehlerhaft waren (die übrigen sind importiert), 2
    bei Bedienfehlern.
    """
    import json as _json

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from catalogue.errors import PermissionDenied
    from catalogue.users import Principal, find_user
    from importers.runner import ImportRunner, read_paths

    console = Console(stderr=True)
    if not paths:
        if fmt != "gazetteer":
            _fail("Bitte mindestens eine Datei angeben (ohne Datei nur: --format gazetteer für das mitgelieferte Gemeindeverzeichnis).", 2)
        sys.exit(run_async(lambda: _load_shipped_register(console, dry_run)) or 0)

    async def go() -> int:
        async with runtime(get_settings()) as rt:
            if username:
                user = await find_user(username)
                if user is None or not user.active:
                    _fail(f"Benutzer „{username}“ gibt es nicht oder er ist gesperrt.", 2)
                actor = Principal(user.username, user.role)
            else:
                actor = Principal("import", Role.ADMIN)
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True,
            ) as progress:
                task = progress.add_task("Dateien lesen", total=None)
                items = await asyncio.to_thread(read_paths, list(paths), fmt)
                progress.update(task, description="Prüfen" if dry_run else "Importieren", total=len(items), completed=0)

                def report_progress(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                runner = ImportRunner(actor, search=rt.search, on_change=rt.notify_change)
                try:
                    report = await runner.run_items(items, dry_run=dry_run, publish=publish, merge=merge, progress=report_progress)
                except PermissionDenied as exc:
                    progress.stop()
                    _fail(exc.detail, 2)
                if not dry_run:
                    progress.update(task, description="Suchindex abgleichen", total=None)
                    await rt.sync.drain(rt.search)
            lines = report.lines()
            if len(report.results) > FULL_REPORT_LIMIT:
                shown = [r for r in report.results if r.action in ("error", "duplicate")]
                lines = [line for r in shown for line in type(report)(results=[r], dry_run=dry_run).lines()]
                lines.append(f"(nur Fehler und Dubletten gezeigt; alle {len(report.results)} Datensätze mit --report DATEI)")
            for line in lines:
                click.echo(line)
            if report_path:
                Path(report_path).write_text(_json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            click.echo(report.summary())
            return 0 if report.ok else 1

    sys.exit(run_async(go) or 0)


async def _load_shipped_register(console: Any, dry_run: bool) -> int:
    """`leuchtturm import --format gazetteer`: the shipped register, with progress."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from catalogue import gazetteer as reg
    from importers.register import load_shipped_register, shipped_register

    async with runtime(get_settings()):
        register = await asyncio.to_thread(shipped_register)
        if dry_run:
            report = await reg.store(register.entries, fingerprint=register.fingerprint, source_name=register.source_name,
                                     register_as_of=register.as_of, attribution=register.attribution, full=True, dry_run=True)
            click.echo(f"Probelauf (nichts gespeichert): {report.summary()}")
            return 0
        with Progress(TextColumn("Gemeindeverzeichnis"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task("register", total=None)
            try:
                report = await load_shipped_register(lambda done, total: progress.update(task, completed=done, total=total))
            except reg.RegisterBusy as exc:
                progress.stop()
                _fail(str(exc), 1)
        if report.skipped:
            click.echo(f"Gemeindeverzeichnis ist bereits geladen (Gebietsstand {register.as_of}); nichts geändert.")
        else:
            click.echo(f"Gemeindeverzeichnis (Gebietsstand {register.as_of}): {report.summary()}.")
            if not dry_run:
                click.echo("Damit die Facetten Kreis, Regierungsbezirk und Größenklasse dem Verzeichnis folgen: `leuchtturm reindex`.")
        click.echo("Quelle: " + reg.REGISTER_SOURCE_LONG + ", " + register.attribution + ", " + reg.LICENCE)
        return 0


EXPORT_FORMATS = ("json", "ndjson", "csv")


@main.command("export")
@click.argument("output", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None, help="Format (Standard: nach Dateiendung, sonst json)")
@click.option("--status", type=click.Choice(["draft", "submitted", "published", "archived"]), default=None, help="Nur Profile mit diesem Status")
def export(output: str, fmt: str | None, status: str | None) -> None:
    """Exportiert Profile im Katalogformat (JSON, NDJSON oder CSV); „-“ schreibt auf die Standardausgabe.

    Ein Export lässt sich mit `leuchtturm import` unverändert wieder einlesen.
    """
    from catalogue.models import Profile
    from importers.export import export_json, iter_csv, iter_ndjson

    suffix = Path(output).suffix.lower().lstrip(".")
    fmt = fmt or (suffix if suffix in EXPORT_FORMATS else "json")

    async def go() -> int:
        async with storage_only(get_settings()):
            if fmt == "json":  # one JSON document: built whole, sorted by slug
                query = Profile.find(Profile.status == status) if status else Profile.find_all()
                profiles = await query.sort("slug").to_list()
                _write(output, [export_json(profiles)])
                count = len(profiles)
            else:  # NDJSON and CSV are streamed, 500 profiles at a time, in storage order
                count = 0
                out = sys.stdout if output == "-" else Path(output).open("w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in finally
                try:
                    first = True
                    async for chunk in _profile_chunks({"status": status} if status else {}):
                        lines = iter_ndjson(chunk) if fmt == "ndjson" else iter_csv(chunk)
                        if fmt == "csv" and not first:
                            next(lines)  # the header row, once
                        for line in lines:
                            out.write(line)
                        count += len(chunk)
                        first = False
                    if fmt == "csv" and first:
                        out.write(next(iter_csv([])))
                finally:
                    if out is not sys.stdout:
                        out.close()
        if output != "-":
            click.echo(f"{count} Profile nach {output} exportiert ({fmt}).", err=True)
        return count

    run_async(go)


def _write(output: str, chunks: list[str]) -> None:
    if output == "-":
        for chunk in chunks:
            sys.stdout.write(chunk)
        return
    with Path(output).open("w", encoding="utf-8", newline="") as fh:
        for chunk in chunks:
            fh.write(chunk)


async def _profile_chunks(filt: dict[str, Any], size: int = 500):  # noqa: ANN202 - async generator
    """Stored profiles, streamed from one cursor, as lists of `size` (batch work: a full scan)."""
    from catalogue.models import Profile

    chunk: list[Any] = []
    async for doc in Profile.get_pymongo_collection().find(filt, batch_size=size):
        chunk.append(Profile.model_validate(doc))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _data_path(path: str) -> Path:
    return Path(path).expanduser()


if __name__ == "__main__":
    main()
