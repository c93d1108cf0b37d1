"""Queries for jobs, tasks, task chunks and findings. Callers hold the transaction."""

from collections.abc import Iterable, Sequence
from typing import Any

from .connection import Connection
from .postgres import jobs as pg
from .postgres.adapter import is_postgres
from .rows import (
    CostSums,
    CoveredChunk,
    Finding,
    Job,
    JobDocument,
    JobTiming,
    MissingChunk,
    NewFinding,
    OpenJob,
    PlanChunk,
    RatedFinding,
    ReduceTask,
    Task,
    TaskCompletion,
    TaskCost,
    TaskResult,
    UnverifiedFinding,
    from_json,
    ids_from_json,
    tags_from_json,
    to_json,
)
from .sql import placeholders

JOB_COLUMNS = """id, query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at, columns,
    where_sql, dimensions"""
TASK_COLUMNS = """id, job_id, level, ordinal, analyst, tokens, inputs, state, worker, lease_expires_at,
    attempts, error, claimed_at, completed_at, summary, relevance, counts, stats, follow_up,
    submission_hash"""
FINDING_COLUMNS = """id, job_id, task_id, level, position, chunk_id, title, detail, evidence, verified,
    evidence_chunk_id, line, kind, severity, tags, citations"""


def _job(r: Any) -> Job:
    columns, dimensions = from_json(r[8]), from_json(r[10])
    return Job(r[0], r[1], from_json(r[2]), r[3], r[4], r[5], r[6], r[7],
               tuple(columns) if columns is not None else None, r[9],
               {k: tuple(v) if v is not None else None for k, v in dimensions.items()}
               if dimensions is not None else None)  # fmt: skip


def _task(r: Any) -> Task:
    return Task(r[0], r[1], r[2], r[3], r[4], r[5], from_json(r[6]), r[7], r[8], r[9], r[10], r[11], r[12],
                r[13], r[14], r[15], from_json(r[16]), from_json(r[17]), from_json(r[18]), r[19])  # fmt: skip


def _finding(r: Any) -> Finding:
    return Finding(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], r[11], r[12],
                   r[13], tags_from_json(r[14]), ids_from_json(r[15]))  # fmt: skip


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


# ---------------------------------------------------------------- planning


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


def insert_task(
    conn: Connection,
    job_id: int,
    level: int,
    ordinal: int,
    analyst: str,
    tokens: int,
    inputs: list[list[int]] | None,
    work_key: str | None = None,
) -> int:
    """A task; a reduce task's `inputs` are the groups of finding ids it merges; `work_key` what
    determines a level-0 task's work (jobs.reuse)."""
    row = conn.execute(
        "INSERT INTO tasks (job_id, level, ordinal, analyst, tokens, inputs, work_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (job_id, level, ordinal, analyst, tokens, to_json(inputs), work_key),
    ).fetchone()
    return int(row[0])


def insert_task_chunks(conn: Connection, task_id: int, chunks: Sequence[PlanChunk]) -> None:
    conn.executemany(
        "INSERT INTO task_chunks (task_id, position, chunk_id, document_id, ordinal, content_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(task_id, i, c.id, c.document_id, c.ordinal, c.content_hash) for i, c in enumerate(chunks)],
    )


# ---------------------------------------------------------------- jobs


def job_row(conn: Connection, job_id: int) -> Job | None:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return _job(row) if row is not None else None


def list_job_rows(conn: Connection, limit: int, offset: int) -> list[Job]:
    rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
    return [_job(r) for r in rows]


def count_jobs(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


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


# ---------------------------------------------------------------- leases


def requeue_expired(conn: Connection, job_id: int, now: float) -> tuple[int, int]:
    """Expired leases: back to the queue, or `failed` once the attempts are spent. (requeued, failed)."""
    if is_postgres(conn):
        return pg.requeue_expired(conn, job_id, now)
    failed = conn.execute(
        "UPDATE tasks SET state = 'failed', worker = NULL, lease_expires_at = NULL, "
        "error = 'lease expired ' || attempts || ' times (last worker ' || coalesce(worker, '?') || ')' "
        "WHERE job_id = ? AND state = 'claimed' AND lease_expires_at < ? "
        "AND attempts >= (SELECT max_attempts FROM jobs WHERE id = ?)",
        (job_id, now, job_id),
    ).rowcount
    requeued = conn.execute(
        "UPDATE tasks SET state = 'pending', lease_expires_at = NULL, "
        "error = 'lease of ' || coalesce(worker, '?') || ' expired', worker = NULL "
        "WHERE job_id = ? AND state = 'claimed' AND lease_expires_at < ?",
        (job_id, now),
    ).rowcount
    return int(requeued), int(failed)


def next_pending(conn: Connection, job_id: int, analyst: str | None) -> Task | None:
    """The oldest pending task (lowest level first); one of `analyst`'s kind when there is one. On
    Postgres the task is one no other claim holds, and it stays locked until this claim commits."""
    lock = pg.claim_lock(conn) if is_postgres(conn) else ""
    if analyst is not None:
        row = conn.execute(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ? AND state = 'pending' AND analyst = ? "
            f"ORDER BY level, ordinal LIMIT 1{lock}",
            (job_id, analyst),
        ).fetchone()
        if row is not None:
            return _task(row)
    row = conn.execute(
        f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ? AND state = 'pending' ORDER BY level, ordinal "
        f"LIMIT 1{lock}",
        (job_id,),
    ).fetchone()
    return _task(row) if row is not None else None


def count_pending(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM tasks WHERE job_id = ? AND state = 'pending'", (job_id,)
        ).fetchone()[0]
    )


