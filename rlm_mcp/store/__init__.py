"""The store: every SQL statement of the project lives in this package.

`Store` opens connections (one per thread: MCP runs sync tools in worker threads), applies the
numbered migrations, and gives short read and write transactions. One module per noun holds the
queries: `documents`, `search`, `jobs`, `vectors`. `postgres/` is the PostgreSQL backend (a project's
schema on a team's server); psycopg loads only when a PostgreSQL store is opened.
"""

from .connection import Connection, Store, open_store
from .postgres import PgStore, is_postgres_dsn, open_pg_store, redact_dsn
from .postgres.copy import CopiedTable, migrate_sqlite

__all__ = [
    "Connection",
    "CopiedTable",
    "PgStore",
    "Store",
    "is_postgres_dsn",
    "migrate_sqlite",
    "open_pg_store",
    "open_store",
    "redact_dsn",
]
