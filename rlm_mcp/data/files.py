"""Where the columnar copies live, and how a new one replaces the old without a reader seeing half.

A copy is written to `<store dir>/data/<name>.parquet.tmp`, renamed to its final name (new for every
version: `d3-<hash>.parquet`) and recorded in `data_copies` inside the transaction that swaps the
document in; the file it replaces is deleted only after that commits. A query that opened the old
file keeps reading it (POSIX keeps an unlinked file until it is closed).

On PostgreSQL the database is the one place every member of a team reaches, so the copy's bytes are
stored there, in the same transaction (store/postgres/copies.py), and the folder
`<store dir>/data/<schema>/` is this machine's cache of them: a file another member loaded is written
there the first time a query needs it (`local_file`), checked against the row's sha256, under the
row's name, which is new for every version; so a reload by one member is what every member reads
next, and files no row names any more are swept from the cache.
"""

import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, replace
from pathlib import Path

from ..config import DEFAULT_QUERY_MEMORY, DEFAULT_QUERY_SECONDS, Settings
from ..errors import Conflict, NotFound
from ..hashing import hash_file
from ..ids import format_id
from ..store import Connection, Store
from ..store import copies as copies_db
from ..store.rows import CopyRow

log = logging.getLogger(__name__)

DATA_DIRNAME = "data"
TEMP_SUFFIX = ".tmp"
COPY_SUFFIX = ".parquet"


@dataclass(frozen=True, slots=True)
class DataCopy:
    """The columnar copies of one store: its directory and the limits queries run under."""

    store: Store
    directory: Path
    query_seconds: float
    query_memory: str
    copy_enabled: bool = True

    @property
    def spill_directory(self) -> Path:
        return self.directory / "spill"


CACHE_GRACE_SECONDS = 60.0  # a cache file this fresh may be one another process just wrote for a query
SAFE_NAME = re.compile(
    r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.parquet$"
)  # a row's file name, as this package makes them
READ_BLOCK = 1 << 20


class CopyChanged(Conflict):
    """A copy's bytes read from the database do not match the sha256 of the row that names them."""


def copy_directory(store: Store) -> Path:
    """`<store dir>/data/` (SQLite); `<store dir>/data/<schema>/` on PostgreSQL: this machine's cache
    of the project's copies, apart from other projects' that share the folder."""
    base = store.path.parent / DATA_DIRNAME
    if store.backend == "postgres":
        return base / str(getattr(store, "schema", "postgres"))
    return base


def open_copy(settings: Settings | None, store: Store) -> DataCopy:
    """The copies beside `store` (`<dir of the db>/data/`); nothing is created until a copy is written.
    Without settings, the default query limits (what a job's claims and submissions read under)."""
    if settings is None:
        return DataCopy(store, copy_directory(store), DEFAULT_QUERY_SECONDS, DEFAULT_QUERY_MEMORY)
    return DataCopy(
        store,
        copy_directory(store),
        settings.query_seconds,
        settings.query_memory,
        settings.data_copy,
    )


PRIVATE_DIR = 0o700  # like the store's own folder: document text is private
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> Path:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)
    return path


def temp_path(copy: DataCopy, stem: str) -> Path:
    private_directory(copy.directory)
    return copy.directory / f"{stem}-{secrets.token_hex(6)}{COPY_SUFFIX}{TEMP_SUFFIX}"


def install(copy: DataCopy, conn: Connection, temp: Path, row: CopyRow) -> str | None:
    """Rename a finished temp file to its final name and record it; call inside the write transaction
    that swaps the document. Returns the file the new copy replaces (delete it after the commit)."""
    final = copy.directory / row.file
    if copy.store.backend == "postgres":
        return _install_shared(copy, conn, temp, row)
    os.chmod(temp, PRIVATE_FILE)
    os.replace(temp, final)
    try:
        return copies_db.put_copy(conn, row)
    except BaseException:
        with contextlib.suppress(OSError):
            final.unlink()
        raise


