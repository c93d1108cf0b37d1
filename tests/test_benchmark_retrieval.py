"""benchmarks/retrieval.py keeps working: its smoke mode runs every step once on a generated BEIR set
(load, the bare model against the pipeline, quality per mode, search latency on the corpus and on a
small synthetic scale store) with the real embedding model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

SMOKE_QUERIES = 12  # one per topic of the generated set


@pytest.mark.slow
def test_retrieval_benchmark_smoke_mode_times_real_searches_in_every_mode(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "retrieval.py"), "--smoke", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["documents"] == 24 and report["queries"] == SMOKE_QUERIES
    for mode in ("bm25", "semantic", "hybrid"):
        assert report["latency_corpus"][mode]["n"] == SMOKE_QUERIES
        assert report["scale"]["400"]["search"][mode]["n"] == 5
    assert report["scale"]["400"]["chunks"] == 400
    # the generated queries name their topic: keyword search finds each judged document first
    assert report["quality"]["bm25"]["ndcg@10"] == report["quality"]["rank_bm25"]["ndcg@10"] == 1.0
    assert report["embedding"]["texts"] == 24 and report["embedding"]["ratio"] > 0
