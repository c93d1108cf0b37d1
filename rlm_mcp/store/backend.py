"""What the core holds of a store, whichever engine is behind it: `Store`, and `open_backend`.

SQLite (`connection.SqliteStore`, one file, the default) and PostgreSQL (`postgres.PgStore`, a
project's schema on a team's server, `RLM_DB=postgresql://…`) both give connections per thread and
short transactions. The query modules take either connection: their SQL is written once, and
`postgres/adapter.py` carries it to Postgres (see there for where the engines differ).
"""

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from .connection import open_store


class Store(Protocol):
    """A store: `backend` is "sqlite" or "postgres"; `location` is what answers show (never a password);
    `path` is this machine's store file (with Postgres: the local folder's place for reports and
    caches, not a database); `caches` holds process-local values derived from the store."""

    backend: str
    location: str
    path: Path
    caches: dict[str, object]

    def conn(self) -> Any: ...

    def write(self) -> AbstractContextManager[Any]: ...

    def read(self) -> AbstractContextManager[Any]: ...

    def release_thread(self) -> None: ...

    def close(self) -> None: ...


def open_backend(db_path: Path, db_url: str | None, project: str) -> Store:
    """The PostgreSQL store when `db_url` names one (psycopg loads only then), else the SQLite file."""
    if db_url is not None:
        from .postgres import open_pg_store

        return open_pg_store(db_url, project, db_path)
    return open_store(db_path)