def _install_shared(copy: DataCopy, conn: Connection, temp: Path, row: CopyRow) -> str | None:
    """PostgreSQL: the row and the file's bytes go into the database (all or nothing with the swap);
    the file stays here as this machine's cached copy of them."""
    found = hash_file(temp)
    row = replace(row, sha256=found.sha256, size=found.size)
    replaced = copies_db.put_copy(conn, row)
    copies_db.put_copy_bytes(conn, row.file, copies_db.file_parts(temp))
    os.chmod(temp, PRIVATE_FILE)
    os.replace(temp, copy.directory / row.file)
    return replaced


def local_file(copy: DataCopy, row: CopyRow) -> Path:
    """The file a query reads for `row`: the store's own (SQLite), or this machine's cached copy of
    the bytes in the database (PostgreSQL), written the first time it is needed."""
    path = copy.directory / row.file
    if copy.store.backend != "postgres":
        return path
    if not SAFE_NAME.match(row.file):
        # Trigger: a data_copies row whose file is not a name this package makes. Why: it comes from
        # a shared database and would become a path here. Outcome: refused, nothing written.
        raise CopyChanged(
            f"The copy of {format_id('d', row.document_id)} has an invalid file name; load_document it again."
        )
    if path.is_file() and (row.size is None or path.stat().st_size == row.size):
        return path
    return _materialize(copy, row, path)


def _materialize(copy: DataCopy, row: CopyRow, path: Path) -> Path:
    doc = format_id("d", row.document_id)
    if row.sha256 is None:
        raise NotFound(
            f"The copy of {doc} is not in the PostgreSQL store (it was made before copies were shared); "
            "load_document the file again to store it."
        )
    private_directory(copy.directory)
    temp = copy.directory / f"{row.file}-{secrets.token_hex(4)}{TEMP_SUFFIX}"
    digest = hashlib.sha256()
    size = 0
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "wb") as out:
            for part in copies_db.stored_copy_bytes(copy.store, row.file):
                out.write(part)
                digest.update(part)
                size += len(part)
        if digest.hexdigest() != row.sha256 or size != row.size:
            raise CopyChanged(
                f"The copy of {doc} read from the PostgreSQL store ({size:,} bytes) does not match its "
                "sha256: another member reloaded or removed the document meanwhile, or its stored bytes "
                "are damaged. Run the query again; if this persists, load_document the file again."
            )
        os.replace(temp, path)
    except BaseException:
        discard_temp(temp)
        raise
    log.info("cached the copy of %s (%d bytes) in %s", doc, size, copy.directory)
    sweep_cache(copy)
    return path


def sweep_cache(copy: DataCopy) -> int:
    """PostgreSQL: delete cached files no row names any more (other members' reloads and removals),
    except ones written in the last CACHE_GRACE_SECONDS (a query of another process may be opening one)."""
    referenced = copies_db.current_files(copy.store)
    removed = 0
    now = time.time()
    for cached in copy.directory.glob(f"*{COPY_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if cached.name not in referenced and now - cached.stat().st_mtime > CACHE_GRACE_SECONDS:
                cached.unlink()
                removed += 1
    return removed


def final_name(temp: Path) -> str:
    return temp.name.removesuffix(TEMP_SUFFIX)


def discard(copy: DataCopy, *names: str | None) -> None:
    """Delete copy files that no row points at any more (after the transaction that let them go)."""
    for name in names:
        if name:
            with contextlib.suppress(FileNotFoundError):
                (copy.directory / name).unlink()


def discard_removed(store: Store, name: str | None) -> None:
    """Delete the copy file of a document that was removed (after the transaction that removed it)."""
    if name:
        with contextlib.suppress(FileNotFoundError):
            (copy_directory(store) / name).unlink()


def discard_temp(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def sweep(copy: DataCopy) -> int:
    """Delete finished copy files no row points at (a load killed between rename and commit, a
    removal whose delete failed). Runs under the store's write lock, so no load is between its rename
    and its commit meanwhile. Temp files of loads under way are left alone."""
    if not copy.directory.is_dir():
        return 0
    removed = 0
    with copy.store.write() as conn:
        referenced = copies_db.referenced_files(conn)
        for path in copy.directory.glob(f"*{COPY_SUFFIX}"):
            if path.name not in referenced:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
    if removed:
        log.info("removed %d unreferenced copy files from %s", removed, copy.directory)
    return removed
