"""The PostgreSQL store: one schema per project on a shared server, a connection per thread, short
transactions. psycopg (the `postgres` extra) is imported here, on first use, never at start-up."""

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ...errors import IncompleteInstall, Unavailable
from ..threads import PerThread
from .adapter import PgConnection
from .dsn import redact_dsn, scrub

log = logging.getLogger(__name__)

SCHEMA_PREFIX = "rlm_"
CONNECT_TIMEOUT_SECONDS = 10
_PROJECT_KEY = re.compile(r"[^a-z0-9_]+")
# what the server answers when it has no connection slot left for this client (SQLSTATE 53300)
_NO_SLOT = re.compile(
    r"too many clients already|too many connections for (?:role|database) \S+|"
    r"remaining connection slots are reserved[^\n]*"
)


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


def _schema_sql() -> tuple[str, str]:
    """schema.sql (idempotent DDL) and the digest of its text, recorded per project schema."""
    text = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


def _no_slot(dsn: str, reason: str, held: int) -> Unavailable:
    """The server refused one more connection: what happened, and what to do about it."""
    return Unavailable(
        f"The PostgreSQL store {redact_dsn(dsn)} refused a new connection: {reason}. This process already "
        f"holds {held} connection(s) to it (one per thread that used the store). Run fewer analysts or "
        "worker threads per process, raise the server's max_connections (or the role's CONNECTION LIMIT), "
        "or put a pooler such as PgBouncer (transaction mode) in front of it; then call again."
    )


def connect(dsn: str, schema: str, held: int = 0) -> PgConnection:
    """A connection whose search_path is the project's schema, created and migrated when new; `held`
    is how many this process already has open to the store (said when the server has no slot left)."""
    psycopg = _psycopg()
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        message = scrub(str(error), dsn).strip()
        # Trigger: max_connections (or the role's limit) reached. Why: libpq only says "too many
        # clients". Outcome: the error says how many this process holds and what to change.
        slots = _NO_SLOT.search(message)
        if slots is not None:
            raise _no_slot(dsn, slots.group(0), held) from None
        # Trigger: a wrong host, user or password. Why: libpq's message may quote the DSN.
        # Outcome: the error names the server without its password.
        raise Unavailable(
            f"Cannot connect to the PostgreSQL store {redact_dsn(dsn)}: {message} "
            "— check RLM_DB (or --db), or unset it to use the SQLite store."
        ) from None
    _migrate(conn, schema)
    conn.execute(f'SET search_path TO "{schema}", public')
    return PgConnection(conn)


def _migrate(conn: Any, schema: str) -> None:
    """Create the project's schema and tables, and apply schema.sql again whenever its text changed
    (every statement is idempotent); an advisory lock makes processes take turns."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('rlm-mcp: extensions'))")
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public")
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        conn.execute("CREATE TABLE IF NOT EXISTS rlm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        text, digest = _schema_sql()
        row = conn.execute("SELECT value FROM rlm_meta WHERE key = 'schema_digest'").fetchone()
        if row is not None and row[0] == digest:
            return
        log.info("applying the rlm-mcp schema to %s", schema)
        conn.execute(text)
        conn.execute(
            "INSERT INTO rlm_meta (key, value) VALUES ('schema_digest', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (digest,),
        )


class PgStore:
    """A project's schema on a PostgreSQL server, with a connection per thread. `path` is this
    machine's store folder (`.rlm/rlm.db` by default, never created as a database): what stays local
    (reports, the cache of columnar copies) goes beside it, as with SQLite."""

    backend = "postgres"

    def __init__(self, dsn: str, project: str, path: Path | None = None) -> None:
        self._dsn = dsn
        self.schema = schema_name(project)
        self.location = f"{redact_dsn(dsn)} (schema {self.schema})"  # what answers and logs show
        self.path = path if path is not None else Path(".rlm") / "rlm.db"
        # psycopg closes a connection the server already dropped without raising
        self._connections: PerThread[PgConnection] = PerThread(
            lambda: connect(dsn, self.schema, self._connections.count()),
            PgConnection.close,
            lambda conn: not conn.closed,
        )
        self.caches: dict[str, object] = {}  # process-local caches, as on the SQLite store

    def __repr__(self) -> str:
        return f"PgStore({self.location})"

    def conn(self) -> PgConnection:
        return self._connections.get()

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """One transaction: committed on success, rolled back on any error."""
        with self._transaction(None) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A consistent snapshot for several SELECTs (REPEATABLE READ)."""
        with self._transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ") as conn:
            yield conn

    @contextmanager
    def _transaction(self, isolation: str | None) -> Iterator[PgConnection]:
        """A transaction on this thread's connection. A connection the server dropped while it sat idle
        (a restart, a failover, an idle timeout) is replaced before the transaction starts; one lost
        during the transaction is replaced by the next call, and this one fails with `Unavailable`
        naming the server without its password."""
        psycopg = _psycopg()
        for attempt in (1, 2):
            conn = self.conn()
            transaction = conn.pg.transaction()
            try:
                transaction.__enter__()  # BEGIN: nothing of the call has run yet, so a retry is safe
                break
            except psycopg.OperationalError as error:
                if not conn.closed or attempt == 2:
                    raise self._lost(conn, error) from None
                log.info("the connection to %s was dropped; reconnecting", self.location)
                self._forget(conn)
        try:
            if isolation is not None:
                conn.pg.execute(isolation)
            yield conn
        except BaseException as error:
            if conn.closed:
                raise self._lost(conn, error) from None
            transaction.__exit__(type(error), error, error.__traceback__)  # rolls back, then re-raises
            raise
        try:
            transaction.__exit__(None, None, None)  # COMMIT
        except psycopg.OperationalError as error:
            raise self._lost(conn, error) from None

    def _lost(self, conn: PgConnection, error: BaseException) -> BaseException:
        """What a caller sees when the server went away mid-call: which store, and what to do."""
        if not conn.closed:
            return error
        self._forget(conn)
        reason = scrub(str(error), self._dsn).strip().splitlines()[0] if str(error).strip() else "closed"
        return Unavailable(
            f"The connection to the PostgreSQL store {self.location} was lost ({reason}); this call may "
            "not have completed. Call it again: the store reconnects, a repeated submission is stored "
            "once, and a task whose claim was lost returns to the queue when its lease ends."
        )

    def _forget(self, conn: PgConnection) -> None:
        """Close a connection the server dropped: this thread's next call opens a new one."""
        conn.close()

    def release_thread(self) -> None:
        self._connections.release()

    def close(self) -> None:
        self._connections.close_all()


def open_pg_store(dsn: str, project: str, path: Path | None = None) -> PgStore:
    """Open (and create when new) the project's schema; fails early with a password-free error."""
    store = PgStore(dsn, project, path)
    store.conn()
    return store
