"""benchmarks/embed.py keeps working: its smoke mode runs the old and the new embedding path on a few
README sections through the real pipeline and prints every figure (chunks/s, GEMM rates, nDCG,
cosine, peak RSS, search p95 with and without the worker)."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import REPO


def test_embed_benchmark_smoke_mode_runs_both_paths_and_reports_every_figure(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "embed.py"), "--smoke", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("throughput chunks/s", "nDCG@10 semantic", "cosine new to old", "peak RSS MB", "p95"):
        assert figure in out.stdout, out.stdout
    report = json.loads(out.stdout[: out.stdout.index("\nthroughput chunks/s")])
    for path in ("old", "new"):
        assert report["throughput"][path]["chunks"] == report["cosine_new_to_old"]["chunks"] > 0
        assert report["peak_rss_mb"][path]["chunks"] > 0
    assert report["gemm_gflops"]["numpy_fp32_model_shape"] > 0
    assert report["gemm_gflops"]["ort_int8_matmulinteger"] > 0
    assert 0.9 < report["cosine_new_to_old"]["min"] <= report["cosine_new_to_old"]["mean"] <= 1.0
