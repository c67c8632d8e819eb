"""The embedded FerretDB launcher: start, ready, stop, restart, errors, parent death."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from catalogue.embedded import EmbeddedFerretDB, EmbeddedStoreError, find_running, open_store, ping
from tests.conftest import FERRETDB_BIN

pytestmark = pytest.mark.skipif(not FERRETDB_BIN.exists(), reason="bin/leuchtturm-ferretdb fehlt (make ferretdb)")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_ready_stop(tmp_path: Path) -> None:
    server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path)
    uri = server.start()
    assert uri.startswith("mongodb://127.0.0.1:")
    assert ping(uri)
    pid = server.process.pid
    assert (tmp_path / "ferretdb.json").exists()
    assert find_running(tmp_path) == uri
    server.stop()
    assert _wait_dead(pid)
    assert not (tmp_path / "ferretdb.json").exists()
    assert find_running(tmp_path) is None


def test_restart_keeps_data(tmp_path: Path) -> None:
    server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path)
    uri = server.start()
    with MongoClient(uri) as c:
        c["keep"]["things"].insert_one({"_id": "a", "value": 42})
    server.stop()
    server2 = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path)
    uri2 = server2.start()
    try:
        with MongoClient(uri2) as c:
            assert c["keep"]["things"].find_one({"_id": "a"})["value"] == 42
    finally:
        server2.stop()


def test_port_in_use_gives_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path, listen_addr=f"127.0.0.1:{port}")
        with pytest.raises(EmbeddedStoreError, match="already in use"):
            server.start()


def test_second_instance_on_same_data_dir_is_refused_and_shared(tmp_path: Path) -> None:
    first = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path)
    uri = first.start()
    try:
        second = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path)
        with pytest.raises(EmbeddedStoreError, match="already in use by another FerretDB"):
            second.start()
        handle = open_store(None, tmp_path, FERRETDB_BIN)
        assert handle.uri == uri and not handle.embedded  # found, not started
    finally:
        first.stop()


def test_missing_binary_says_what_to_do(tmp_path: Path) -> None:
    server = EmbeddedFerretDB(binary=tmp_path / "nope", data_dir=tmp_path)
    with pytest.raises(EmbeddedStoreError, match=r"make ferretdb|LEUCHTTURM_MONGODB_URL"):
        server.start()


def test_child_dies_with_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from catalogue.embedded import EmbeddedFerretDB
        s = EmbeddedFerretDB(binary=Path({str(FERRETDB_BIN)!r}), data_dir=Path({str(tmp_path)!r}))
        s.start()
        print(s.process.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[2])
    try:
        child_pid = int(parent.stdout.readline())
        assert _alive(child_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        assert _wait_dead(child_pid), "FerretDB outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()


async def test_storage_reopens_an_existing_database(tmp_path: Path) -> None:
    """Second start on the same data: indexes exist already (FerretDB 1.24 createIndexes bug guarded)."""
    from catalogue.models import Profile
    from catalogue.settings import Settings
    from catalogue.storage import connect

    settings = Settings(data_dir=tmp_path, ferretdb_bin=FERRETDB_BIN, mongodb_url=None, _env_file=None)
    for round_ in range(2):
        storage = await connect(settings)
        try:
            assert storage.handle.embedded
            if round_ == 0:
                await Profile(slug="bleibt", title="Bleibt erhalten").insert()
            else:
                assert (await Profile.find_one(Profile.slug == "bleibt")).title == "Bleibt erhalten"
        finally:
            await storage.close()


def test_sqlite_runs_with_synchronous_normal_and_a_wrong_mode_is_refused(tmp_path: Path) -> None:
    """WAL with synchronous=NORMAL (docs/architecture-details.md, "The data layer's four rules in detail"): FerretDB opens each database with it."""
    proc = subprocess.Popen(
        [str(FERRETDB_BIN), "-data-dir", str(tmp_path), "-log-level", "debug", "-watch-parent=false"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        uri = json.loads(proc.stdout.readline())["uri"]
        with MongoClient(uri) as client:
            client["probe"]["c"].insert_one({"_id": 1})
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    created = [line for line in err.splitlines() if "Database created" in line and "name=probe" in line]
    assert created and "_pragma=synchronous%28normal%29" in created[0], err[-2000:]
    assert "journal_mode%28wal%29" in created[0]  # FerretDB's own defaults stay
    refused = subprocess.run([str(FERRETDB_BIN), "-data-dir", str(tmp_path / "x"), "-synchronous", "off"], capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and "invalid -synchronous" in refused.stderr


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode(errors="replace").split("=", 1) for p in pairs if b"=" in p)


def test_ferretdb_runs_with_a_lazier_garbage_collector_unless_the_operator_chose_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # FerretDB spends a tenth of its CPU on marking at Go's default: the launcher sets GOGC (catalogue.embedded.FERRETDB_GOGC)
    monkeypatch.delenv("GOGC", raising=False)
    server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path / "default")
    server.start()
    try:
        assert server.process is not None
        assert _environ(server.process.pid).get("GOGC") == "400"
        assert ping(server.uri or "")
    finally:
        server.stop()
    monkeypatch.setenv("GOGC", "150")  # an operator's own setting wins
    server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path / "chosen")
    server.start()
    try:
        assert server.process is not None
        assert _environ(server.process.pid).get("GOGC") == "150"
    finally:
        server.stop()
