"""benchmarks/data.py keeps working: its smoke mode loads with and without the copy, times
query_data against DuckDB on the same Parquet (and checks they agree), and plans a wide job."""

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
