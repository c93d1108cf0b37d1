"""The start-up benchmark's smoke mode: a real `rlm-mcp serve` over stdio answers `initialize` and
`server/discover`, and nothing heavy (numpy, sqlite-vec, onnxruntime, the model, the grammars) loads
before its first answer. Timing is the benchmark's business, not this test's (machines are noisy)."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_startup_smoke_answers_and_loads_nothing_heavy() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "startup.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(out.stdout)
    assert result["heavy_loaded_before_first_answer"] == [], out.stdout
    assert out.returncode == 0, out.stderr
    assert result["initialize_median_s"] > 0 and result["discover_median_s"] > 0
    assert result["packages_loaded_before_first_answer"] > 0  # the import list was really read
