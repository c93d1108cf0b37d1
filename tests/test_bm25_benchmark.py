"""benchmarks/bm25_scale.py keeps working: its smoke mode builds a small store, times today's FTS5
ranking against the top-k path in bm25 and hybrid mode, checks they agree, and scores SciFact."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SHARED_DATA


def test_bm25_scale_benchmark_smoke_mode_reports_both_paths_and_agreement(tmp_path: Path) -> None:
    if not (SHARED_DATA / "scifact" / "corpus.jsonl").is_file():
        pytest.skip(f"no SciFact under {SHARED_DATA} (the benchmark's text and queries)")
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bm25_scale.py"),
            "--smoke",
            "--cache",
            str(tmp_path),
            "--data",
            str(SHARED_DATA),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| 2000 | 8 scifact |" in out.stdout, out.stdout
    for row in (line for line in out.stdout.splitlines() if line.startswith("| 2000 |")):
        assert row.split("|")[-2].strip().startswith("0 /"), row  # bm25: the same top 10 both ways
    assert "SciFact train nDCG@10" in out.stdout and "rank-bm25" in out.stdout
