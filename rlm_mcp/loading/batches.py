"""Chunks into the store in batches: growing batch sizes, and a writer thread that overlaps indexing
with chunking; plus the throttled progress a long load reports."""

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from ..chunking import Chunk
from ..errors import Cancelled
from ..store import Store
from ..store import documents as db
from ..store.rows import NewChunk

ProgressFn = Callable[[float, float, str], None]
FIRST_BATCH_CHUNKS = 128  # small first batches: a small file still overlaps chunking and indexing
MAX_BATCH_CHUNKS = 4096  # large later ones: FTS5 indexes a few MB per transaction 40 % faster than 300 KB
MAX_BATCH_CHARS = 4_000_000
MAX_BATCHES_IN_FLIGHT = 2
PROGRESS_INTERVAL_SECONDS = 0.5
T = TypeVar("T")
WRITER_CACHE_KB = 16384  # the writer's page cache (SQLite's default: 2 MB), for a large load's index pages


def chunk_row(ordinal: int, chunk: Chunk) -> NewChunk:
    digest = hashlib.blake2b(chunk.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return NewChunk(
        ordinal,
        chunk.text,
        chunk.context,
        chunk.section,
        digest,
        chunk.start_line,
        chunk.end_line,
        chunk.start_row,
        chunk.end_row,
    )


class BatchSizes:
    """The size of the next batch, shared by the documents of one load.

    Trigger: a load of many files. Why: each batch is a transaction and an FTS5 segment, and a book
    of 500 chunks cut 128 + 256 + 116 wrote three segments that automerge merged again. Outcome:
    sizes double from FIRST_BATCH_CHUNKS over the whole load, so later documents go in one batch.
    """

    def __init__(self) -> None:
        self.limit = FIRST_BATCH_CHUNKS

    def grow(self) -> None:
        self.limit = min(self.limit * 2, MAX_BATCH_CHUNKS)


def batches(chunks: Iterator[Chunk], sizes: BatchSizes | None = None) -> Iterator[list[Chunk]]:
    """Batches that double in size from FIRST_BATCH_CHUNKS up to MAX_BATCH_CHUNKS or MAX_BATCH_CHARS."""
    sizes = sizes or BatchSizes()
    batch: list[Chunk] = []
    chars = 0
    for chunk in chunks:
        batch.append(chunk)
        chars += len(chunk.text)
        if len(batch) >= sizes.limit or chars >= MAX_BATCH_CHARS:
            yield batch
            batch, chars = [], 0
            sizes.grow()
    if batch:
        yield batch


class BatchWriter:
    """Writes batches of chunks in a second thread while the next batch is being chunked.

    SQLite releases the GIL while it indexes, so chunking and indexing overlap on two cores. At most
    MAX_BATCHES_IN_FLIGHT batches wait, so memory stays bounded. One writer (its thread and its
    connection) serves every document of a load, in order: a document's staging row (`call`), its
    batches, then the transaction that swaps it in, while the next document is already being chunked.
    Errors stay in their futures, for their documents (see `raise_failed`).
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rlm-load")
        self._in_flight: list[Future[None]] = []
        self._all: list[Future[Any]] = []
        self._configured = False
        self.sizes = BatchSizes()

    def __enter__(self) -> "BatchWriter":
        return self

    def write(self, staging: "Future[int]", rows: list[NewChunk]) -> "Future[None]":
        future = self.call(self._insert, staging, rows)
        self._in_flight.append(future)
        while len(self._in_flight) > MAX_BATCHES_IN_FLIGHT:
            wait([self._in_flight.pop(0)])
        return future

    def _insert(self, staging: "Future[int]", rows: list[NewChunk]) -> None:
        document_id = staging.result()  # done: it ran before this batch, in this thread
        if not self._configured and self._store.backend == "sqlite":
            self._store.conn().execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")
        self._configured = True
        with self._store.write() as conn:
            db.insert_chunks(conn, document_id, rows)

    def call(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        """Run `fn` in the writer thread after everything queued before it."""
        future = self._pool.submit(fn, *args)
        self._all.append(future)
        return future

    def drain(self) -> None:
        """Wait for everything queued so far (errors stay in their futures)."""
        pending, self._all, self._in_flight = self._all, [], []
        wait(pending)

    def __exit__(self, *exc: object) -> None:
        try:
            self.drain()
        finally:
            self._pool.submit(self._store.release_thread).result()
            self._pool.shutdown()


def raise_failed(written: "list[Future[None]]") -> None:
    """Raise the error of the first of a document's batches that failed (all are done by then)."""
    for batch in written:
        error = batch.exception()
        if error is not None:
            raise error


class Progress:
    """Throttled progress: bytes done of bytes total, at most every PROGRESS_INTERVAL_SECONDS; and the
    point where a cancelled load stops (after every batch and every file: see `check`)."""

    def __init__(
        self, callback: ProgressFn | None, total: int, cancel: threading.Event | None = None
    ) -> None:
        self._callback = callback
        self._total = max(total, 1)
        self._done = 0
        self._last = 0.0
        self._cancel = cancel

    def check(self) -> None:
        """Trigger: the request was cancelled. Why: a load nobody waits for must not keep a core busy.
        Outcome: Cancelled is raised; the load's staging rows are removed, the store is as before."""
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled("load_document was cancelled by the caller; nothing of it was kept.")

    def advance(self, size: int, message: str) -> None:
        self.check()
        self._done += size
        now = time.monotonic()
        if self._callback is not None and (
            now - self._last >= PROGRESS_INTERVAL_SECONDS or self._done >= self._total
        ):
            self._last = now
            self._callback(float(self._done), float(self._total), message)
