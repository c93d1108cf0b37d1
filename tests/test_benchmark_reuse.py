"""benchmarks/reuse.py keeps working: its smoke mode appends 100 rows to a 5,000-row table, plans the
same job with reuse='none' and 'exact', runs what is left and checks the counts against the file."""

import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_reuse_benchmark_smoke_mode_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "reuse.py"), "--smoke", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("plan reuse=none", "plan reuse=exact", "tokens avoided", "planning time ratio"):
        assert figure in out.stdout, out.stdout
    assert "merged counts equal a direct count: True" in out.stdout
