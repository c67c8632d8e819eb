"""Issue 13, start-up failures: `leuchtturm serve` prints one German line and exits with 2 (configuration) or 3 (environment).

Finding: a missing FerretDB binary made `leuchtturm serve` print a 40-line ExceptionGroup traceback.
Each case runs the real command in a process.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from catalogue.settings import PROJECT_ROOT

LEUCHTTURM = PROJECT_ROOT / ".venv" / "bin" / "leuchtturm"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEUCHTTURM_")}
    base.update({
        "LEUCHTTURM_DATA_DIR": str(tmp_path / "var"),
        "LEUCHTTURM_DEMO_DATA": "false",
        "LEUCHTTURM_LOAD_REGISTER": "false",
        "LEUCHTTURM_PORT": str(_free_port()),
        **env,
    })
    return subprocess.run([str(LEUCHTTURM), "serve"], env=base, cwd=tmp_path, capture_output=True, text=True, timeout=180)


def _one_german_line(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("Fehler:")]
    assert len(errors) == 1 and words in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]


@pytest.mark.parametrize(
    ("env", "code", "words"),
    [
        ({"LEUCHTTURM_FERRETDB_BIN": "/nicht/vorhanden/leuchtturm-ferretdb"}, 3, "make ferretdb"),
        ({"LEUCHTTURM_BASE_URL": "https://katalog.example.org"}, 2, "LEUCHTTURM_SECRET_KEY fehlt"),
        ({"LEUCHTTURM_TRUSTED_PROXIES": "kein-netz"}, 2, "LEUCHTTURM_TRUSTED_PROXIES"),
        ({"LEUCHTTURM_PORT": "achtzig"}, 2, "LEUCHTTURM_PORT"),
        ({"LEUCHTTURM_WORKERS": "0"}, 2, "LEUCHTTURM_WORKERS"),
        ({"LEUCHTTURM_WORKERS": "viele"}, 2, "LEUCHTTURM_WORKERS"),
        ({"LEUCHTTURM_MONGODB_URL": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1000"}, 3, "nicht erreichbar"),
        ({"LEUCHTTURM_MONGODB_URL": "kein-mongodb://x"}, 3, "LEUCHTTURM_MONGODB_URL"),
    ],
    ids=["ferretdb-binary-missing", "https-without-secret-key", "bad-trusted-proxies", "bad-port", "no-serving-process", "workers-not-a-number", "store-unreachable", "bad-store-url"],
)
def test_finding_every_startup_failure_is_one_german_line(tmp_path, env, code, words) -> None:
    _one_german_line(_serve(tmp_path, **env), code, words)


def test_port_in_use_is_one_line(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        _one_german_line(_serve(tmp_path, LEUCHTTURM_PORT=str(port), LEUCHTTURM_MONGODB_URL="mongodb://127.0.0.1:1"), 3, str(port))
