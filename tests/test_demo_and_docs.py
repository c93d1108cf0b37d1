"""The README's first command runs the demo; the README documents every tool and command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_mcp.cli import build_parser

from .conftest import REPO, project_env

README = (REPO / "README.md").read_text(encoding="utf-8")
TOOLS = (
    "load_document",
    "search_chunks",
    "get_chunk",
    "create_job",
    "claim_task",
    "submit_findings",
    "job_status",
    "synthesize",
    "list_documents",
    "remove_document",
    "status",
)


@pytest.mark.slow
def test_demo_runs_the_whole_product_and_its_counts_are_exact(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rlm_mcp", "demo"],
        capture_output=True,
        text=True,
        cwd=project,
        env=project_env(project),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for mode in ("bm25", "semantic", "hybrid", "regex"):
        assert f"search_chunks mode={mode}" in out
    assert "Coverage: " in out and "(100%)" in out
    assert "synthesized counts equal a direct count of tickets.csv: yes" in out
    assert (project / ".rlm" / "rlm.db").is_file()


def test_readme_documents_every_tool() -> None:
    missing = [tool for tool in TOOLS if f"`{tool}(" not in README]
    assert missing == []


def test_readme_documents_every_cli_command() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    missing = [name for name in commands if f"rlm-mcp {name}" not in README]
    assert missing == []


def test_readme_quick_start_is_two_commands_that_ci_runs() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```bash\n(.+?)\n```", quick, re.S)
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "rlm-mcp demo" in commands[0] and "pytest" in commands[1]
    assert commands[1] in (REPO / ".ci" / "run").read_text(encoding="utf-8")
