"""API fuzzing with schemathesis against /schema/openapi.json of a real `leuchtturm serve` (issue 13).

Reproduce (the long run; prints schemathesis' progress as it goes):

    .venv/bin/python benchmarks/fuzz.py [--max-examples 100] [--seed 1] [--deterministic] [--phases examples,coverage,fuzzing]

Steps (a temporary data directory, loopback, stopped at the end):
 1. Start `leuchtturm serve` on the embedded FerretDB with Tantivy (no demo data, no register).
 2. Create an editor with `leuchtturm user create` and get an API token for it.
 3. Run `schemathesis run` twice, with the editor's token and without any, phases `examples` and
    `fuzzing` (the long run adds `coverage`), checks `not_a_server_error` (no 500), `status_code_conformance`,
    `content_type_conformance` and `response_schema_conformance` (every status, media type and body
    is the one /schema/openapi.json documents; errors are problem+json, api/openapi.py). The
    long run adds schemathesis' `coverage` phase (boundary and invalid values). The
    authenticated run leaves out `revokeToken` (it would revoke its own token and make the rest of
    the run anonymous); the anonymous run covers it.
 4. Print both summaries, the command, and exit non-zero if a check failed in either run.

The short run in the suite (tests/integration/test_fuzz.py) calls `run()` with a handful of examples
in schemathesis' deterministic mode; this script's default is the long, seeded random run.
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
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


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


def _schemathesis(
    base: str, cwd: str, *, max_examples: int, seed: int, deterministic: bool, workers: int, token: str | None,
    timeout: float, stream: bool, phases: str,
) -> tuple[int, str]:
    cmd = [
        str(BIN / "schemathesis"), "run", base + "/schema/openapi.json",
        "--checks", CHECKS, "--phases", phases, "--max-examples", str(max_examples),
        "--workers", str(workers), "--request-timeout", "60", "--suppress-health-check", "all",
        "--no-color", "--output-truncate", "true", "--continue-on-failure",
    ]
    cmd += ["--generation-deterministic"] if deterministic else ["--seed", str(seed)]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}", "--exclude-operation-id", "revokeToken"]
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "NO_COLOR": "1"})
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if stream:
            print(line, end="", flush=True)
        if time.monotonic() > deadline:
            proc.kill()
            lines.append(f"\n(stopped after {timeout:.0f} s)\n")
            break
    return proc.wait(), "".join(lines)


def run(
    max_examples: int, seed: int = 1, *, deterministic: bool = False, workers: int = 2, timeout: float = 3600,
    stream: bool = False, phases: str = "examples,fuzzing",
) -> FuzzResult:
    """Start a server, fuzz it with an editor's token and anonymously; exit code 0 only if both runs passed."""
    with tempfile.TemporaryDirectory(prefix="leuchtturm-fuzz-") as tmp:
        port = _free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LEUCHTTURM_")},
            "LEUCHTTURM_DATA_DIR": str(Path(tmp) / "var"), "LEUCHTTURM_PORT": str(port),
            "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_LOAD_REGISTER": "false",
        }
        base = f"http://127.0.0.1:{port}"
        log = (Path(tmp) / "serve.log").open("wb")
        proc = subprocess.Popen([str(BIN / "leuchtturm"), "serve"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(base, proc, 180)
            created = subprocess.run(
                [str(BIN / "leuchtturm"), "user", "create", "fuzz", "--role", "editor", "--password-stdin"],
                check=False, input=PASSWORD + "\n", env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
            )
            if created.returncode != 0:
                raise RuntimeError(created.stderr)
            token = _post_json(base + "/api/v1/auth/token", {"username": "fuzz", "password": PASSWORD, "name": "fuzz"})["token"]
            started = time.monotonic()
            outputs, codes = [], []
            for label, tok in (("mit Redaktions-Token (editor)", token), ("anonym", None)):
                if stream:
                    print(f"== schemathesis {label} ==", flush=True)
                code, out = _schemathesis(
                    base, tmp, max_examples=max_examples, seed=seed, deterministic=deterministic, workers=workers,
                    token=tok, timeout=max(60.0, timeout - (time.monotonic() - started)), stream=stream, phases=phases,
                )
                codes.append(code)
                outputs.append(f"== schemathesis {label}: exit {code} ==\n{out}")
            server_errors = [line for line in (Path(tmp) / "serve.log").read_text(errors="replace").splitlines() if " 500 " in line]
            text = "\n".join(outputs) + ("\nserver log, 500 lines:\n" + "\n".join(server_errors) if server_errors else "")
            return FuzzResult(max(codes) or (1 if server_errors else 0), text, time.monotonic() - started)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--deterministic", action="store_true", help="schemathesis' deterministic mode (the suite's short run)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--phases", default="examples,coverage,fuzzing", help="schemathesis phases (the suite: examples,fuzzing)")
    args = parser.parse_args()
    result = run(args.max_examples, args.seed, deterministic=args.deterministic, workers=args.workers, stream=True, phases=args.phases)
    command = f".venv/bin/python benchmarks/fuzz.py --max-examples {args.max_examples} --seed {args.seed}"
    command += " --deterministic" if args.deterministic else ""
    command += f" --phases {args.phases}" if args.phases != "examples,coverage,fuzzing" else ""
    print(f"schemathesis (editor token + anonymous): exit {result.returncode} in {result.seconds:.0f} s ({command})")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
