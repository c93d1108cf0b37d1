"""The job queue on PostgreSQL: the SQLite store's semantics (leases, attempts, idempotent
submissions), with claims that take `FOR UPDATE SKIP LOCKED` in one short transaction so concurrent
analysts on many machines never wait on each other's rows. Callers hold the transaction
(`PgStore.write()`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..rows import Task, from_json, to_json
from .adapter import PgConnection, native

TASK_COLUMNS = """id, job_id, level, ordinal, analyst, tokens, inputs, state, worker, lease_expires_at,
    attempts, error, claimed_at, completed_at, summary, relevance, counts, stats, follow_up,
    submission_hash"""


@dataclass(frozen=True, slots=True)
class QueueTask:
    """A task to plan: its place in the job, its analyst and its size."""

    ordinal: int
    analyst: str
    tokens: int
    level: int = 0


@dataclass(frozen=True, slots=True)
class Submission:
    """What one submission did: `completed`, `duplicate` (the same submission again: a no-op) or
    `refused` with the reason (unknown task, another worker's lease, a different result already in)."""

    task_id: int
    outcome: str
    state: str | None
    reason: str | None = None


def _task(r: Any) -> Task:
    return Task(r[0], r[1], r[2], r[3], r[4], r[5], from_json(r[6]), r[7], r[8], r[9], r[10], r[11], r[12],
                r[13], r[14], r[15], from_json(r[16]), from_json(r[17]), from_json(r[18]), r[19])  # fmt: skip


def insert_job(
    conn: PgConnection, query: str, scope: dict[str, Any], task_tokens: int, lease_seconds: int,
    max_attempts: int, chunks: int, now: float,
) -> int:  # fmt: skip
    row = (
        native(conn)
        .execute(
            "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (query, to_json(scope), task_tokens, lease_seconds, max_attempts, chunks, now),
        )
        .fetchone()
    )
    return int(row[0])


def insert_tasks(conn: PgConnection, job_id: int, tasks: Sequence[QueueTask]) -> int:
    """Many tasks at once (COPY): a job of 100k tasks is planned in seconds."""
    with (
        native(conn).cursor() as cur,
        cur.copy("COPY tasks (job_id, level, ordinal, analyst, tokens) FROM STDIN") as out,
    ):
        for task in tasks:
            out.write_row((job_id, task.level, task.ordinal, task.analyst, task.tokens))
    return len(tasks)


def requeue_expired(conn: PgConnection, job_id: int, now: float) -> tuple[int, int]:
    """Expired leases back to the queue, or `failed` once the attempts are spent: (requeued, failed).
    One statement (a round trip less per claim); rows another transaction holds are skipped (that
    transaction is claiming or completing them)."""
    rows = (
        native(conn)
        .execute(
            "WITH expired AS (SELECT t.id, t.attempts >= j.max_attempts AS spent FROM tasks t "
            "JOIN jobs j ON j.id = t.job_id WHERE t.job_id = %s AND t.state = 'claimed' "
            "AND t.lease_expires_at < %s FOR UPDATE OF t SKIP LOCKED) "
            "UPDATE tasks SET state = CASE WHEN e.spent THEN 'failed' ELSE 'pending' END, "
            "error = CASE WHEN e.spent THEN 'lease expired ' || tasks.attempts || ' times (last worker ' "
            "|| coalesce(tasks.worker, '?') || ')' "
            "ELSE 'lease of ' || coalesce(tasks.worker, '?') || ' expired' END, "
            "worker = NULL, lease_expires_at = NULL FROM expired e WHERE tasks.id = e.id RETURNING e.spent",
            (job_id, now),
        )
        .fetchall()
    )
    failed = sum(1 for (spent,) in rows if spent)
    return len(rows) - failed, failed


_CLAIM = f"""
WITH next AS (
    SELECT id FROM tasks WHERE job_id = %(job)s AND state = 'pending' {{analyst}}
    ORDER BY level, ordinal LIMIT 1 FOR UPDATE SKIP LOCKED
)
UPDATE tasks t SET state = 'claimed', worker = %(worker)s, claimed_at = %(now)s,
    lease_expires_at = %(expires)s, attempts = t.attempts + 1,
    first_claimed_at = coalesce(t.first_claimed_at, %(now)s)
FROM next WHERE t.id = next.id
RETURNING {", ".join("t." + c.strip() for c in TASK_COLUMNS.split(","))}
"""


def claim_next(
    conn: PgConnection, job_id: int, worker: str, now: float, lease_seconds: float, analyst: str | None = None
) -> Task | None:
    """Lease the oldest pending task (one of `analyst`'s kind first, when asked) to `worker`; None when
    no task is free. Expired leases are requeued first, as on SQLite.

    The claim commits without waiting for its WAL flush (as SQLite's synchronous=NORMAL): a crash of
    the database server can forget the newest claims — the task is pending again and the analyst's
    submission is refused with the reason, so nothing is counted twice — while submissions keep
    Postgres' full durability."""
    native(conn).execute("SELECT set_config('synchronous_commit', 'off', true)")
    requeue_expired(conn, job_id, now)
    params = {"job": job_id, "worker": worker, "now": now, "expires": now + lease_seconds, "analyst": analyst}
    if analyst is not None:
        row = native(conn).execute(_CLAIM.format(analyst="AND analyst = %(analyst)s"), params).fetchone()
        if row is not None:
            return _task(row)
    row = native(conn).execute(_CLAIM.format(analyst=""), params).fetchone()
    return _task(row) if row is not None else None


def submit(
    conn: PgConnection, task_id: int, worker: str, now: float, summary: str | None,
    counts: dict[str, dict[str, int]] | None, submission_hash: str,
) -> Submission:  # fmt: skip
    """Complete a task held by `worker`; the same submission again is a no-op; anything else is refused
    with the reason, and nothing is lost."""
    row = (
        native(conn)
        .execute("SELECT state, worker, submission_hash FROM tasks WHERE id = %s FOR UPDATE", (task_id,))
        .fetchone()
    )
    if row is None:
        return Submission(task_id, "refused", None, f"no task {task_id}")
    state, holder, done_hash = row
    if state == "done":
        if done_hash == submission_hash:
            return Submission(task_id, "duplicate", state)
        return Submission(task_id, "refused", state, "the task is done already with other findings")
    if state != "claimed" or holder != worker:
        reason = f"the lease is no longer {worker}'s (task is {state}" + (
            f", held by {holder})" if holder else ")"
        )
        return Submission(task_id, "refused", state, reason)
    native(conn).execute(
        "UPDATE tasks SET state = 'done', completed_at = %s, lease_expires_at = NULL, error = NULL, "
        "summary = %s, counts = %s, submission_hash = %s WHERE id = %s",
        (now, summary, to_json(counts), submission_hash, task_id),
    )
    return Submission(task_id, "completed", "done")


def state_counts(conn: PgConnection, job_id: int) -> dict[str, int]:
    rows = native(conn).execute(
        "SELECT state, count(*) FROM tasks WHERE job_id = %s GROUP BY state", (job_id,)
    )
    return {str(state): int(n) for state, n in rows.fetchall()}


def summed_counts(conn: PgConnection, job_id: int) -> dict[str, dict[str, int]]:
    """The done tasks' `counts`, summed exactly by the database (numeric, no float)."""
    rows = (
        native(conn)
        .execute(
            "SELECT d.key, v.key, sum(v.value::numeric) FROM tasks, jsonb_each(counts::jsonb) d, "
            "jsonb_each_text(d.value) v WHERE job_id = %s AND state = 'done' AND counts IS NOT NULL "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            (job_id,),
        )
        .fetchall()
    )
    merged: dict[str, dict[str, int]] = {}
    for dimension, value, total in rows:
        merged.setdefault(str(dimension), {})[str(value)] = int(total)
    return merged


def task_by_id(conn: PgConnection, task_id: int) -> Task | None:
    row = native(conn).execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = %s", (task_id,)).fetchone()
    return _task(row) if row is not None else None
