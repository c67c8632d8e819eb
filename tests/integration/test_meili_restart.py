"""Meilisearch killed and restarted during a stream of writes: every write succeeds, /health/ready reports the
pending outbox while Meilisearch is down, and afterwards the index equals the store (issue 13, deliverable 8;
the Tantivy variant: tests/integration/test_fault_search_down.py).

Starts a Meilisearch process of its own (it is killed with SIGKILL, so not
the shared test server) from LEUCHTTURM_TEST_MEILI_BIN, or
../shared/tools/meilisearch/meilisearch; skips with the reason when neither
exists. The app runs as usual (FerretDB, the sync worker); writes go through
the API.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import SearchQuery
from catalogue.settings import PROJECT_ROOT, Settings
from catalogue.users import create_token, create_user
from catalogue.vocabularies import Role
from tests.factories import drained_index

API = "/api/v1/profiles"
DEFAULT_BIN = PROJECT_ROOT.parent / "shared" / "tools" / "meilisearch" / "meilisearch"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MeiliProcess:
    """One Meilisearch server on loopback with a throw-away data directory; killed and started again at will."""

    def __init__(self, binary: Path, data: Path) -> None:
        self.binary = binary
        self.data = data
        self.port = _free_port()
        self.key = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.data / "meilisearch.log").open("ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "--db-path", str(self.data / "db"), "--http-addr", f"127.0.0.1:{self.port}",
             "--master-key", self.key, "--no-analytics", "--env", "development", "--max-indexing-memory", "64MiB"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:  # noqa: S310 - loopback
                    if b"available" in r.read():
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Meilisearch did not start: {(self.data / 'meilisearch.log').read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None


@pytest.fixture
def meili(tmp_path: Path) -> Iterator[MeiliProcess]:
    binary = Path(os.environ.get("LEUCHTTURM_TEST_MEILI_BIN") or DEFAULT_BIN)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.skip(f"Meilisearch-Neustarttest übersprungen: kein Meilisearch-Programm ({binary}; LEUCHTTURM_TEST_MEILI_BIN)")
    server = MeiliProcess(binary, tmp_path / "meilisearch")
    server.data.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def settings(settings: Settings, meili: MeiliProcess) -> Settings:
    return settings.model_copy(update={"meili_url": meili.url, "meili_key": meili.key})


@pytest.mark.meili
async def test_meilisearch_killed_and_restarted_during_writes(client, app, meili: MeiliProcess) -> None:
    await create_user("rita", "x" * 12, Role.REVIEWER)
    _, secret = await create_token("rita", "test")
    h = {"Authorization": f"Bearer {secret}"}
    slugs: list[str] = []

    async def write(n: int) -> None:
        r = await client.post(API, json={"title": f"Gemeinsamer Winterdienst Nummer {n}"}, headers=h)
        assert r.status_code == 201, r.text
        slugs.append(r.json()["slug"])
        if n % 3 == 0:  # and a change of an earlier one
            slug = slugs[n // 2]
            etag = (await client.get(f"{API}/{slug}", headers=h)).headers["etag"]
            r = await client.patch(f"{API}/{slug}", json={"summary": f"Geändert bei Schreibvorgang {n}"}, headers={**h, "If-Match": etag})
            assert r.status_code == 200, r.text

    for n in range(8):
        await write(n)
    meili.kill()  # mid-stream: tasks may be enqueued or processing
    for n in range(8, 16):
        await write(n)  # the store takes them; the outbox keeps them for the index
    assert await OutboxEntry.find_all().count() >= 1
    r = await client.get("/health/ready")  # not ready, and it says what waits for the index
    assert r.status_code == 503, r.text
    assert "search" in r.json()["failing"] and r.json()["outbox"]["pending_max"] >= 1, r.text
    await asyncio.to_thread(meili.start)
    for n in range(16, 24):
        await write(n)

    rt = app.state.runtime
    stored = {str(p.id): (p.title, p.summary, p.version) async for p in Profile.find_all()}
    assert len(stored) == 24

    async def indexed() -> dict[str, tuple[str, str, int]]:
        result = await rt.search.search(SearchQuery(per_page=100, facets=()), labels=ALL_DOCUMENTS_LABELS)
        return {h.id: (h.document.get("title"), h.document.get("summary") or "", h.document.get("version")) for h in result.hits}

    found = await drained_index(rt, indexed, stored, tries=1200)
    assert found == stored