def mark_claimed(conn: Connection, task_id: int, worker: str, now: float, expires: float) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'claimed', worker = ?, claimed_at = ?, lease_expires_at = ?, "
        "attempts = attempts + 1, first_claimed_at = coalesce(first_claimed_at, ?) WHERE id = ?",
        (worker, now, expires, now, task_id),
    )


def add_served(conn: Connection, task_id: int, chars: int, tokens: int) -> None:
    """What one claim handed out, added to the task's total over its attempts."""
    conn.execute(
        "UPDATE tasks SET served_chars = served_chars + ?, served_tokens = served_tokens + ? WHERE id = ?",
        (chars, tokens, task_id),
    )


def set_received(conn: Connection, task_id: int, chars: int, tokens: int) -> None:
    conn.execute(
        "UPDATE tasks SET received_chars = ?, received_tokens = ? WHERE id = ?", (chars, tokens, task_id)
    )


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


def task_costs(conn: Connection, job_id: int) -> list[TaskCost]:
    """Per-task telemetry of a job, in level and task order (what a report draws)."""
    rows = conn.execute(
        "SELECT id, level, ordinal, analyst, state, worker, attempts, tokens, served_chars, served_tokens, "
        "received_chars, received_tokens, first_claimed_at, claimed_at, completed_at FROM tasks "
        "WHERE job_id = ? ORDER BY level, ordinal",
        (job_id,),
    )
    return [TaskCost(*tuple(r)) for r in rows]


def pending_by_analyst(conn: Connection, job_id: int) -> dict[str, int]:
    """{analyst: pending tasks} of a job (any level)."""
    rows = conn.execute(
        "SELECT analyst, count(*) FROM tasks WHERE job_id = ? AND state = 'pending' GROUP BY analyst",
        (job_id,),
    )
    return {str(r[0]): int(r[1]) for r in rows}


def claimed_leases(conn: Connection, job_id: int) -> tuple[int, float | None, float | None]:
    """(claimed tasks, earliest lease end, latest lease end) of a job."""
    row = conn.execute(
        "SELECT count(*), min(lease_expires_at), max(lease_expires_at) FROM tasks "
        "WHERE job_id = ? AND state = 'claimed'",
        (job_id,),
    ).fetchone()
    return int(row[0]), row[1], row[2]


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


def mark_failed(conn: Connection, task_id: int, error: str) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'failed', worker = NULL, lease_expires_at = NULL, error = ? WHERE id = ?",
        (error, task_id),
    )


# ---------------------------------------------------------------- tasks and their content


def task_row(conn: Connection, task_id: int, lock: bool = False) -> Task | None:
    """A task; with `lock`, held until the transaction ends (a submission's turn on its task: on
    SQLite the write transaction holds the whole file already, on Postgres the row is locked)."""
    suffix = pg.ROW_LOCK if lock and is_postgres(conn) else ""
    row = conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?{suffix}", (task_id,)).fetchone()
    return _task(row) if row is not None else None


def lock_job(conn: Connection, job_id: int) -> None:
    """Hold the job for this transaction (planning a reduce level: one planner at a time). On SQLite
    the write transaction holds the whole file already."""
    if is_postgres(conn):
        pg.lock_job(conn, job_id)


def task_chunk_rows(conn: Connection, task_id: int) -> list[CoveredChunk]:
    """The chunks a task covers, with their current text (None when deleted since planning)."""
    rows = conn.execute(
        "SELECT tc.chunk_id, tc.document_id, tc.ordinal, tc.content_hash, c.content_hash, c.text, "
        "c.context, c.section, c.start_line, c.end_line, c.start_row, c.end_row, d.name, d.content_type "
        "FROM task_chunks tc LEFT JOIN chunks c ON c.id = tc.chunk_id "
        "LEFT JOIN documents d ON d.id = c.document_id "
        "WHERE tc.task_id = ? ORDER BY tc.position",
        (task_id,),
    )
    return [CoveredChunk(*r) for r in rows]


