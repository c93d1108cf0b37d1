"""The README's first command runs the demo; the README documents every tool and command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_mcp.cli import build_parser, demo

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
def test_demo_runs_the_whole_product_and_its_answers_are_exact(project: Path) -> None:
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
    # exact answers by SQL, each printed with its SQL, checked against a direct reading of the CSV
    assert "query_data: SELECT count(*) AS tickets, sum(minutes_to_resolve)" in out
    assert "3000 | " in out  # the count, as query_data printed it
    assert "status counts and slowest teams equal a direct reading of tickets.csv: yes" in out
    # a projected job with fixed dimensions; the analyst labels, synthesize counts the labels
    assert "create_job (projected: columns=['summary'], where=\"status = 'escalated'\"" in out
    assert "records where status = 'escalated' (columns: summary;" in out
    assert re.search(r"root_cause \(fixed vocabulary; \d+ records\): \w+: \d+", out)
    assert "Coverage: " in out and "(100%)" in out
    assert re.search(r"query_data: SELECT l\.value, d\.team, count\(\*\) FROM labels l JOIN d2", out)
    assert "label distribution and the cross-tab equal the causes tickets.csv was generated from: yes" in out
    assert (project / ".rlm" / "rlm.db").is_file()
    assert (project / ".rlm" / "reports" / "j1.html").is_file()


def test_the_demo_analyst_labels_from_the_text_alone(tmp_path: Path) -> None:
    """Every summary the generator writes gives its cause away by exactly one clue, so the scripted
    analyst, which reads only the summary, can label every record; the file never holds the cause."""
    _, table, causes = demo.write_samples(tmp_path)
    rows = demo.read_tickets(table)
    assert "cause" not in rows[0] and len(rows) == len(causes) == demo.TICKETS
    for cause, summaries in demo.SUMMARIES.items():
        for summary in summaries:
            found = [c for c, words in demo.CLUES.items() if any(w in summary.lower() for w in words)]
            assert found == [cause], summary
    assert {r["summary"] for r, c in zip(rows, causes, strict=True) if c == "crash"} <= set(
        demo.SUMMARIES["crash"]
    )


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
