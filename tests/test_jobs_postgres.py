"""The job queue on a shared PostgreSQL server (issue 16): many analysts in many processes, a process
killed in the middle of a claim, the database restarted mid-job. The analysts run the real job
tools' core (`claim_task`, `submit_findings`) in processes of their own (tests/postgres_support.py);
the behaviour the job tools share with SQLite is checked by the `backends`-marked job tests. The
`pg_server` fixture skips these without the postgres extra."""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from rlm_mcp import jobs
from rlm_mcp.config import Settings, load_settings
from rlm_mcp.errors import NotFound, Unavailable
from rlm_mcp.jobs import claiming
from rlm_mcp.store import PgStore, Store, open_pg_store
from rlm_mcp.synthesis import synthesize

from .conftest import project_env
from .jobs_support import add_document
from .postgres_support import counts_for, restartable_server

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "s3cr3t-Pa55word"
_projects = itertools.count(1)


def _settings(project: Path, dsn: str, name: str, **extra: str) -> Settings:
    return load_settings(project_env(project, RLM_DB=dsn, RLM_PROJECT=name, **extra))


def _one_chunk_tasks(store: Store, settings: Settings, tasks: int) -> int:
    """A job of `tasks` tasks, one chunk each (two chunks never fit the 500-token budget)."""
    add_document(store, "log.txt", [f"entry {n}: " + "the pier was quiet. " * 50 for n in range(tasks)])
    plan = jobs.create_job(store, settings, "What happened?", task_tokens=500)
    assert plan.tasks == tasks
    return plan.job_id


def _task_ids(store: Store, job: int) -> list[int]:
    with store.read() as conn:
        return [int(r[0]) for r in conn.execute("SELECT id FROM tasks WHERE job_id = ? ORDER BY id", (job,))]


def _expected_counts(task_ids: list[int]) -> dict[str, dict[str, int]]:
    mod7 = Counter(str(t % 7) for t in task_ids)
    return {"mod7": dict(sorted(mod7.items())), "tasks": {"done": len(task_ids)}}


def _drainers(dsn: str, name: str, job: int, processes: int, threads: int) -> list[subprocess.Popen[str]]:
    command = [sys.executable, "-m", "tests.postgres_support", "drain", dsn, name, str(job), str(threads)]
    return [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]


def _assert_done_once(store: Store, job: int, completed: list[int]) -> None:
    """Every task of the job done, each completed by one analyst once, and the merged counts exact."""
    ids = _task_ids(store, job)
    assert sorted(completed) == ids
    status = jobs.job_status(store, job).to_json()
    assert status["tasks"] == {"pending": 0, "claimed": 0, "done": len(ids), "failed": 0}
    merged = synthesize(store, job).to_json()
    assert merged["counts"] == _expected_counts(ids) and not merged["partial"]


def _completed(drainers: list[subprocess.Popen[str]]) -> list[int]:
    completed: list[int] = []
    for process in drainers:
        out, err = process.communicate(timeout=1200)
        assert process.returncode == 0, err[-2000:]
        completed += json.loads(out)
    return completed


@pytest.mark.slow
def test_32_analysts_in_4_processes_drain_5000_tasks_each_completed_once(
    pg_server: str, project: Path
) -> None:
    name = f"drain{os.getpid()}_{next(_projects)}"
    settings = _settings(project, pg_server, name)
    store = open_pg_store(pg_server, name)
    tasks = 5000
    job = _one_chunk_tasks(store, settings, tasks)
    _assert_done_once(store, job, _completed(_drainers(pg_server, name, job, processes=4, threads=8)))
    with store.read() as conn:
        attempts = conn.execute("SELECT min(attempts), max(attempts) FROM tasks WHERE job_id = ?", (job,))
        assert tuple(attempts.fetchone()) == (1, 1)  # no task was handed out twice
        workers = conn.execute("SELECT count(DISTINCT worker) FROM tasks WHERE job_id = ?", (job,))
        assert workers.fetchone()[0] > 8  # the work was shared out over the processes' analysts
    store.close()


