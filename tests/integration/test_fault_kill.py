"""Issue 13, fault test with real processes: `leuchtturm serve` (embedded FerretDB) is killed with SIGKILL
during a write load; after a restart every acknowledged write is there.

Run alone: .venv/bin/python -m pytest tests/integration/test_fault_kill.py -q -s
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.integration.test_serve import LEUCHTTURM, ROOT, Server, _ferretdb_pids, pytestmark  # noqa: F401 - skip without binaries

PASSWORD = "ein-sicheres-passwort"


def _call(method: str, url: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - the test's own server on loopback
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, {}


def test_sigkill_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    server = Server(data_dir)
    try:
        server.wait_ready(timeout=180)
        created = subprocess.run(
            [str(LEUCHTTURM), "user", "create", "schreiber", "--role", "editor", "--password-stdin"],
            input=PASSWORD + "\n", capture_output=True, text=True, timeout=120, cwd=ROOT,
            env={**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": ""},
        )
        assert created.returncode == 0, created.stderr
        status, body = _call("POST", server.base + "/api/v1/auth/token", {"username": "schreiber", "password": PASSWORD, "name": "last"})
        assert status == 201, body
        token = body["token"]
        acknowledged: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(n: int) -> None:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    code, out = _call("POST", server.base + "/api/v1/profiles", {"title": f"Lastprofil {n} Nummer {i}"}, token)
                except OSError:
                    return  # the server is gone: this write was never acknowledged
                if code == 201:
                    with lock:
                        acknowledged.append(out["slug"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.proc.send_signal(signal.SIGKILL)  # in the middle of the load
        server.proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert len(acknowledged) >= 20, len(acknowledged)
        # The embedded FerretDB follows its parent (it must not keep the data directory locked).
        deadline = time.monotonic() + 30
        while _ferretdb_pids(data_dir) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if server.proc.poll() is None:
            server.stop()
    again = Server(data_dir)
    try:
        again.wait_ready(timeout=180)
        missing = [slug for slug in acknowledged if _call("GET", f"{again.base}/api/v1/profiles/{slug}", token=token)[0] != 200]
        print(f"\nSIGKILL fault test: {len(acknowledged)} acknowledged writes before the kill, {len(missing)} missing after restart")  # noqa: T201
        assert missing == []
    finally:
        again.stop()
