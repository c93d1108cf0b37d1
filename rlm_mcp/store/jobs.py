"""Queries for jobs: the documents and chunks a job plans over, the job rows, a job's progress over its
tasks (tasks.py holds the task rows, findings.py the findings). Callers hold the transaction."""

from collections.abc import Sequence
from typing import Any

from .connection import Connection
from .postgres import jobs as pg
from .postgres.adapter import is_postgres
from .rows import (
    CostSums,
    Job,
    JobDocument,
    JobTiming,
    MissingChunk,
    OpenJob,
    PlanChunk,
    from_json,
    to_json,
)
from .sql import placeholders

JOB_COLUMNS = """id, query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at, columns,
    where_sql, dimensions"""


def _job(r: Any) -> Job:
    columns, dimensions = from_json(r[8]), from_json(r[10])
    return Job(r[0], r[1], from_json(r[2]), r[3], r[4], r[5], r[6], r[7],
               tuple(columns) if columns is not None else None, r[9],
               {k: tuple(v) if v is not None else None for k, v in dimensions.items()}
               if dimensions is not None else None)  # fmt: skip


# ---------------------------------------------------------------- documents and chunks, as a job sees them


def ready_documents(conn: Connection, document_ids: Sequence[int] | None) -> list[JobDocument]:
    """Ready documents, all of them or the ones asked for, by id."""
    sql = "SELECT id, name, content_type FROM documents WHERE state = 'ready'"
    if document_ids is not None:
        sql += f" AND id IN ({placeholders(len(document_ids))})"
    rows = conn.execute(sql + " ORDER BY id", list(document_ids or ()))
    return [JobDocument(*r) for r in rows]


def chunk_plan_rows(conn: Connection, document_id: int) -> list[PlanChunk]:
    """Every chunk of a document, in order, with its size: what planning a task needs."""
    rows = conn.execute(
        "SELECT id, document_id, ordinal, length(text) + length(context) AS size, content_hash "
        "FROM chunks WHERE document_id = ? ORDER BY ordinal",
        (document_id,),
    )
    return [PlanChunk(*r) for r in rows]


def chunk_sample(conn: Connection, document_id: int, n: int) -> list[str]:
    """The text and context of a document's first `n` chunks: a sample that appending to a document or
    editing it past its start leaves alone, so its tasks keep their boundaries (and their reuse)."""
    rows = conn.execute(
        "SELECT context || text FROM chunks WHERE document_id = ? AND ordinal < ? ORDER BY ordinal",
        (document_id, n),
    )
    return [r[0] for r in rows]


def chunk_plan_rows_by_id(conn: Connection, chunk_ids: Sequence[int]) -> list[PlanChunk]:
    rows = conn.execute(
        "SELECT c.id, c.document_id, c.ordinal, length(c.text) + length(c.context) AS size, "
        "c.content_hash FROM chunks c JOIN documents d ON d.id = c.document_id "
        f"WHERE d.state = 'ready' AND c.id IN ({placeholders(len(chunk_ids))}) "
        "ORDER BY c.document_id, c.ordinal",
        list(chunk_ids),
    )
    return [PlanChunk(*r) for r in rows]


# ---------------------------------------------------------------- jobs


def insert_job(
    conn: Connection,
    query: str,
    scope: dict[str, Any],
    task_tokens: int,
    lease_seconds: int,
    max_attempts: int,
    chunks: int,
    now: float,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    dimensions: dict[str, tuple[str, ...] | None] | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at, "
        "columns, where_sql, dimensions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (query, to_json(scope), task_tokens, lease_seconds, max_attempts, chunks, now,
         to_json(list(columns)) if columns is not None else None, where,
         to_json({k: list(v) if v is not None else None for k, v in dimensions.items()})
         if dimensions is not None else None),
    ).fetchone()  # fmt: skip
    return int(row[0])


