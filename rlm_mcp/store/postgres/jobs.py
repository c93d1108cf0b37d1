"""Where jobs differ on PostgreSQL: a reduce level's planner holds its job's row (on SQLite the write
transaction holds the whole file). Same signature as the store/jobs.py function that calls it; the
claims are postgres/tasks.py's.
"""

from .adapter import PgConnection


def lock_job(conn: PgConnection, job_id: int) -> None:
    """Take the job's row for this transaction (planning a reduce level): FOR NO KEY UPDATE, which
    waits for another planner but not for the inserts of findings and tasks that reference the job."""
    conn.pg.execute("SELECT id FROM jobs WHERE id = %s FOR NO KEY UPDATE", (job_id,))
