"""The `leuchtturm` command line."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from catalogue.embedded import EmbeddedStoreError
from catalogue.settings import Settings, get_settings


def _fail(message: str) -> None:
    click.echo(f"Fehler: {message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Leuchtturm – Katalog kommunaler Projekte."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--host", default=None, help="Adresse (Standard: LEUCHTTURM_HOST)")
@click.option("--port", default=None, type=int, help="Port (Standard: LEUCHTTURM_PORT)")
def serve(host: str | None, port: int | None) -> None:
    """Startet den Webdienst (mit eingebetteter Datenbank, wenn keine MongoDB-URL gesetzt ist)."""
    import uvicorn

    from api.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides) if overrides else get_settings()
    try:
        app = create_app(settings)
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info", lifespan="on")
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(3)
    except EmbeddedStoreError as exc:
        _fail(str(exc))


def run_async(coro):  # noqa: ANN001, ANN201
    try:
        return asyncio.run(coro)
    except EmbeddedStoreError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