def job_row(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return _job(row) if row is not None else None


def list_job_rows(conn: Connection, limit: int, offset: int) -> list[Job]:
    rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
    return [_job(r) for r in rows]


def count_jobs(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


def lock_job(conn: Connection, job_id: int) -> None:
    """Hold the job for this transaction (planning a reduce level: one planner at a time). On SQLite
    the write transaction holds the whole file already."""
    if is_postgres(conn):
        pg.lock_job(conn, job_id)


def max_level(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute("SELECT coalesce(max(level), 0) FROM tasks WHERE job_id = ?", (job_id,)).fetchone()[0]
    )


# ---------------------------------------------------------------- progress


def task_state_counts(conn: Connection, job_id: int) -> dict[tuple[int, str], int]:
    """{(level, state): n} for a job."""
    rows = conn.execute(
        "SELECT level, state, count(*) FROM tasks WHERE job_id = ? GROUP BY level, state", (job_id,)
    )
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


def done_chunk_count(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
            "WHERE t.job_id = ? AND t.level = 0 AND t.state = 'done'",
            (job_id,),
        ).fetchone()[0]
    )


def gone_chunk_count(conn: Connection, job_id: int) -> int:
    """Planned chunks of level-0 tasks that no longer exist with the text the job planned."""
    return int(
        conn.execute(
            "SELECT count(*) FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
            "WHERE t.job_id = ? AND t.level = 0 AND NOT EXISTS (SELECT 1 FROM chunks c "
            "WHERE c.id = tc.chunk_id AND c.content_hash = tc.content_hash)",
            (job_id,),
        ).fetchone()[0]
    )


def timing(conn: Connection, job_id: int) -> JobTiming:
    """First claim, last completion and done count of level-0 and reduce tasks alike; tasks born done
    with reused work were never claimed and count for neither."""
    row = conn.execute(
        "SELECT min(claimed_at), max(completed_at), count(completed_at) FROM tasks "
        "WHERE job_id = ? AND state = 'done' AND claimed_at IS NOT NULL",
        (job_id,),
    ).fetchone()
    return JobTiming(row[0], row[1], int(row[2]))


def missing_chunks(conn: Connection, job_id: int) -> list[MissingChunk]:
    """Chunks of level-0 tasks not done, with their task's state and error, in document order."""
    rows = conn.execute(
        "SELECT tc.document_id, tc.ordinal, tc.chunk_id, t.id, t.state, t.error "
        "FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
        "WHERE t.job_id = ? AND t.level = 0 AND t.state != 'done' ORDER BY tc.document_id, tc.ordinal",
        (job_id,),
    )
    return [MissingChunk(*r) for r in rows]


def cost_totals(conn: Connection, job_id: int) -> CostSums:
    """A job's summed task telemetry; task seconds over done tasks (first claim to completion)."""
    row = conn.execute(
        "SELECT coalesce(sum(served_chars), 0) AS served_chars, coalesce(sum(served_tokens), 0) AS "
        "served_tokens, coalesce(sum(received_chars), 0) AS received_chars, coalesce(sum(received_tokens), "
        "0) AS received_tokens, coalesce(sum(attempts), 0) AS attempts, count(*) AS tasks, "
        "coalesce(sum(CASE WHEN state = 'done' THEN completed_at - coalesce(first_claimed_at, claimed_at) "
        "END), 0) AS task_seconds, min(first_claimed_at) AS first_claim, max(completed_at) AS last_done "
        "FROM tasks WHERE job_id = ?",
        (job_id,),
    ).fetchone()
    return CostSums(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]),
                    float(row[6]), row[7], row[8])  # fmt: skip


def open_job_rows(conn: Connection, limit: int) -> list[OpenJob]:
    """Jobs with pending or claimed tasks, newest first."""
    rows = conn.execute(
        "SELECT j.id, j.query, j.chunks, count(*) FILTER (WHERE t.state = 'pending'), "
        "count(*) FILTER (WHERE t.state = 'claimed'), count(*) FILTER (WHERE t.state = 'done'), count(*) "
        "FROM jobs j JOIN tasks t ON t.job_id = j.id GROUP BY j.id "
        "HAVING count(*) FILTER (WHERE t.state IN ('pending', 'claimed')) > 0 ORDER BY j.id DESC LIMIT ?",
        (limit,),
    )
    return [
        OpenJob(int(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows
    ]


def count_open_jobs(conn: Connection) -> int:
    return int(
        conn.execute(
            "SELECT count(DISTINCT job_id) FROM tasks WHERE state IN ('pending', 'claimed')"
        ).fetchone()[0]
    )
