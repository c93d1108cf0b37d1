"""The store: every SQL statement of the project lives in this package.

`Store` (backend.py) is what the core holds: a SQLite file (`SqliteStore`, the default) or a
project's schema on PostgreSQL (`postgres/`); either opens connections (one per thread: MCP runs
sync tools in worker threads), applies its migrations, and gives short read and write transactions.
One module per noun holds the queries (`documents`, `search`, `jobs`, `tasks`, `findings`, `vectors`,
…), for both engines; psycopg loads only when a PostgreSQL store is opened.
"""

from .backend import Store, open_backend
from .connection import Connection, SqliteStore, open_store
from .postgres import PgStore, is_postgres_dsn, open_pg_store, redact_dsn
from .postgres.copy import CopiedTable, migrate_sqlite

__all__ = [
    "Connection",
    "CopiedTable",
    "PgStore",
    "SqliteStore",
    "Store",
    "is_postgres_dsn",
    "migrate_sqlite",
    "open_backend",
    "open_pg_store",
    "open_store",
    "redact_dsn",
]
