"""API fuzzing with schemathesis against /schema/openapi.json of a real `leuchtturm serve` (issue 13).

Reproduce:

    .venv/bin/python benchmarks/fuzz.py [--max-examples 100] [--seed 1]

Steps (a temporary data directory, loopback, stopped at the end):
 1. Start `leuchtturm serve` on the embedded FerretDB (no demo data, no register).
 2. Create an admin with `leuchtturm user create` and get an API token, so the
    authenticated operations are fuzzed too (unauthenticated calls are
    generated as well).
 3. Run `schemathesis run` with the checks `not_a_server_error` (no 500) and
    `response_schema_conformance` (every documented response body conforms).
 4. Print the summary, the command, and exit non-zero if a check failed.

The short run in the suite (tests/integration/test_fuzz.py) calls `run()` with a
handful of examples and a fixed seed; this script's default is the long run.
Run time depends heavily on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PASSWORD = "fuzz-passwort-lang-genug"  # noqa: S105 - a throw-away account in a temporary catalogue
CHECKS = "not_a_server_error,response_schema_conformance"


@dataclass
class FuzzResult:
    returncode: int
    output: str
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - our own server on loopback
        return json.loads(r.read())


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("leuchtturm serve ended: " + (proc.stdout.read().decode(errors="replace") if proc.stdout else ""))
        try:
            with urllib.request.urlopen(base + "/health/ready", timeout=5) as r:  # noqa: S310
                if r.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.3)
    raise RuntimeError("leuchtturm serve was not ready in time")


def run(max_examples: int, seed: int, *, workers: int = 1, timeout: float = 3600) -> FuzzResult:
    with tempfile.TemporaryDirectory(prefix="leuchtturm-fuzz-") as tmp:
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LEUCHTTURM_")},
            "LEUCHTTURM_DATA_DIR": str(Path(tmp) / "var"), "LEUCHTTURM_PORT": str(port),
            "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_LOAD_REGISTER": "false",
        }
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen([str(BIN / "leuchtturm"), "serve"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            _wait_ready(base, proc, 180)
            created = subprocess.run(
                [str(BIN / "leuchtturm"), "user", "create", "fuzz", "--role", "admin", "--password-stdin"],
                check=False, input=PASSWORD + "\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
            )
            if created.returncode != 0:
                raise RuntimeError(created.stderr)
            token = _post_json(base + "/api/v1/auth/token", {"username": "fuzz", "password": PASSWORD, "name": "fuzz"})["token"]
            cmd = [
                str(BIN / "schemathesis"), "run", base + "/schema/openapi.json",
                "--checks", CHECKS, "--max-examples", str(max_examples), "--seed", str(seed),
                "--workers", str(workers), "--request-timeout", "60", "--generation-deterministic",
                "-H", f"Authorization: Bearer {token}", "--continue-on-failure",
            ]
            started = time.monotonic()
            done = subprocess.run(cmd, check=False, cwd=tmp, capture_output=True, text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})
            return FuzzResult(done.returncode, done.stdout + done.stderr, time.monotonic() - started)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    result = run(args.max_examples, args.seed, workers=args.workers)
    print(result.output)
    print(
        f"schemathesis: exit {result.returncode} in {result.seconds:.0f} s "
        f"(.venv/bin/python benchmarks/fuzz.py --max-examples {args.max_examples} --seed {args.seed})"
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
