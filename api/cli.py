"""The `leuchtturm` command line.

Every command except `serve` works whether or not the server runs: on the
embedded default it connects to the running embedded FerretDB (found through
the state file in the data directory) or starts one for its own run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click
from pymongo.errors import PyMongoError

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
        _fail(f"Suchindex nicht verfügbar ({exc}).")
    except CatalogueError as exc:
        details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        _fail(exc.detail + (f" ({details})" if details else ""))
    except PyMongoError as exc:
        # The store went away mid-run (e.g. the embedded FerretDB was killed): one line, not a traceback.
        # Imports are idempotent, so running the command again completes the work.
        from api.startup import ENVIRONMENT_EXIT, startup_message

        _fail(f"{startup_message(exc)} – der Befehl kann einfach wiederholt werden.", ENVIRONMENT_EXIT)


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
    from api.open_data import render_record
    from catalogue.runtime import Runtime

    rt = await Runtime.start(settings, run_sync_worker=False, export_render=render_record)
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
@click.option(
    "--workers", default=None, type=click.IntRange(1, 64), help="Anzahl der Serverprozesse (Standard: LEUCHTTURM_WORKERS, sonst je Kern einer, höchstens 4)"
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Startet den Webdienst (mit eingebetteter Datenbank, wenn keine MongoDB-URL gesetzt ist)."""
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.startup import CONFIG_EXIT, ENVIRONMENT_EXIT, QuietStartup, port_problem, settings_message
    from api.workers import serve_workers, worker_count
    from catalogue.settings import ConfigurationError, check_startup

    # Every start-up failure is one German line and exit code 2 (configuration) or 3 (environment).
    logging.getLogger().setLevel(logging.INFO)
    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v is not None}
    try:
        settings = Settings(**overrides) if overrides else get_settings()
        check_startup(settings)
    except ValidationError as exc:
        _fail(settings_message(exc), CONFIG_EXIT)
        return
    except ConfigurationError as exc:
        _fail(str(exc), CONFIG_EXIT)
        return
    if not settings.mongodb_url and not Path(settings.ferretdb_bin).is_file():
        _fail(
            f"Die eingebettete Datenbank fehlt ({settings.ferretdb_bin}): bitte `make ferretdb` ausführen "
            "oder LEUCHTTURM_MONGODB_URL auf eine MongoDB setzen.",
            ENVIRONMENT_EXIT,
        )
    problem = port_problem(settings.host, settings.port)
    if problem:
        _fail(problem, ENVIRONMENT_EXIT)
    processes = worker_count(settings)
    if processes > 1:  # a supervisor and that many serving processes on one socket (api/workers.py)
        sys.exit(serve_workers(settings, processes))
    app = create_app(settings, tune_gc=True)
    # proxy_headers=False: X-Forwarded-For is believed only from LEUCHTTURM_TRUSTED_PROXIES (api/clients.py).
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    quiet = QuietStartup()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    try:
        server.run()
    except SystemExit:
        pass  # uvicorn exits with its own code on a failed start-up; ours follows
    except EmbeddedStoreError as exc:
        _fail(str(exc), ENVIRONMENT_EXIT)
    if not server.started:
        _fail(getattr(app.state, "startup_error", None) or "Der Dienst konnte nicht starten.", getattr(app.state, "startup_exit", ENVIRONMENT_EXIT))


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
@click.option("--organisation", default=None, help="Kommune/Körperschaft aus dem Gemeindeverzeichnis: Schlüssel (AGS/ARS) oder Name")
def user_create(username: str, role: str, display_name: str | None, email: str | None, password_stdin: bool, organisation: str | None) -> None:
    """Legt einen Benutzer an (editor, reviewer oder admin)."""
    from catalogue.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen")

    async def go() -> None:
        async with storage_only(get_settings()):
            u = await create_user(username, password, Role(role), display_name=display_name, email=email, organisation=organisation)
            org = f", {u.organisation.name} ({u.organisation.key})" if u.organisation else ""
            click.echo(f"Benutzer {u.username} ({u.role.value}{org}) angelegt.")

    run_async(go)


