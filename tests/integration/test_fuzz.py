"""Issue 13: a short schemathesis run in the suite against a real `leuchtturm serve` (embedded FerretDB,
Tantivy) – with an editor's API token and anonymously: no 500, and every status code, media type and body
is the one /schema/openapi.json documents (errors as problem+json, api/openapi.py). Deterministic
(schemathesis' --generation-deterministic), 8 examples per operation in the phases `examples` and
`fuzzing`. The long, seeded random run: benchmarks/fuzz.py (docs/RELIABILITY.md has its figures).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys

import pytest

from catalogue.settings import PROJECT_ROOT
from tests.integration.test_serve import pytestmark  # noqa: F401 - skipped without the binaries

FUZZ = PROJECT_ROOT / "benchmarks" / "fuzz.py"


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("schemathesis", path=str(PROJECT_ROOT / ".venv" / "bin")) is None, reason="schemathesis fehlt (make install)")
def test_short_schemathesis_run_finds_no_500_and_no_nonconforming_response() -> None:
    spec = importlib.util.spec_from_file_location("leuchtturm_fuzz", FUZZ)
    assert spec is not None and spec.loader is not None
    fuzz = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fuzz  # its dataclass looks its module up
    spec.loader.exec_module(fuzz)
    result = fuzz.run(max_examples=8, deterministic=True, timeout=800)
    summaries = [line for line in result.output.splitlines() if line.startswith(("== schemathesis", "  Tested:")) or " generated, " in line]
    print(result.output[-4000:], *summaries, f"{result.seconds:.0f} s", sep="\n")  # noqa: T201
    assert "Tested: 49" in result.output and "Tested: 50" in result.output, result.output[-6000:]  # both runs reached every operation
    assert result.returncode == 0, result.output[-8000:]
