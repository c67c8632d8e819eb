"""Issue 13, fault test with real processes: the embedded FerretDB is killed (SIGKILL) in the middle of
`leuchtturm import`; the re-run is idempotent: every record once, none half-written, none duplicated.

Run alone: .venv/bin/python -m pytest tests/integration/test_fault_ferretdb.py -q -s
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.test_serve import LEUCHTTURM, ROOT, _ferretdb_pids, pytestmark  # noqa: F401 - skip without binaries

RECORDS = 400


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": "",
        "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_LOAD_REGISTER": "false",
    }


@pytest.mark.timeout(1500)
def test_ferretdb_killed_during_an_import_then_rerun_is_idempotent(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    source = tmp_path / "liste.ndjson"
    lines = [
        {"title": f"Gemeinsames Projekt Nummer {n}", "summary": f"Datensatz {n} des Fehlertests.", "implementation": "Text " * 200}
        for n in range(RECORDS)
    ]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    cmd = [str(LEUCHTTURM), "import", str(source), "--format", "ndjson"]
    proc = subprocess.Popen(cmd, env=_env(data_dir), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed = False
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        pids = _ferretdb_pids(data_dir)
        sqlite = list(data_dir.rglob("*.sqlite"))
        if pids and sqlite and sum(p.stat().st_size for p in sqlite) > 512 * 1024:  # writing has begun
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.05)
    output = proc.communicate(timeout=300)[0].decode(errors="replace")
    assert killed, f"the import ended before FerretDB could be killed: {output[-1500:]}"
    assert proc.returncode != 0, output[-1500:]  # the interrupted run says it failed
    assert "Traceback" not in output, output[-3000:]
    # The re-run completes the import.
    rerun = subprocess.run(cmd, env=_env(data_dir), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout[-1500:] + rerun.stderr[-1500:]
    export = subprocess.run(
        [str(LEUCHTTURM), "export", "-", "--format", "ndjson"], env=_env(data_dir), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert export.returncode == 0, export.stderr[-1500:]
    exported = [json.loads(line) for line in export.stdout.splitlines() if line.strip()]
    titles = Counter(p["title"] for p in exported)
    print(f"\nFerretDB-kill fault test: {len(exported)} profiles after the re-run, {sum(c > 1 for c in titles.values())} duplicated")  # noqa: T201
    assert set(titles) == {r["title"] for r in lines}
    assert all(count == 1 for count in titles.values())
    by_title = {p["title"]: p for p in exported}
    assert all(by_title[r["title"]]["implementation"] == r["implementation"].strip() for r in lines)  # nothing half-written