@user.command("list")
def user_list() -> None:
    """Zeigt alle Benutzer."""
    from catalogue.users import list_users

    async def go() -> None:
        async with storage_only(get_settings()):
            users, _total = await list_users(per_page=1_000_000)
            for u in users:
                org = f"  [{u.organisation.name}, {u.organisation.key}]" if u.organisation else ""
                click.echo(f"{u.username:<24} {u.role.value:<9} {'aktiv' if u.active else 'gesperrt':<9} {u.display_name}{org}")

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


@user.command("set-organisation")
@click.argument("username")
@click.argument("organisation")
def user_set_organisation(username: str, organisation: str) -> None:
    """Ordnet einem Benutzer seine Kommune zu (Schlüssel oder Name; "" entfernt sie)."""
    from catalogue.users import update_user

    async def go() -> None:
        async with storage_only(get_settings()):
            u = await update_user(username, organisation=organisation)
            click.echo(f"Benutzer {u.username}: {u.organisation.name} ({u.organisation.key})" if u.organisation else f"Benutzer {u.username}: keine Kommune")

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
    from catalogue.users import list_tokens

    async def go() -> None:
        async with storage_only(get_settings()):
            for t in await list_tokens(username.strip().lower() if username else None):
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


# --------------------------------------------------------------------- freshness and notifications


@main.command()
@click.option("--remind", is_flag=True, help="Den Verantwortlichen eine Erinnerung schicken (je Zeitraum nur einmal)")
def stale(remind: bool) -> None:
    """Listet veröffentlichte Profile, die seit 12 Monaten nicht als aktuell bestätigt wurden."""
    from catalogue import freshness
    from catalogue.models import utcnow

    async def go() -> None:
        settings = get_settings()
        async with runtime(settings) as rt:
            now = utcnow()
            found = await freshness.all_stale(rt.search, now=now)
            for p in found:
                since = p.confirmed_at.strftime("%d.%m.%Y") if p.confirmed_at else "—"
                click.echo(f"{since}  {p.slug:<50} {p.owner or '—':<20} {p.title}")
            click.echo(f"{len(found)} Profile seit über 12 Monaten nicht bestätigt.", err=True)
            if remind:
                queued = await freshness.send_reminders(rt.search, now=now, base_url=settings.public_base_url)
                sent = await _send_now(rt)
                click.echo(f"{queued} Erinnerungen vorgemerkt, {sent} jetzt verschickt.", err=True)

    run_async(go)


async def _send_now(rt: Any) -> int:
    """Send queued mails from this process – unless a running server holds the sender's lease (then it sends)."""
    worker = rt.notifications
    sent = await worker.send_due()
    await worker.release()
    return int(sent)


@main.command()
@click.option("--now", "now_flag", is_flag=True, required=True, help="Die Wochenübersicht jetzt erstellen und senden")
def digest(now_flag: bool) -> None:
    """Erstellt die Wochenübersicht der gespeicherten Suchen jetzt (sonst wöchentlich im Dienst)."""
    from catalogue import saved_searches
    from catalogue.models import utcnow

    async def go() -> None:
        settings = get_settings()
        async with runtime(settings) as rt:
            queued = await saved_searches.send_digests(rt.search, now=utcnow(), base_url=settings.public_base_url)
            sent = await _send_now(rt)
            click.echo(f"{queued} Wochenübersichten vorgemerkt, {sent} jetzt verschickt.")

    run_async(go)


# --------------------------------------------------------------------- search


