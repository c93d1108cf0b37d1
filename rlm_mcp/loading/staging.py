"""Staging rows: who is loading a path, and what a killed load left behind.

Every load has an owner identity of its own (`host:pid:token`), so two loads in one process are told
apart; within a process, loads of the same path also take turns (a per-path lock), so the second
finds the first's document ready (usually `unchanged`) instead of adopting and deleting its rows.
"""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import Conflict
from ..owners import owner_id, owner_state
from ..store import Store
from ..store import documents as db

PATH_WAIT_SECONDS = 900.0  # a second load of one path waits this long for the first, then gives up

_active: set[str] = set()  # owner ids of the loads running in this process
_path_locks: dict[str, tuple[threading.Lock, int]] = {}  # path -> (lock, holders and waiters)
_guard = threading.Lock()


def loader_id() -> str:
    """A new owner identity for one load: host, process and a token unique to the load."""
    return f"{owner_id()}:{uuid.uuid4().hex[:12]}"


@contextmanager
def loading_path(key: str, wait_seconds: float = PATH_WAIT_SECONDS) -> Iterator[str]:
    """Hold the path for one load in this process; yields the load's owner id."""
    with _guard:
        lock, users = _path_locks.get(key, (threading.Lock(), 0))
        _path_locks[key] = (lock, users + 1)
    try:
        if not lock.acquire(timeout=wait_seconds):
            raise Conflict(
                f"{key} is already being loaded by another call, which has not finished after "
                f"{wait_seconds:g} s. status shows loads under way; call load_document again later."
            )
        owner = loader_id()
        _active.add(owner)
        try:
            yield owner
        finally:
            _active.discard(owner)
            lock.release()
    finally:
        with _guard:
            lock, users = _path_locks[key]
            if users <= 1:
                del _path_locks[key]
            else:
                _path_locks[key] = (lock, users - 1)


def remove_stale_staging(store: Store, key: str, content_hash: str) -> list[int]:
    """Trigger: a staging row for this path exists. Why: a load was killed (or runs elsewhere).
    Outcome: rows whose load is over (its process gone, or this process without that load running)
    are deleted, except those of a load of the same bytes, returned so that their chunks are kept
    (a resume); a live load's rows are left alone.

    A path without staging rows (the common case) is told by a read alone: a write transaction here
    waits for the batch the writer thread is committing (the previous document's), and SQLite's busy
    handler sleeps while it waits (1.1-1.5 s of a 4 s load of the 40 books). A row that another load
    commits after the read is that load's, live, and would be left alone all the same."""
    if not db.staging_rows(store.conn(), key):
        return []
    interrupted = []
    with store.write() as conn:
        for row in db.staging_rows(conn, key):
            if _live(row.loader):
                continue
            if row.content_hash == content_hash:
                interrupted.append(row.id)
            else:
                db.delete_staging(conn, row.id)
    return interrupted


def _live(owner: str | None) -> bool:
    """Whether the load that wrote a staging row may still be running: another live process's, or
    one of this process's loads under way (a row of this process with no such load is a leftover)."""
    state = owner_state(owner)
    if state == "this process":
        return owner in _active
    return state == "running"
