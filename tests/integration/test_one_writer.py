"""One index writer (issue 10): only the server's sync worker writes the index while a server runs.

Real processes: `leuchtturm serve` (uvicorn, embedded FerretDB, Tantivy) and
the `leuchtturm` CLI beside it. An import from the CLI hands its profiles to
the server's worker and returns once they are searchable; `reindex` from the
CLI asks the server to rebuild while searches go on; two servers on one
store share it – one writes, the other reads and takes over when the
writer is killed.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import unique_db_name
from tests.factories import publishable
from tests.integration.test_serve import LEUCHTTURM, ROOT, Server, _get, pytestmark  # noqa: F401 - pytestmark: same skip

PASSWORD = "ein-langes-passwort"


def _cli(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LEUCHTTURM), *args], input=stdin, env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 - the test's own server on loopback
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def _token(env: dict[str, str], username: str = "anna", role: str = "admin") -> dict[str, str]:
    r = _cli(["user", "create", username, "--role", role, "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    r = _cli(["token", "create", username, "--name", "test"], env)
    assert r.returncode == 0, r.stderr
    return {"Authorization": f"Bearer {r.stdout.strip()}"}


def _search(base: str, q: str) -> tuple[int, dict[str, Any]]:
    status, body = _get(f"{base}/api/v1/search?{urllib.parse.urlencode({'q': q, 'per_page': 100})}")
    return status, json.loads(body)


def _ready(base: str) -> dict[str, Any]:
    return json.loads(_get(base + "/health/ready")[1])


def _sync_states(base: str, answers: int = 40) -> set[tuple[str, str]]:
    """(role, worker) as the server's serving processes answer /health/ready (several answers: `leuchtturm serve`
    runs one process per core by default, and either may answer)."""
    return {(r["sync"]["role"], r["sync"]["worker"]) for r in (_ready(base) for _ in range(answers))}


def test_cli_import_while_the_server_runs_is_searchable_when_it_returns(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = {"LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": ""}
    server = Server(data_dir, log=tmp_path / "server.log")
    try:
        server.wait_ready()
        live_index = (data_dir / "search" / "CURRENT").read_text()
        source = tmp_path / "profile.ndjson"
        source.write_text(
            json.dumps(publishable({"title": "Gemeinsames Fundbüro Nethegau", "summary": "Drei Gemeinden führen ein Fundbüro.",
                                    "fields_of_action": ["Verwaltung"], "state": "Nordrhein-Westfalen"}), ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        r = _cli(["import", str(source), "--publish"], env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "1 neu" in r.stdout and "vom laufenden Server aktualisiert (server@" in r.stdout, r.stdout
        # the CLI returns once the server's worker has indexed the profile: searchable at once
        status, body = _search(server.base, "Fundbüro Nethegau")
        assert status == 200 and [h["title"] for h in body["hits"]] == ["Gemeinsames Fundbüro Nethegau"]
        # the CLI wrote no index: the server's directory is still the live one, and the server still writes it
        assert (data_dir / "search" / "CURRENT").read_text() == live_index
        assert ("writer", "running") in _sync_states(server.base)
    finally:
        server.stop()


def test_cli_reindex_while_the_server_serves_searches_without_an_error(tmp_path: Path) -> None:
    """Regression (issue 10): `reindex` from the CLI deleted the server's live index; its worker died on a
    Tantivy panic, new profiles never reached search, and ready stayed 200."""
    data_dir = tmp_path / "var"
    env = {"LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": ""}
    server = Server(data_dir, demo=True, log=tmp_path / "server.log")
    try:
        server.wait_ready()
        expected = len(json.loads((ROOT / "data" / "demo" / "profiles.json").read_text()))
        before = (data_dir / "search" / "CURRENT").read_text()
        results: list[tuple[int, int]] = []
        stop = threading.Event()

        def search_throughout() -> None:
            while not stop.is_set():
                try:
                    status, body = _search(server.base, "")
                    results.append((status, int(body.get("total", -1))))
                except OSError:  # a connection error counts as an error too
                    results.append((599, -1))

        thread = threading.Thread(target=search_throughout)
        thread.start()
        try:
            r = _cli(["reindex"], env)
        finally:
            stop.set()
            thread.join()
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"{expected} Profile indexiert durch den laufenden Server" in r.stdout, r.stdout
        assert len(results) > 5
        assert all(status == 200 for status, _ in results), results
        assert {total for _, total in results} == {expected}, "search went dark or lost profiles during the rebuild"
        assert (data_dir / "search" / "CURRENT").read_text() != before  # rebuilt and swapped, by the server

        # the server's worker lives on: a new profile reaches search, and ready is 200
        admin = _token(env)
        status, created = _json("POST", server.base + "/api/v1/profiles", {"title": "Rufbus nach dem Neuaufbau"}, admin)
        assert status == 201, created
        status, body = _json("GET", server.base + "/api/v1/profiles?mine=true", headers=admin)
        assert [i["slug"] for i in body["items"]] == [created["slug"]]
        ready = _ready(server.base)
        assert ready["checks"] == {"database": "ok", "search": "ok", "sync": "ok"} and ready["sync"]["restarts"] == 0
    finally:
        server.stop()


def test_two_servers_on_one_store_one_writes_the_other_takes_over(tmp_path: Path, mongo_uri: str) -> None:
    data_dir = tmp_path / "var"  # shared: the Tantivy index one writes and the other reads
    env = {"LEUCHTTURM_MONGODB_URL": mongo_uri, "LEUCHTTURM_MONGODB_DB": unique_db_name("lease"), "LEUCHTTURM_SYNC_LEASE_S": "2",
           "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_SECRET_KEY": "x" * 40,
               "LEUCHTTURM_WORKERS": "1"}  # two servers of one process each (test_serve_workers: one server of two)
    first = Server(data_dir, env=env, log=tmp_path / "first.log")
    second = None
    try:
        first.wait_ready()
        second = Server(data_dir, env=env, log=tmp_path / "second.log")
        second.wait_ready()
        a, b = _ready(first.base), _ready(second.base)
        assert a["sync"]["role"] == "writer" and b["sync"]["role"] == "reader", (a, b)
        assert a["sync"]["lease_holder"] == b["sync"]["lease_holder"]
        admin = _token(env)

        # a write through the reader: it waits (by outbox _id) until the writer's worker has indexed it,
        # and its own searcher follows the writer's commits
        status, created = _json("POST", second.base + "/api/v1/profiles", {"title": "Bürgerbus Zweitserver"}, admin)
        assert status == 201, created
        _, mine = _json("GET", second.base + "/api/v1/profiles?mine=true", headers=admin)
        assert [i["slug"] for i in mine["items"]] == [created["slug"]]

        first.proc.kill()  # the writer dies without giving its lease up
        first.proc.wait(timeout=10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _ready(second.base).get("sync", {}).get("role") != "writer":
            time.sleep(0.2)
        b = _ready(second.base)
        assert b["sync"]["role"] == "writer" and b["sync"]["worker"] == "running", b
        assert b["checks"]["sync"] == "ok"

        status, again = _json("POST", second.base + "/api/v1/profiles", {"title": "Rufbus Zweitserver"}, admin)
        assert status == 201, again
        _, mine = _json("GET", second.base + "/api/v1/profiles?mine=true&sort=title", headers=admin)
        assert [i["title"] for i in mine["items"]] == ["Bürgerbus Zweitserver", "Rufbus Zweitserver"]
    finally:
        for server in (first, second):
            if server is not None and server.proc.poll() is None:
                server.stop()
