"""The PostgreSQL backend (`RLM_DB=postgresql://…`): a project's schema on a shared server.

Today it holds the store's tables (documents, chunks with a GIN-indexed tsvector, pgvector vectors,
jobs, tasks, findings), carries the store's SQL (`adapter`), holds what differs for the job queue
(`tasks`: SKIP LOCKED claims; leases, attempts and idempotent submissions are store/tasks.py's, as on
SQLite; `jobs`: a planner's hold on its job; `labels`) and receives `rlm-mcp migrate --to` copies
of a SQLite store (`copy`).
"""

from .connection import PgStore, open_pg_store, schema_name
from .dsn import is_postgres_dsn, redact_dsn

__all__ = ["PgStore", "is_postgres_dsn", "open_pg_store", "redact_dsn", "schema_name"]
