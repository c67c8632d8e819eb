"""`leuchtturm serve --workers 2` (api/workers.py): real processes on one socket, one FerretDB, one index writer.

Read-your-writes holds across the processes (a save answered by the process
without the sync worker is in the next list and search of either process);
a revoked token or a logout is refused by the very next requests of every
process; a killed serving process is started again (and the sync lease
moves when it held it); SIGTERM stops everything, FerretDB included.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from benchmarks._server import children
from tests.integration.test_serve import LEUCHTTURM, ROOT, Server, _ferretdb_pids

PASSWORD = "ein-langes-passwort"


def _call(base: str, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - the test's own server on loopback
            payload, status, resp_headers = r.read(), r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        payload, status, resp_headers = exc.read(), exc.code, dict(exc.headers)
    try:
        parsed = json.loads(payload) if payload else None
    except ValueError:
        parsed = payload.decode(errors="replace")
    return status, parsed, {k.lower(): v for k, v in resp_headers.items()}


def _cli(data_dir: Path, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": ""}
    r = subprocess.run([str(LEUCHTTURM), *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _serving_pids(server: Server) -> list[int]:
    """The supervisor's serving processes (uvicorn's spawned workers)."""
    pids = []
    for pid in children(server.proc.pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            pids.append(pid)
    return pids


def _lease_holder(server: Server) -> tuple[int | None, set[str]]:
    """(pid of the process holding the sync lease, roles seen) from /health/ready answers of both processes."""
    holder, roles = None, set()
    for _ in range(40):
        status, body, _ = _call(server.base, "GET", "/health/ready")
        if status == 200:
            roles.add(body["sync"]["role"])
            found = re.match(r"server@[^:]+:(\d+):", body["sync"].get("lease_holder") or "")
            holder = int(found.group(1)) if found else holder
        if {"reader", "writer"} <= roles and holder is not None:
            break
    return holder, roles


@pytest.fixture
def two(tmp_path: Path):
    data_dir = tmp_path / "var"
    server = Server(data_dir, env={"LEUCHTTURM_WORKERS": "2"}, log=tmp_path / "server.log")
    server.data_dir = data_dir  # type: ignore[attr-defined]
    try:
        server.wait_ready()
        deadline = time.monotonic() + 60
        while len(_serving_pids(server)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(200):  # the second process serves too
            if _lease_holder(server)[1] == {"reader", "writer"}:
                break
            time.sleep(0.1)
        yield server
    finally:
        if server.proc.poll() is None:
            server.stop(signal.SIGTERM)


def _token(data_dir: Path, username: str, role: str) -> str:
    _cli(data_dir, "user", "create", username, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    return _cli(data_dir, "token", "create", username, "--name", "test").strip()


def _read_own_writes(base: str, editor: dict[str, str], slug: str, tag: str) -> None:
    for n in range(30):  # each save answered by either process; the next reads (also by either) show it
        word = f"zaunkoenig{n}x"
        status, body, headers = _call(base, "PATCH", f"/api/v1/profiles/{slug}", {**editor, "If-Match": tag}, {"title": f"Mehrprozess {word}"})
        assert status == 200, body
        tag = headers["etag"]
        for _ in range(2):  # the list comes from the index (Meine Profile), whichever process answers
            status, mine, _ = _call(base, "GET", "/api/v1/profiles?mine=true", editor)
            assert status == 200
            assert [p["title"] for p in mine["items"] if p["slug"] == slug] == [f"Mehrprozess {word}"], (n, mine)


def test_two_processes_read_their_writes_and_share_revocations(two: Server) -> None:
    data_dir: Path = two.data_dir  # type: ignore[attr-defined]
    assert len(_serving_pids(two)) == 2
    assert len(_ferretdb_pids(data_dir)) == 1
    holder, roles = _lease_holder(two)
    assert roles == {"reader", "writer"} and holder in _serving_pids(two)  # exactly one writes the index, both answer

    editor = {"Authorization": f"Bearer {_token(data_dir, 'rosa', 'editor')}"}
    status, body, headers = _call(two.base, "POST", "/api/v1/profiles", editor, {"title": "Mehrprozess Entwurf", "summary": "Erste Fassung."})
    assert status == 201, body
    slug, tag = body["slug"], headers["etag"]
    # Other callers search meanwhile, so each process's index reader has always looked a moment ago: a save
    # answered by one process must still be in the very next list of the other (review s26, F1).
    stop = threading.Event()

    def search_meanwhile() -> None:
        while not stop.is_set():
            _call(two.base, "GET", "/api/v1/search?q=Mehrprozess")

    searchers = [threading.Thread(target=search_meanwhile) for _ in range(3)]
    for t in searchers:
        t.start()
    try:
        _read_own_writes(two.base, editor, slug, tag)
    finally:
        stop.set()
        for t in searchers:
            t.join()
    # A token revoked through one process (the API) is refused by the very next requests of both.
    admin_secret = _token(data_dir, "admin", "admin")
    admin = {"Authorization": f"Bearer {admin_secret}"}
    status, created, _ = _call(two.base, "POST", "/api/v1/tokens", editor, {"name": "zweites"})
    assert status == 201
    second = {"Authorization": f"Bearer {created['token']}"}
    for _ in range(20):  # both processes now keep the caller
        assert _call(two.base, "GET", "/api/v1/profiles?mine=true", second)[0] == 200
    assert _call(two.base, "DELETE", f"/api/v1/tokens/{created['token_id']}", editor)[0] == 200
    assert [_call(two.base, "GET", "/api/v1/profiles?mine=true", second)[0] for _ in range(30)] == [401] * 30

    # A token revoked by the CLI (a third process) likewise.
    for _ in range(20):
        assert _call(two.base, "GET", "/api/v1/profiles?mine=true", editor)[0] == 200
    token_id = next(line.split()[0] for line in _cli(data_dir, "token", "list", "rosa").splitlines() if "test" in line and "aktiv" in line)
    _cli(data_dir, "token", "revoke", token_id)
    assert [_call(two.base, "GET", "/api/v1/profiles?mine=true", editor)[0] for _ in range(30)] == [401] * 30

    # A user locked through the API: their tokens are refused at once by both.
    third_user = {"Authorization": f"Bearer {_token(data_dir, 'lena', 'editor')}"}
    for _ in range(20):
        assert _call(two.base, "GET", "/api/v1/profiles?mine=true", third_user)[0] == 200
    assert _call(two.base, "POST", "/api/v1/users/lena", admin, {"active": False})[0] == 200
    assert [_call(two.base, "GET", "/api/v1/profiles?mine=true", third_user)[0] for _ in range(30)] == [401] * 30


def test_killed_worker_is_restarted_and_sigterm_stops_everything(two: Server) -> None:
    data_dir: Path = two.data_dir  # type: ignore[attr-defined]
    holder, _ = _lease_holder(two)
    assert holder is not None
    os.kill(holder, signal.SIGKILL)  # the process running the sync worker
    deadline = time.monotonic() + 120
    moved = None
    while time.monotonic() < deadline:
        pids = _serving_pids(two)
        if len(pids) == 2 and holder not in pids:
            moved, roles = _lease_holder(two)
            if moved is not None and moved != holder and moved in pids and roles == {"reader", "writer"}:
                break
        time.sleep(0.3)
    assert moved is not None and moved != holder and moved in _serving_pids(two), two.output()
    editor = {"Authorization": f"Bearer {_token(data_dir, 'jana', 'editor')}"}
    status, body, _ = _call(two.base, "POST", "/api/v1/profiles", editor, {"title": "Nach dem Neustart stieglitz", "summary": "Da."})
    assert status == 201, body
    status, mine, _ = _call(two.base, "GET", "/api/v1/profiles?mine=true", editor)
    assert [p["slug"] for p in mine["items"]] == [body["slug"]]

    workers = _serving_pids(two)
    assert two.stop(signal.SIGTERM) == 0
    assert _ferretdb_pids(data_dir) == []
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2] for pid in workers)
    assert not (data_dir / "ferretdb.json").exists()


def test_killed_supervisor_takes_its_workers_and_ferretdb(two: Server) -> None:
    data_dir: Path = two.data_dir  # type: ignore[attr-defined]
    workers = _serving_pids(two)
    assert len(workers) == 2
    two.proc.kill()
    two.proc.wait(timeout=10)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_ferretdb_pids(data_dir) or any(Path(f"/proc/{p}").exists() for p in workers)):
        time.sleep(0.2)
    assert _ferretdb_pids(data_dir) == []
    assert not any(Path(f"/proc/{p}").exists() for p in workers)
