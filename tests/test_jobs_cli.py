"""`rlm-mcp jobs`, `job-status` and `synthesize` on a real store, as a script would run them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_mcp import jobs
from rlm_mcp.config import Settings
from rlm_mcp.jobs import claiming as tasks
from rlm_mcp.store import Store

from .conftest import project_env
from .jobs_support import add_document

pytestmark = pytest.mark.backends


def rlm(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI on `project`'s store; `env` adds what selects another store (the `backend_env` fixture)."""
    return subprocess.run(
        [sys.executable, "-m", "rlm_mcp", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=project_env(project, **(env or {})),
        timeout=120,
    )


def test_jobs_job_status_and_synthesize_commands(
    project: Path, settings: Settings, store: Store, backend_env: dict[str, str]
) -> None:
    add_document(store, "a.csv", ["1,open", "2,closed"], content_type="csv", context="id,status")
    jobs.create_job(store, settings, "statuses", task_tokens=500)
    claim = tasks.claim_task(store, 1, "w")
    tasks.submit_findings(
        store, claim.task_id or 0, "w",
        [{"title": "Open row", "detail": "", "evidence": "1,open", "chunk_id": "c1", "tags": ["open"]}],
        counts={"status": {"open": 1, "closed": 1}},
    )  # fmt: skip
    store.close()
    env = backend_env
    listed = json.loads(rlm(project, "jobs", "--json", env=env).stdout)
    assert listed["total"] == 1 and listed["jobs"][0]["job_id"] == "j1"
    assert "j1 · 1/1 tasks done" in rlm(project, "jobs", env=env).stdout
    status = json.loads(rlm(project, "job-status", "j1", "--json", env=env).stdout)
    assert status["tasks"]["done"] == 1 and status["coverage"]["ratio"] == 1.0
    merged = json.loads(rlm(project, "synthesize", "j1", "--json", env=env).stdout)
    assert merged["counts"] == {"status": {"closed": 1, "open": 1}} and not merged["partial"]
    assert merged["themes"][0]["findings"][0]["citations"] == ["c1"]
    assert "Coverage: 2/2 chunks (100%)" in rlm(project, "synthesize", "j1", env=env).stdout
    missing = rlm(project, "job-status", "j7", env=env)
    assert missing.returncode == 1 and "No job j7" in missing.stderr