def test_a_process_killed_mid_claim_loses_nothing(pg_server: str, project: Path) -> None:
    name = f"kill{os.getpid()}_{next(_projects)}"
    settings = _settings(project, pg_server, name)
    store = open_pg_store(pg_server, name)
    job = _one_chunk_tasks(store, settings, 3)
    command = [sys.executable, "-m", "tests.postgres_support", "hold", pg_server, name, str(job)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        held = int(child.stdout.readline())  # the child is inside its claim's transaction
        other = claiming.claim_task(store, job, "alive")  # the held row is skipped, not waited for
        assert other.task_id is not None and other.task_id != held
        claiming.submit_findings(store, other.task_id, "alive", [], counts=counts_for(other.task_id))
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    # the server rolls the dead claim back: its task is pending, never attempted, and the job finishes
    while (claim := claiming.claim_task(store, job, "heir")).task_id is not None:
        claiming.submit_findings(store, claim.task_id, "heir", [], counts=counts_for(claim.task_id))
    with store.read() as conn:
        rows = conn.execute("SELECT id, state, attempts, worker FROM tasks WHERE job_id = ?", (job,))
        by_id = {int(r[0]): (r[1], r[2], r[3]) for r in rows}
    assert by_id[held] == ("done", 1, "heir") and by_id[other.task_id] == ("done", 1, "alive")
    assert synthesize(store, job).to_json()["counts"] == _expected_counts(sorted(by_id))
    store.close()


@pytest.mark.slow
def test_the_database_restarted_mid_job_and_the_job_finished(project: Path) -> None:
    with restartable_server() as (dsn, stop, start):
        name = f"restart{os.getpid()}"
        secret = dsn.replace("postgresql://postgres:@", f"postgresql://postgres:{PASSWORD}@", 1)
        settings = _settings(project, secret, name, RLM_LEASE_SECONDS="60")  # a claim whose answer was lost
        store = open_pg_store(secret, name)
        tasks = 600
        job = _one_chunk_tasks(store, settings, tasks)
        drainers = _drainers(secret, name, job, processes=2, threads=4)
        while jobs.job_status(store, job).tasks["done"] < tasks // 6:
            threading.Event().wait(0.2)
        # the server stops under an open transaction: the call fails clearly, without the password
        with pytest.raises(Unavailable) as lost, store.write() as conn:
            stop()
            conn.execute("SELECT count(*) FROM tasks")
        assert "was lost" in str(lost.value) and "Call it again" in str(lost.value)
        with pytest.raises(Unavailable) as down:  # while it is down, every call says where and why
            jobs.job_status(store, job)
        start()
        assert jobs.job_status(store, job).tasks["done"] >= tasks // 6  # the store reconnected
        for error in (lost.value, down.value):
            assert "postgres:***@" in str(error) and PASSWORD not in str(error)
        # the analysts called again until the server was back; each task was completed once
        _assert_done_once(store, job, _completed(drainers))
        store.close()


def test_two_submissions_of_one_task_at_once_store_it_once(pg_server: str, project: Path) -> None:
    name = f"twice{os.getpid()}_{next(_projects)}"
    settings = _settings(project, pg_server, name)
    store = open_pg_store(pg_server, name)
    job = _one_chunk_tasks(store, settings, 2)
    claim = claiming.claim_task(store, job, "w")
    assert claim.task_id is not None
    evidence = claim.chunks[0].text[:40]
    finding = {"title": "Quiet", "detail": "", "evidence": evidence, "chunk_id": claim.chunks[0].chunk_id}
    gate, results = threading.Barrier(4), []

    def submit() -> None:
        gate.wait()
        task = claim.task_id or 0
        results.append(claiming.submit_findings(store, task, "w", [finding], counts={"k": {"v": 1}}))
        store.release_thread()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert all(r.accepted and r.findings == 1 for r in results)
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 1
    assert synthesize(store, job).to_json()["counts"] == {"k": {"v": 1}}
    store.close()


def test_two_projects_on_one_server_never_see_each_others_documents_or_jobs(
    pg_server: str, project: Path
) -> None:
    alpha_name, beta_name = f"alpha team {os.getpid()}", f"beta{os.getpid()}_{next(_projects)}"
    alpha: PgStore = open_pg_store(pg_server, alpha_name)
    beta: PgStore = open_pg_store(pg_server, beta_name)
    assert alpha.schema == f"rlm_alpha_team_{os.getpid()}"
    job = _one_chunk_tasks(alpha, _settings(project, pg_server, alpha_name), 3)
    with beta.read() as conn:
        assert conn.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    assert jobs.list_jobs(beta).to_json()["total"] == 0
    with pytest.raises(NotFound, match=f"No job j{job}"):
        claiming.claim_task(beta, job, "intruder")
    assert jobs.list_jobs(alpha).to_json()["total"] == 1
    assert jobs.job_status(alpha, job).tasks["pending"] == 3
    alpha.close()
    beta.close()
