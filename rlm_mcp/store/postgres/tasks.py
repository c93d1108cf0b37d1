"""Where the task queue differs on PostgreSQL: claims that skip the rows other transactions hold.

On SQLite a claim is one `BEGIN IMMEDIATE` transaction, so claims take turns over the whole file. On
Postgres many claims run at once, each in one short READ COMMITTED transaction: the next pending
task is taken `FOR UPDATE SKIP LOCKED` (a row another claim holds is passed over, never waited for,
and never handed out twice), expired leases are requeued in one statement that skips held rows, and
a submission locks its task's row so two submissions of one task take turns. Same signatures and
typed rows as the functions of store/tasks.py that call these.
"""

from .adapter import PgConnection

_REQUEUE = """
WITH expired AS (
    SELECT t.id, t.attempts >= j.max_attempts AS spent FROM tasks t JOIN jobs j ON j.id = t.job_id
    WHERE t.job_id = %s AND t.state = 'claimed' AND t.lease_expires_at < %s
    FOR UPDATE OF t SKIP LOCKED
)
UPDATE tasks SET
    state = CASE WHEN e.spent THEN 'failed' ELSE 'pending' END,
    error = CASE WHEN e.spent
        THEN 'lease expired ' || tasks.attempts || ' times (last worker '
             || coalesce(tasks.worker, '?') || ')'
        ELSE 'lease of ' || coalesce(tasks.worker, '?') || ' expired' END,
    worker = NULL, lease_expires_at = NULL
FROM expired e WHERE tasks.id = e.id RETURNING e.spent
"""


def requeue_expired(conn: PgConnection, job_id: int, now: float) -> tuple[int, int]:
    """Expired leases back to the queue, or `failed` once the attempts are spent: (requeued, failed).
    One statement; a row another transaction holds is skipped (it is being claimed or completed)."""
    rows = conn.pg.execute(_REQUEUE, (job_id, now)).fetchall()
    failed = sum(1 for (spent,) in rows if spent)
    return len(rows) - failed, failed


def claim_lock(conn: PgConnection) -> str:
    """What a claim's SELECT of the next pending task ends with on Postgres: the oldest pending task
    no other transaction holds, locked until this claim commits.

    A claim commits without waiting for its WAL flush (as SQLite's synchronous=NORMAL does): a crash
    of the database server may forget the newest claims, which leaves those tasks pending (claimed
    again later; the first analyst's submission is still taken, once), while submissions keep
    Postgres' full durability."""
    conn.pg.execute("SELECT set_config('synchronous_commit', 'off', true)")
    return " FOR UPDATE SKIP LOCKED"


ROW_LOCK = " FOR UPDATE"  # a submission's turn on its task: a second submission of it waits
