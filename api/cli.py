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
    from catalogue.users import get_user

    async def go() -> None:
        async with storage_only(get_settings()):
            u = await get_user(username)
            u.active = False
            await u.save()
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
        async with runtime(get_settings()) as rt:
            with Progress(TextColumn("Neuaufbau"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
                task = progress.add_task("reindex", total=None)

                def report(done: int, total: int | None) -> None:
                    progress.update(task, completed=done, total=total)

                count = await rt.sync.reindex(rt.search, report)
            click.echo(f"{count} veröffentlichte Profile indexiert.")

    run_async(go)


def _data_path(path: str) -> Path:
    return Path(path).expanduser()


if __name__ == "__main__":
    main()