def finding_rows_by_id(conn: Connection, finding_ids: Sequence[int]) -> list[Finding]:
    rows = conn.execute(
        f"SELECT {FINDING_COLUMNS} FROM findings WHERE id IN ({placeholders(len(finding_ids))}) ORDER BY id",
        list(finding_ids),
    )
    return [_finding(r) for r in rows]


def complete_task(conn: Connection, task_id: int, worker: str, now: float, done: TaskCompletion) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'done', worker = ?, completed_at = ?, lease_expires_at = NULL, "
        "error = NULL, summary = ?, relevance = ?, counts = ?, stats = ?, follow_up = ?, "
        "submission_hash = ? WHERE id = ?",
        (worker, now, done.summary, done.relevance, to_json(done.counts), to_json(done.stats),
         to_json(done.follow_up), done.submission_hash, task_id),
    )  # fmt: skip


def insert_findings(conn: Connection, rows: Iterable[NewFinding]) -> None:
    conn.executemany(
        "INSERT INTO findings (job_id, task_id, level, position, chunk_id, title, detail, evidence, "
        "verified, evidence_chunk_id, line, kind, severity, tags, citations) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (f.job_id, f.task_id, f.level, f.position, f.chunk_id, f.title, f.detail, f.evidence,
             int(f.verified), f.evidence_chunk_id, f.line, f.kind, f.severity, to_json(list(f.tags)),
             to_json(list(f.citations)))
            for f in rows
        ],
    )  # fmt: skip


def task_finding_tally(conn: Connection, task_id: int) -> tuple[int, int]:
    """(findings, unverified) stored for a task."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE verified = 0) FROM findings WHERE task_id = ?", (task_id,)
    ).fetchone()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------- synthesis inputs


def done_task_results(conn: Connection, job_id: int, level: int) -> list[TaskResult]:
    rows = conn.execute(
        "SELECT id, relevance, summary, counts, stats, follow_up FROM tasks "
        "WHERE job_id = ? AND level = ? AND state = 'done' ORDER BY ordinal",
        (job_id, level),
    )
    return [TaskResult(r[0], r[1], r[2], from_json(r[3]), from_json(r[4]), from_json(r[5])) for r in rows]


def finding_rows(conn: Connection, job_id: int, level: int) -> list[RatedFinding]:
    rows = conn.execute(
        "SELECT f.id, f.task_id, f.chunk_id, f.title, f.detail, f.evidence, f.verified, f.line, "
        "f.kind, f.severity, f.tags, f.citations, t.relevance FROM findings f "
        "JOIN tasks t ON t.id = f.task_id WHERE f.job_id = ? AND f.level = ? ORDER BY f.id",
        (job_id, level),
    )
    return [
        RatedFinding(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9], tags_from_json(r[10]),
                     ids_from_json(r[11]), r[12])
        for r in rows
    ]  # fmt: skip


def unverified_rows(conn: Connection, job_id: int) -> list[UnverifiedFinding]:
    rows = conn.execute(
        "SELECT id, task_id, level, chunk_id, title, evidence FROM findings "
        "WHERE job_id = ? AND verified = 0 ORDER BY level, chunk_id, title, evidence, id",
        (job_id,),
    )
    return [UnverifiedFinding(*r) for r in rows]


def max_level(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute("SELECT coalesce(max(level), 0) FROM tasks WHERE job_id = ?", (job_id,)).fetchone()[0]
    )


def reduce_tasks(conn: Connection, job_id: int, level: int) -> list[ReduceTask]:
    """A level's tasks with their inputs and how many findings each stored."""
    rows = conn.execute(
        "SELECT t.id, t.state, t.inputs, (SELECT count(*) FROM findings f WHERE f.task_id = t.id) "
        "FROM tasks t WHERE t.job_id = ? AND t.level = ? ORDER BY t.ordinal",
        (job_id, level),
    )
    return [ReduceTask(r[0], r[1], from_json(r[2]) or [], int(r[3])) for r in rows]


def findings_signature(conn: Connection, job_id: int, level: int) -> tuple[int, int]:
    """(count, last id) of a level's findings: findings are never updated, so this names the set."""
    row = conn.execute(
        "SELECT count(*), coalesce(max(id), 0) FROM findings WHERE job_id = ? AND level >= ? AND level <= ?",
        (job_id, max(0, level - 1), level),
    ).fetchone()
    return int(row[0]), int(row[1])
