"""Where the columnar copies live, and how a new one replaces the old without a reader seeing half.

A copy is written to `<store dir>/data/<name>.parquet.tmp`, renamed to its final name (new for every
version: `d3-<hash>.parquet`) and recorded in `data_copies` inside the transaction that swaps the
document in; the file it replaces is deleted only after that commits. A query that opened the old
file keeps reading it (POSIX keeps an unlinked file until it is closed).
"""

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from ..config import DEFAULT_QUERY_MEMORY, DEFAULT_QUERY_SECONDS, Settings
from ..store import Connection, Store
from ..store import copies as copies_db

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


def copy_directory(store: Store) -> Path:
    return store.path.parent / DATA_DIRNAME


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


def install(copy: DataCopy, conn: Connection, temp: Path, row: copies_db.CopyRow) -> str | None:
    """Rename a finished temp file to its final name and record it; call inside the write transaction
    that swaps the document. Returns the file the new copy replaces (delete it after the commit)."""
    final = copy.directory / row.file
    os.chmod(temp, PRIVATE_FILE)
    os.replace(temp, final)
    try:
        return copies_db.put_copy(conn, row)
    except BaseException:
        with contextlib.suppress(OSError):
            final.unlink()
        raise


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
