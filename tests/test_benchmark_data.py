"""benchmarks/data.py keeps working: its smoke mode loads with and without the copy, times
query_data against DuckDB on the same Parquet (and checks they agree), and plans a wide job."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_data_benchmark_smoke_mode_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "data.py"),
            "--smoke",
            "--repeat",
            "1",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("load without copy", "load    with copy", "copy overhead", "ratio", "unprojected_tokens"):
        assert figure in out.stdout, out.stdout
    line = next(line for line in out.stdout.splitlines() if line.startswith("wide CSV"))
    plans = json.loads(line.split(": ", 1)[1])
    # the projected plan reads 4 of 40 columns: fewer tokens and no more tasks than the full one
    assert plans["projected_tokens"] * 2 < plans["unprojected_tokens"], plans
    assert plans["projected_tasks"] <= plans["unprojected_tasks"] and "fewer" in out.stdout
