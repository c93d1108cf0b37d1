"""The start-up benchmark's smoke mode: a real `rlm-mcp serve` over stdio answers `initialize`,
`server/discover` and `tools/list`, and nothing heavy (numpy, sqlite-vec, onnxruntime, the model, the
grammars), nor the core the tools import on their first call, loads before its first answer. Timing
is the benchmark's business, not this test's (machines are noisy)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_mcp import jobs
from rlm_mcp.cli import build_parser, command_modules, server
from rlm_mcp.server import jobs as job_tools

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
    assert result["core_loaded_before_first_answer"] == [], out.stdout
    assert out.returncode == 0, out.stderr
    assert result["initialize_median_s"] > 0 and result["discover_median_s"] > 0
    assert result["tools_list_median_s"] > 0 and result["import_mcp_done_median_s"] > 0
    assert result["packages_loaded_before_first_answer"] > 0  # the import list was really read


@pytest.mark.parametrize("argv", [["serve"], ["--db", "x.db", "serve"], ["-v", "--db=x.db", "serve"]])
def test_serve_parses_with_its_own_module_only(argv: list[str]) -> None:
    assert command_modules(argv) == [server]
    assert build_parser(command_modules(argv)).parse_args(argv).command == "serve"


@pytest.mark.parametrize("argv", [["serve", "--help"], ["-h", "serve"], ["load", "serve"], ["--db"], []])
def test_every_other_command_line_gets_the_whole_parser(argv: list[str]) -> None:
    assert len(command_modules(argv)) == len(command_modules()) > 1


def test_the_tools_name_every_analyst_the_jobs_core_has() -> None:
    assert job_tools.ANALYSTS == jobs.ANALYSTS
