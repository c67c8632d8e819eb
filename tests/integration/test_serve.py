"""`leuchtturm serve` on the embedded default: ready, clean stop, data kept across restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FERRETDB_BIN

ROOT = Path(__file__).resolve().parents[2]
LEUCHTTURM = ROOT / ".venv" / "bin" / "leuchtturm"

pytestmark = pytest.mark.skipif(not FERRETDB_BIN.exists() or not LEUCHTTURM.exists(), reason="make install/ferretdb fehlt")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ferretdb_pids(data_dir: Path) -> list[int]:
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().split()[2]
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"leuchtturm-ferretdb") and str(data_dir).encode() in b" ".join(cmd) and state != "Z":
                out.append(int(proc.name))
    return out


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - the test's own server on loopback
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class Server:
    def __init__(self, data_dir: Path, demo: bool = False, register: bool = False) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "LEUCHTTURM_DATA_DIR": str(data_dir),
            "LEUCHTTURM_PORT": str(self.port),
            "LEUCHTTURM_DEMO_DATA": "true" if demo else "false",
            "LEUCHTTURM_LOAD_REGISTER": "true" if register else "false",
            "LEUCHTTURM_MONGODB_URL": "",
            "LEUCHTTURM_MEILI_URL": "",
        }
        self.proc = subprocess.Popen([str(LEUCHTTURM), "serve"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stdout.read().decode(errors="replace"))
            try:
                if _get(self.base + "/health/ready")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("server not ready")

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def output(self) -> str:
        return self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""


def test_serve_ready_stop_and_restart_keeps_data(tmp_path: Path) -> None:
    from pymongo import MongoClient

    data_dir = tmp_path / "var"
    server = Server(data_dir, register=True)
    try:
        server.wait_ready(timeout=120)
        status, body = _get(server.base + "/health/ready")
        assert status == 200 and b'"database":"ok"' in body.replace(b" ", b"")
        assert len(_ferretdb_pids(data_dir)) == 1
        uri = __import__("json").loads((data_dir / "ferretdb.json").read_text())["uri"]
        with MongoClient(uri) as c:  # the CLI path: other processes find the running instance
            c["leuchtturm"]["marker"].insert_one({"_id": "bleibt"})
        status, body = _get(server.base + "/api/v1/municipalities?q=H%C3%B6xter&exact=true")  # loaded on first start
        assert status == 200 and __import__("json").loads(body)["ambiguous"] is True
    finally:
        server.stop(signal.SIGINT)
    first_output = server.output()
    assert "Gemeindeverzeichnis:" in first_output and "Einträgen geladen" in first_output  # progress in the log
    assert _ferretdb_pids(data_dir) == [], "FerretDB outlived the server"
    assert not (data_dir / "ferretdb.json").exists()

    again = Server(data_dir, register=True)
    try:
        again.wait_ready()
        uri = __import__("json").loads((data_dir / "ferretdb.json").read_text())["uri"]
        with MongoClient(uri) as c:
            assert c["leuchtturm"]["marker"].find_one({"_id": "bleibt"}) is not None
        env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": ""}
        r = subprocess.run([str(LEUCHTTURM), "import", "--format", "gazetteer"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "bereits geladen" in r.stdout and "Datenlizenz Deutschland" in r.stdout  # the CLI path, idempotent
        r = subprocess.run([str(LEUCHTTURM), "import"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Datei" in r.stderr
    finally:
        again.stop(signal.SIGTERM)
    assert "Einträgen geladen" not in again.output()  # the register is there: nothing loaded twice
    assert _ferretdb_pids(data_dir) == []


def test_killed_server_leaves_no_ferretdb(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    server = Server(data_dir)
    server.wait_ready()
    assert _ferretdb_pids(data_dir)
    server.proc.kill()
    server.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _ferretdb_pids(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ferretdb_pids(data_dir) == []


def test_cli_command_uses_the_running_instance(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    server = Server(data_dir)
    try:
        server.wait_ready()
        env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": ""}
        r = subprocess.run([str(LEUCHTTURM), "user", "create", "clara", "--role", "editor", "--password-stdin"],
                           input="ein-langes-passwort\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert len(_ferretdb_pids(data_dir)) == 1  # no second FerretDB on the same files
        r = subprocess.run([str(LEUCHTTURM), "user", "list"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert "clara" in r.stdout
    finally:
        server.stop()
    # And without a running server, the command starts (and stops) its own instance.
    r = subprocess.run([str(LEUCHTTURM), "user", "list"], env={**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": ""},
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "clara" in r.stdout
    assert _ferretdb_pids(data_dir) == []


def test_missing_binary_gives_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(tmp_path), "LEUCHTTURM_FERRETDB_BIN": str(tmp_path / "fehlt"), "LEUCHTTURM_MONGODB_URL": ""}
    r = subprocess.run([str(LEUCHTTURM), "user", "list"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "make ferretdb" in r.stderr


def test_reindex_command_rebuilds_with_progress(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    server = Server(data_dir, demo=True)  # loads and indexes the demo set
    try:
        server.wait_ready()
    finally:
        server.stop()
    env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": ""}
    r = subprocess.run([str(LEUCHTTURM), "reindex"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    expected = len(__import__("json").loads((ROOT / "data" / "demo" / "profiles.json").read_text()))
    assert f"{expected} Profile indexiert" in r.stdout
    assert _ferretdb_pids(data_dir) == []
