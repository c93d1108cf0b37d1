"""Queries for tasks: planned, claimed under a lease, completed, with the chunks they cover and their
telemetry. Callers hold the transaction; where PostgreSQL claims differ, postgres/tasks.py."""

from collections.abc import Sequence
from typing import Any

from .connection import Connection
from .postgres import tasks as pg
from .postgres.adapter import is_postgres
from .rows import (
    CoveredChunk,
    PlanChunk,
    ReduceTask,
    Task,
    TaskCompletion,
    TaskCost,
    TaskResult,
    from_json,
    to_json,
)

TASK_COLUMNS = """id, job_id, level, ordinal, analyst, tokens, inputs, state, worker, lease_expires_at,
    attempts, error, claimed_at, completed_at, summary, relevance, counts, stats, follow_up,
    submission_hash"""


def _task(r: Any) -> Task:
    return Task(r[0], r[1], r[2], r[3], r[4], r[5], from_json(r[6]), r[7], r[8], r[9], r[10], r[11], r[12],
                r[13], r[14], r[15], from_json(r[16]), from_json(r[17]), from_json(r[18]), r[19])  # fmt: skip


# ---------------------------------------------------------------- planning


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


# ---------------------------------------------------------------- claims and leases


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


def mark_failed(conn: Connection, task_id: int, error: str) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'failed', worker = NULL, lease_expires_at = NULL, error = ? WHERE id = ?",
        (error, task_id),
    )


def claimed_leases(conn: Connection, job_id: int) -> tuple[int, float | None, float | None]:
    """(claimed tasks, earliest lease end, latest lease end) of a job."""
    row = conn.execute(
        "SELECT count(*), min(lease_expires_at), max(lease_expires_at) FROM tasks "
        "WHERE job_id = ? AND state = 'claimed'",
        (job_id,),
    ).fetchone()
    return int(row[0]), row[1], row[2]


def pending_by_analyst(conn: Connection, job_id: int) -> dict[str, int]:
    """{analyst: pending tasks} of a job (any level)."""
    rows = conn.execute(
        "SELECT analyst, count(*) FROM tasks WHERE job_id = ? AND state = 'pending' GROUP BY analyst",
        (job_id,),
    )
    return {str(r[0]): int(r[1]) for r in rows}


def task_costs(conn: Connection, job_id: int) -> list[TaskCost]:
    """Per-task telemetry of a job, in level and task order (what a report draws)."""
    rows = conn.execute(
        "SELECT id, level, ordinal, analyst, state, worker, attempts, tokens, served_chars, served_tokens, "
        "received_chars, received_tokens, first_claimed_at, claimed_at, completed_at FROM tasks "
        "WHERE job_id = ? ORDER BY level, ordinal",
        (job_id,),
    )
    return [TaskCost(*tuple(r)) for r in rows]


# ---------------------------------------------------------------- a task and its content


def task_row(conn: Connection, task_id: int, lock: bool = False) -> Task | None:
    """A task; with `lock`, held until the transaction ends (a submission's turn on its task: on
    SQLite the write transaction holds the whole file already, on Postgres the row is locked)."""
    suffix = pg.ROW_LOCK if lock and is_postgres(conn) else ""
    row = conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?{suffix}", (task_id,)).fetchone()
    return _task(row) if row is not None else None


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


def set_received(conn: Connection, task_id: int, chars: int, tokens: int) -> None:
    conn.execute(
        "UPDATE tasks SET received_chars = ?, received_tokens = ? WHERE id = ?", (chars, tokens, task_id)
    )


def complete_task(conn: Connection, task_id: int, worker: str, now: float, done: TaskCompletion) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'done', worker = ?, completed_at = ?, lease_expires_at = NULL, "
        "error = NULL, summary = ?, relevance = ?, counts = ?, stats = ?, follow_up = ?, "
        "submission_hash = ? WHERE id = ?",
        (worker, now, done.summary, done.relevance, to_json(done.counts), to_json(done.stats),
         to_json(done.follow_up), done.submission_hash, task_id),
    )  # fmt: skip


# ---------------------------------------------------------------- synthesis inputs


def done_task_results(conn: Connection, job_id: int, level: int) -> list[TaskResult]:
    rows = conn.execute(
        "SELECT id, relevance, summary, counts, stats, follow_up FROM tasks "
        "WHERE job_id = ? AND level = ? AND state = 'done' ORDER BY ordinal",
        (job_id, level),
    )
    return [TaskResult(r[0], r[1], r[2], from_json(r[3]), from_json(r[4]), from_json(r[5])) for r in rows]


def reduce_tasks(conn: Connection, job_id: int, level: int) -> list[ReduceTask]:
    """A level's tasks with their inputs and how many findings each stored."""
    rows = conn.execute(
        "SELECT t.id, t.state, t.inputs, (SELECT count(*) FROM findings f WHERE f.task_id = t.id) "
        "FROM tasks t WHERE t.job_id = ? AND t.level = ? ORDER BY t.ordinal",
        (job_id, level),
    )
    return [ReduceTask(r[0], r[1], from_json(r[2]) or [], int(r[3])) for r in rows]
