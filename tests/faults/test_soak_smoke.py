"""benchmarks/soak.py keeps working: its smoke mode runs analysts on two real `rlm-mcp serve`
processes, kills analysts and servers on a seeded schedule, and checks that every task was done once
with exact counts (its exit status says so)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import REPO


@pytest.mark.slow
def test_soak_smoke_mode_survives_its_kills_with_every_task_done_once(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--smoke", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    figures = json.loads(out.stdout.splitlines()[0])
    assert figures["done"] == figures["tasks"] == figures["findings"] == figures["merged_count"] == 200
    assert figures["servers_killed"] == 2 and figures["server_restarts"] >= 1, figures
    killed = figures.get("analysts_killed_after_a_claim", 0) + figures.get(
        "analysts_killed_during_a_submit", 0
    )
    assert killed > 0 and figures["requeues"] > 0, figures
    for figure in ("seconds", "tasks_per_s", "requeues", "claims"):
        assert figure in figures, figures
