"""A live Leuchtturm for browser tests: uvicorn on a free loopback port, real FerretDB and Tantivy (or Meilisearch).

The app runs in a background thread with its own event loop and its own
database on the session FerretDB; users and published demo profiles are
seeded before it starts (the search sync worker indexes them on start-up).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalogue.embedded import StoreHandle
from catalogue.settings import PROJECT_ROOT, Settings
from tests.conftest import unique_db_name

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts" / "screenshots"


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    _require(Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is not None, f"{CHROMIUM} fehlt – Debian-Paket chromium installieren")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(mongo_uri: str, db_name: str) -> None:
    async def run() -> None:
        from pymongo import AsyncMongoClient

        from catalogue.storage import init_models
        from tests.web_support import load_register_excerpt, seed_municipal_users, seed_published, seed_users

        client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
        try:
            await init_models(client[db_name])
            await seed_users()
            await seed_published()
            await load_register_excerpt()
            await seed_municipal_users()
        finally:
            await client.close()

    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(run())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


class LiveServer:
    def __init__(self, base_url: str, server, thread: threading.Thread) -> None:
        self.base_url = base_url
        self._server = server
        self._thread = thread

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=20)


def _serve(mongo_uri: str, data_dir: Path, **search: str | None) -> Iterator[LiveServer]:
    """Seed a database, start the app on a free port, wait until search answers; stop and drop afterwards."""
    import uvicorn

    from api.app import create_app

    db_name = unique_db_name("e2e")
    _seed(mongo_uri, db_name)
    port = _free_port()
    settings = Settings(
        mongodb_url=mongo_uri,
        data_dir=data_dir,
        demo_data=False,
        secret_key="e2e-secret-" + "x" * 40,
        host="127.0.0.1",
        port=port,
        _env_file=None,
        **{"meili_url": None, **search},
    )
    app = create_app(settings, db_name=db_name, handle=StoreHandle(mongo_uri, None))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="e2e-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    ready = _wait_for_results(base)
    if not ready:
        server.should_exit = True
        pytest.fail("Der Testserver ist nicht rechtzeitig mit Suchergebnissen gestartet")
    live = LiveServer(base, server, thread)
    try:
        yield live
    finally:
        live.stop()
        _drop(mongo_uri, db_name)


@pytest.fixture(scope="package")
def live_server(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[LiveServer]:
    """The app on Tantivy."""
    yield from _serve(mongo_uri, tmp_path_factory.mktemp("e2e-var"))


@pytest.fixture(scope="package")
def meili_live_server(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory, chromium_path: str) -> Iterator[LiveServer]:
    """The app on Meilisearch, started as in production: `leuchtturm serve` in a process of its own, configured
    only through LEUCHTTURM_* variables (the test server, an index of its own, deleted afterwards).

    A process, not a second in-process app: Beanie binds its document classes to one database and one event
    loop per process, so a second app (or a seeding) in this process would take the Tantivy live server's store
    away."""
    from tests.meili_support import drop_indexes, meili_server, unique_index

    url, key = meili_server()
    index = unique_index("e2e")
    db_name = unique_db_name("e2e")
    # Seeded from another process too: seeding here would initialise Beanie on this process's other loop.
    subprocess.run(
        [sys.executable, "-c", "import sys; from tests.e2e.conftest import _seed; _seed(sys.argv[1], sys.argv[2])", mongo_uri, db_name],
        cwd=PROJECT_ROOT, check=True, timeout=300,
    )
    port = _free_port()
    data_dir = tmp_path_factory.mktemp("e2e-meili-var")
    env = {
        **os.environ,
        "LEUCHTTURM_MONGODB_URL": mongo_uri,
        "LEUCHTTURM_MONGODB_DB": db_name,
        "LEUCHTTURM_MEILI_URL": url,
        "LEUCHTTURM_MEILI_KEY": key or "",
        "LEUCHTTURM_MEILI_INDEX": index,
        "LEUCHTTURM_DATA_DIR": str(data_dir),
        "LEUCHTTURM_DEMO_DATA": "false",
        "LEUCHTTURM_SECRET_KEY": "e2e-secret-" + "y" * 40,
        "LEUCHTTURM_HOST": "127.0.0.1",
        "LEUCHTTURM_PORT": str(port),
    }
    command = [str(Path(sys.executable).with_name("leuchtturm")), "serve"]
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        if not _wait_for_results(base, alive=lambda: process.poll() is None):
            tail = (data_dir / "serve.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"`leuchtturm serve` mit Meilisearch ist nicht rechtzeitig mit Suchergebnissen gestartet:\n{tail}")
        yield LiveServer(base, None, None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        _drop(mongo_uri, db_name)
        drop_indexes(url, key, index)


def _wait_for_results(base: str, *, alive=lambda: True) -> bool:
    """Wait (up to 60 s) until the search page lists profiles: the sync worker has indexed the seeded ones."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(base + "/?q=Digitalisierung", timeout=5) as r:  # noqa: S310 - loopback
                if b"/profiles/" in r.read():
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _drop(mongo_uri: str, db_name: str) -> None:
    async def run() -> None:
        from pymongo import AsyncMongoClient

        client: AsyncMongoClient = AsyncMongoClient(mongo_uri)
        try:
            await client.drop_database(db_name)
        finally:
            await client.close()

    t = threading.Thread(target=lambda: asyncio.run(run()))
    t.start()
    t.join()


# Package scope, not session: Playwright's sync API keeps an event loop running
# on the main thread while it is open, which would stop every async test that
# runs after the browser tests.
@pytest.fixture(scope="package")
def browser(chromium_path: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def shot(page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
