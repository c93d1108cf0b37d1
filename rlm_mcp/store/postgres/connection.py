"""The PostgreSQL store: one schema per project on a shared server, a connection per thread, short
transactions. psycopg (the `postgres` extra) is imported here, on first use, never at start-up."""

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from ...errors import IncompleteInstall, Unavailable
from .dsn import redact_dsn, scrub

log = logging.getLogger(__name__)

PgConnection = Any  # psycopg.Connection; kept opaque at the seam like the SQLite Connection
SCHEMA_PREFIX = "rlm_"
SCHEMA_VERSION = 3  # bumped with schema.sql (idempotent DDL); recorded per project schema in rlm_meta
CONNECT_TIMEOUT_SECONDS = 10
_PROJECT_KEY = re.compile(r"[^a-z0-9_]+")


def schema_name(project: str) -> str:
    """`rlm_<project>`: lower-case letters, digits and underscores, at most 63 bytes (Postgres' limit)."""
    key = _PROJECT_KEY.sub("_", project.strip().lower()).strip("_")
    if not key:
        raise Unavailable(f"The project key {project!r} has no letters or digits; set RLM_PROJECT to a name.")
    return (SCHEMA_PREFIX + key)[:63]


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise IncompleteInstall(
            "RLM_DB names a PostgreSQL server, but psycopg is not installed: "
            "pip install 'rlm-mcp[postgres]' (or use a SQLite file path for RLM_DB)."
        ) from None
    return psycopg


def connect(dsn: str, schema: str) -> PgConnection:
    """A connection whose search_path is the project's schema, created and migrated when new."""
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        # Trigger: a wrong host, user or password. Why: libpq's message may quote the DSN.
        # Outcome: the error names the server without its password.
        raise Unavailable(
            f"Cannot connect to the PostgreSQL store {redact_dsn(dsn)}: {scrub(str(error), dsn).strip()} "
            "— check RLM_DB (or --db), or unset it to use the SQLite store."
        ) from None
    _migrate(conn, schema)
    conn.execute(f'SET search_path TO "{schema}", public')
    return conn


def _migrate(conn: PgConnection, schema: str) -> None:
    """Create the project's schema and tables once; an advisory lock makes processes take turns."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rlm-mcp: extensions'))")
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        conn.execute("CREATE TABLE IF NOT EXISTS rlm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = conn.execute("SELECT value FROM rlm_meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) >= SCHEMA_VERSION:
            return
        log.info("creating the rlm-mcp tables in schema %s", schema)
        conn.execute(resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8"))
        conn.execute(
            "INSERT INTO rlm_meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )


class PgStore:
    """A project's schema on a PostgreSQL server, with a connection per thread."""

    def __init__(self, dsn: str, project: str) -> None:
        self._dsn = dsn
        self.schema = schema_name(project)
        self.location = f"{redact_dsn(dsn)} (schema {self.schema})"  # what answers and logs show
        self._local = threading.local()
        self._all: list[PgConnection] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PgStore({self.location})"

    def conn(self) -> PgConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self._dsn, self.schema)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One transaction: committed on success, rolled back on any error."""
        conn = self.conn()
        with conn.transaction():
            yield conn

    read = write  # Postgres snapshots need no separate mode for these short transactions

    def release_thread(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            conn.close()
            self._local.conn = None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()  # psycopg closes a connection the server already dropped without raising
            self._all.clear()
        self._local = threading.local()


def open_pg_store(dsn: str, project: str) -> PgStore:
    """Open (and create when new) the project's schema; fails early with a password-free error."""
    store = PgStore(dsn, project)
    store.conn()
    return store
