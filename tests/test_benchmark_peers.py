"""benchmarks/peers.py keeps working: its smoke mode times our BM25 against bm25s and rank-bm25 on
the same chunks and our CSV load against DuckDB's reader, and says why basic-memory did not run."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.mark.slow
def test_peers_smoke_mode_reports_every_peer(tmp_path: Path) -> None:
    pytest.importorskip(
        "bm25s", reason="benchmarks/peers.py needs the peers extra: pip install -e '.[peers]'"
    )
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "peers.py"), "--smoke", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("BM25 rlm-mcp fts5", "BM25 bm25s", "BM25 rank-bm25", "DuckDB read_csv", "basic-memory:"):
        assert figure in out.stdout, out.stdout
