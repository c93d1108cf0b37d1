"""Staging rows: who is loading a path, and what a killed load left behind."""

from ..owners import owner_id, owner_state
from ..store import Store
from ..store import documents as db


def loader_id() -> str:
    return owner_id()


def remove_stale_staging(store: Store, key: str, content_hash: str) -> list[int]:
    """Trigger: a staging row for this path exists. Why: a load was killed (or runs elsewhere).
    Outcome: rows whose loading process is gone on this host are deleted, except those of a load of the
    same bytes, returned so that their chunks are kept (a resume); a live load is left alone."""
    interrupted = []
    with store.write() as conn:
        for row in db.staging_rows(conn, key):
            if owner_state(row.loader) == "running":
                continue
            if row.content_hash == content_hash:
                interrupted.append(row.id)
            else:
                db.delete_document(conn, row.id)
    return interrupted
