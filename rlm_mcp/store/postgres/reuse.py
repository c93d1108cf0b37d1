"""Where reuse and gc differ on PostgreSQL: a transaction-level advisory lock that makes them take turns.

On SQLite a write transaction is `BEGIN IMMEDIATE`, so a gc and a create_job that reuses an earlier
job's work already run one after the other. On Postgres both run at once under READ COMMITTED: a gc
could see a finished job that no committed job reuses and delete it while another member's
create_job, not yet committed, copies that job's work. So a create_job takes the project's reuse lock
shared before it reads its sources (create_jobs still run side by side), and a gc takes it exclusively
before it picks what to delete; each statement after the lock sees what the other committed. The
lock is per project schema (advisory locks are server-wide) and ends with the transaction.
"""

from .adapter import PgConnection, native

_KEY = "hashtext('rlm-mcp reuse ' || current_schema())"


def lock_reuse(conn: PgConnection, exclusive: bool) -> None:
    """Wait for the project's reuse lock: shared for a reusing create_job, exclusive for a gc."""
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    native(conn).execute(f"SELECT {function}({_KEY})")