@main.command()
def reindex() -> None:
    """Baut den Suchindex aus der Datenbank neu auf (atomarer Austausch, die Suche bleibt verfügbar).

    Läuft ein Server auf denselben Daten, übernimmt er den Neuaufbau (er allein
    schreibt den Suchindex); hier ist dann sein Fortschritt zu sehen.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from catalogue.search import writer

    async def go() -> None:
        settings = get_settings()
        async with runtime(settings) as rt:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
                task = progress.add_task("Neuaufbau", total=None)

                def show(done: int, total: int | None) -> None:
                    progress.update(task, completed=done, total=total if total and total >= done else None)

                try:
                    count, by = await writer.reindex(rt, show, ttl=settings.sync_lease_s)
                except RuntimeError as exc:
                    progress.stop()
                    _fail(str(exc))
                progress.update(task, completed=count, total=count)
            where = "" if by == "hier" else " durch den laufenden Server"
            click.echo(f"{count} Profile indexiert{where} (alle Status; wer was findet, regeln die Berechtigungen).")

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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from catalogue import outbox
    from catalogue.errors import PermissionDenied
    from catalogue.search import writer
    from catalogue.users import Principal, find_user
    from importers.runner import ERROR, REGISTER_REFUSED, ImportRunner, RecordResult, estimate_records, iter_paths, register_paths

    console = Console(stderr=True)
    if not paths:
        if fmt != "gazetteer":
            _fail("Bitte mindestens eine Datei angeben (ohne Datei nur: --format gazetteer für das mitgelieferte Gemeindeverzeichnis).", 2)
        sys.exit(run_async(lambda: _load_shipped_register(console, dry_run)) or 0)

    async def go() -> int:
        settings = get_settings()
        async with runtime(settings) as rt:
            if username:
                user = await find_user(username)
                if user is None or not user.active:
                    _fail(f"Benutzer „{username}“ gibt es nicht oder er ist gesperrt.", 2)
                actor = Principal(user.username, user.role)
            else:
                actor = Principal("import", Role.ADMIN)
            if not actor.is_reviewer and (registers := await asyncio.to_thread(register_paths, list(paths), fmt)):
                # Refused before anything is written, as the API does (a streamed run would meet it only as it reads it).
                _fail(f"{REGISTER_REFUSED.removesuffix('.')} ({', '.join(registers)}).", 2)
            with Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=console, transient=True,
            ) as progress:
                task = progress.add_task("Dateien lesen", total=None)
                # The files are read one at a time, a chunk of records at a time (never all at once); the results go to
                # --report as they come. Their number is estimated from the files (progress; keyed reads or a scan).
                estimate = await asyncio.to_thread(estimate_records, list(paths))
                expected = (estimate, 0 if fmt == "gazetteer" else estimate)
                progress.update(task, description="Prüfen" if dry_run else "Importieren", total=estimate, completed=0)

                def report_progress(done: int, total: int) -> None:
                    progress.update(task, completed=done, total=total)

                listed: list[RecordResult] = []  # shown below: all of a small run, else only errors and duplicates
                sink = _ReportFile(report_path, dry_run=dry_run, publish=publish) if report_path else None

                def on_result(result: RecordResult) -> None:
                    if len(listed) <= FULL_REPORT_LIMIT or result.action in (ERROR, "duplicate"):
                        listed.append(result)
                    if sink is not None:
                        sink.add(result)

                runner = ImportRunner(actor, on_change=rt.notify_change)
                with outbox.recording() as written:
                    try:
                        report = await runner.run_items(
                            iter_paths(list(paths), fmt), dry_run=dry_run, publish=publish, merge=merge, progress=report_progress,
                            expected=expected, on_result=on_result,
                        )
                        if sink is not None:
                            sink.complete = True
                    except PermissionDenied as exc:
                        progress.stop()
                        _fail(exc.detail, 2)
                    finally:
                        if sink is not None:
                            sink.close()
                indexed_by = None
                if written:
                    # The index has one writer: a running server's sync worker, else this process (writer.index_written).
                    progress.update(task, description="Suchindex", total=None, completed=0)
                    indexed_by = await writer.index_written(rt, written, report_progress, ttl=settings.sync_lease_s)
            lines = type(report)(results=listed, dry_run=dry_run).lines()
            if report.total > FULL_REPORT_LIMIT:
                shown = [r for r in listed if r.action in (ERROR, "duplicate")]
                lines = type(report)(results=shown, dry_run=dry_run).lines()
                lines.append(f"(nur Fehler und Dubletten gezeigt; alle {report.total} Datensätze mit --report DATEI)")
            for line in lines:
                click.echo(line)
            click.echo(report.summary())
            if indexed_by == "hier":
                click.echo("Suchindex aktualisiert.")
            elif indexed_by is not None:
                click.echo(f"Suchindex vom laufenden Server aktualisiert ({indexed_by}).")
            return 0 if report.ok else 1

    sys.exit(run_async(go) or 0)


class _ReportFile:
    """`import --report FILE`: the JSON report (as `ImportReport.to_dict`), written record by record as they come.

    The counts and summary follow the records; a run that stopped early says so (`complete`: false).
    """

    def __init__(self, path: str, *, dry_run: bool, publish: bool) -> None:
        from importers.runner import ImportReport

        self.report = ImportReport(dry_run=dry_run, publish=publish)
        self.fh = Path(path).open("w", encoding="utf-8")  # noqa: SIM115 - closed by `close`, after the run
        self.fh.write(f'{{\n  "dry_run": {json.dumps(dry_run)},\n  "publish": {json.dumps(publish)},\n  "records": [')
        self.first = True
        self.complete = False

    def add(self, result: Any) -> None:
        record = json.dumps(result.to_dict(), ensure_ascii=False, indent=2).replace("\n", "\n    ")
        self.fh.write(("\n    " if self.first else ",\n    ") + record)
        self.first = False
        self.report.passed_on[result.action] += 1

    def close(self) -> None:
        tail = {"summary": self.report.summary(), "counts": self.report.counts, "total": self.report.total, "complete": self.complete}
        body = json.dumps(tail, ensure_ascii=False, indent=2)[1:-1].rstrip()
        self.fh.write(("\n  ]," if not self.first else "],") + body + "\n}\n")
        self.fh.close()


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
@click.option(
    "--open-data",
    is_flag=True,
    help="Die offenen Daten: genau die Datei, die /api/v1/export/profiles.<format> liefert (veröffentlichte Profile, mit Lizenz)",
)
def export(output: str, fmt: str | None, status: str | None, open_data: bool) -> None:
    """Exportiert Profile im Katalogformat (JSON, NDJSON oder CSV); „-“ schreibt auf die Standardausgabe.

    Ein Export lässt sich mit `leuchtturm import` unverändert wieder einlesen.
    """
    from catalogue.models import Profile
    from importers.export import export_json, iter_csv, iter_ndjson

    suffix = Path(output).suffix.lower().lstrip(".")
    fmt = fmt or (suffix if suffix in EXPORT_FORMATS else "json")
    if open_data:
        if status not in (None, "published"):
            _fail("--open-data exportiert nur veröffentlichte Profile; bitte ohne --status oder mit --status published.")
        run_async(lambda: export_open_data(output, fmt, get_settings()))
        return

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


async def export_open_data(output: str, fmt: str, settings: Settings) -> int:
    """The open-data export file, exactly as over HTTP: one snapshot of the export mirror (catalogue/opendata/mirror.py)."""
    from api.open_data import Licence, write_export
    from catalogue.errors import DependencyUnavailable

    async with runtime(settings) as rt:
        assert rt.sync.mirror is not None
        try:
            snapshot = await rt.sync.mirror.snapshot()
        except DependencyUnavailable:
            _fail(
                "Der Export-Spiegel ist noch nicht aufgebaut. Bitte den Server einmal starten "
                "(`leuchtturm serve`) oder `leuchtturm reindex` ausführen."
            )
        count = snapshot.state.count
        out = sys.stdout if output == "-" else Path(output).open("w", encoding="utf-8", newline="")  # noqa: SIM115 - closed in finally
        try:
            await write_export(fmt, snapshot, out, licence=Licence.from_settings(settings), base_url=settings.public_base_url)
        finally:
            if out is not sys.stdout:
                out.close()
    if output != "-":
        click.echo(f"{count} veröffentlichte Profile nach {output} exportiert ({fmt}, offene Daten).", err=True)
    return count


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
