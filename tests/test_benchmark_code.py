"""benchmarks/code_retrieval.py keeps working: its smoke mode builds the stdlib `json` corpus without
docstrings, loads it with two chunkings through the real pipeline, embeds it and scores every mode."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_code_retrieval_smoke_mode_scores_each_chunking_and_mode(tmp_path: Path) -> None:
    out_file = tmp_path / "out.json"
    out = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "code_retrieval.py"),
            "--smoke",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out_file),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out_file.read_text(encoding="utf-8"))
    assert report["queries"] >= 5 and set(report["variants"]) == {"today", "whole4000_alone"}
    for figures in report["variants"].values():
        assert figures["chunks"] > 0
        for mode in ("bm25", "semantic", "hybrid", "rrf_k60"):
            assert 0.0 <= figures["quality"][mode]["mrr@10"] <= 1.0
    # one definition per chunk holds fewer functions per chunk than packing them
    assert report["variants"]["whole4000_alone"]["chunks"] > report["variants"]["today"]["chunks"]
