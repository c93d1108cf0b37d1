"""One function opens every connection: driver, pragmas, sqlite-vec, migrations."""

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlean as sqlite3  # stdlib sqlite3 cannot load extensions on pyenv/macOS Pythons

from .threads import PerThread

log = logging.getLogger(__name__)

Connection = Any  # sqlean.Connection; the driver ships no type stubs
BUSY_TIMEOUT_MS = 30_000
WAL_AUTOCHECKPOINT_PAGES = 8192  # 32 MB: fewer checkpoints during large loads (the default 4 MB costs ~7 %)
MIGRATIONS_PACKAGE = "rlm_mcp.store.migrations"


def _migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every `NNNN_name.sql` file, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def _configure(conn: Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    import sqlite_vec  # here, not at the top: it imports numpy, which the server must not load at start

    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)


def _migrate(conn: Connection) -> None:
    """Apply pending migrations; BEGIN IMMEDIATE makes concurrent processes take turns."""
    pending = _migrations()
    (current,) = conn.execute("PRAGMA user_version").fetchone()
    if current >= (pending[-1][0] if pending else 0):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        (current,) = conn.execute("PRAGMA user_version").fetchone()
        for number, name, sql in pending:
            if number > current:
                log.info("applying migration %s", name)
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN … END;) whole."""
    statements, buffer = [], ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _private_file(path: Path) -> None:
    """The store holds the text of files that may be private: its folder is created 0700 and the
    database 0600 (SQLite gives its -wal and -shm files the database file's mode)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path.parent, 0o700)  # mkdir's mode is masked by the umask
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # absent, or owned by someone else: left as it is
            if file.stat().st_mode & 0o077:
                os.chmod(file, 0o600)


STORE_DIRNAME = ".rlm"
STORE_GITIGNORE = "# The rlm-mcp store (database, copies, reports): local to this machine.\n*\n"


def _ignore_in_git(path: Path, folder_was_new: bool) -> None:
    """A new store gets a `.gitignore` of `*` in its folder (one rlm-mcp created, or `.rlm/`), so a user
    who never ran `rlm-mcp init` (the plugin route) does not commit the database by accident."""
    folder = path.parent
    ignore = folder / ".gitignore"
    if (folder_was_new or folder.name == STORE_DIRNAME) and not ignore.exists():
        try:
            with os.fdopen(os.open(ignore, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600), "w") as out:
                out.write(STORE_GITIGNORE)  # 0600 like every file of the store
        except OSError as error:  # a read-only folder still gets its store, without the courtesy file
            log.warning("could not write %s: %s", ignore, error)


def connect(path: Path) -> Connection:
    folder_was_new, store_is_new = not path.parent.exists(), not path.exists()
    _private_file(path)
    if store_is_new:
        _ignore_in_git(path, folder_was_new)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _configure(conn)
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("journal_mode is %s, not WAL: concurrent writers will wait longer", mode)
    _migrate(conn)
    return conn


class SqliteStore:
    """A database file, with a connection per thread and short transactions."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)  # what answers and logs show
        self._connections: PerThread[Connection] = PerThread(lambda: connect(path), _close)
        # Process-local caches of what is derived from the file (search/bm25.py's phrase row counts);
        # each entry carries the version it was read at and is checked against the file's.
        self.caches: dict[str, object] = {}

    def conn(self) -> Connection:
        return self._connections.get()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One `BEGIN IMMEDIATE` transaction: committed on success, rolled back on any error."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent snapshot for several SELECTs."""
        conn = self.conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def release_thread(self) -> None:
        """Close this thread's connection (a worker thread that ends calls this)."""
        self._connections.release()

    def close(self) -> None:
        self._connections.close_all()


def _close(conn: Connection) -> None:
    with contextlib.suppress(sqlite3.ProgrammingError):  # closed already
        conn.close()


def open_store(path: Path) -> SqliteStore:
    """Open (and migrate) the store at `path`; fails early if the file is not a usable database."""
    store = SqliteStore(path)
    store.conn()
    return store
