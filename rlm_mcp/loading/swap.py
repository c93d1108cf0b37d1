"""The writer thread's part of a document's load: its staging row first, and after its batches the
one transaction that swaps it in for the old version (or, when something failed, its removal)."""

from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store import copies as copies_db
from ..store import documents as db
from .batches import raise_failed
from .results import LoadedDocument
from .reuse import ChunkReuse

if TYPE_CHECKING:
    from .. import data


@dataclass(frozen=True, slots=True)
class Chunked:
    """A document whose chunks are queued: what its swap and its answer need."""

    name: str
    key: str
    kind: str
    size: int
    count: int
    profile: dict[str, Any] | None
    warnings: list[str]


def insert_staging(store: Store, row: tuple[str, str, str, int, str, str]) -> int:
    """The staging row ('loading') the document's batches are written into: (name, path, content type,
    bytes, content hash, owner)."""
    with store.write() as conn:
        return db.insert_staging(conn, *row)


def swap_in(
    stores: tuple[Store, "data.DataCopy"],
    document: tuple["Future[int]", Chunked],
    chunks: tuple[ChunkReuse, list[int], "list[Future[None]]"],
    copies: tuple["data.CopyBuilder | None", "data.BuiltCopy | None"],
) -> LoadedDocument:
    """After the document's batches: one transaction swaps the staging document in (a batch that failed
    fails the document, whose staging row goes)."""
    from .. import data

    store, copy = stores
    staging, doc = document
    reuse, interrupted, written = chunks
    builder, built = copies
    warnings = doc.warnings
    try:
        staging_id = staging.result()
        raise_failed(written)
        with store.write() as wconn:
            old = db.find_ready(wconn, doc.key)
            replaced_copy = copies_db.copy_file(wconn, old.id) if old is not None else None
            kept = reuse.apply(wconn, staging_id)
            changed = doc.count - reuse.kept_from_previous if old is not None else None
            final_id = db.finalize(wconn, staging_id, old.id if old is not None else None, doc.profile)
            for earlier in interrupted:
                db.delete_staging(wconn, earlier)
            if built is not None:
                data.install_copy(copy, wconn, built, final_id)
    except BaseException:
        drop(store, builder, staging, built)
        raise
    data.discard(copy, replaced_copy)  # the old document's copy, let go by the commit above
    if kept > reuse.kept_from_previous:
        warnings.append(
            f"resumed an interrupted load of the same content: {kept - reuse.kept_from_previous} "
            "chunks it had written were kept"
        )
    status = "loaded" if old is None else "updated"
    return LoadedDocument(
        final_id, doc.name, doc.key, doc.kind, doc.size, doc.count, status, changed, doc.profile,
        tuple(warnings),
    )  # fmt: skip


def drop(
    store: Store,
    builder: "data.CopyBuilder | None",
    staging: "Future[int]",
    built: "data.BuiltCopy | None" = None,
) -> None:
    """A document that will not be swapped in: its copy's files (temp or finished) and its staging row go
    (once everything queued for it has run)."""
    if builder is not None:
        builder.discard_temps()
    if built is not None:
        built.discard()
    if staging.done() and staging.exception() is None:
        with store.write() as wconn:
            db.delete_staging(wconn, staging.result())
