"""Embedding as background work: claim a batch of queued chunks, embed what is not cached, store.

`load_document` returns once BM25 is ready; the chunks it wrote wait in `embed_queue` (a trigger puts
them there). A worker thread in the server, or `rlm-mcp embed` in the foreground, drains the queue in
batches, newest chunks first. A batch is claimed in one BEGIN IMMEDIATE transaction with a lease, so
two processes sharing the database never embed the same chunks, and a crashed worker's batch comes
back when its lease lapses. Text whose content hash was embedded before reuses the cached vector.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import RlmError, Unavailable
from ..owners import owner_id, owner_state
from ..store import Store
from ..store import vectors as vdb

if TYPE_CHECKING:  # embed imports numpy; the server imports this module before its first answer
    from .model import Embedder

log = logging.getLogger(__name__)

CLAIM_BATCH = 64
LEASE_SECONDS = 120.0
IDLE_POLL_SECONDS = 30.0  # also picks up work another process queued and left
ERROR_BACKOFF_SECONDS = 5.0
EMBEDDING_THREAD = "rlm-embedding"
STOP_CHECK_TEXTS = 16  # texts per model call: a stop waits for one such call at most (~0.1–1 s)
STOP_SECONDS = 10.0  # how long `stop` waits for the thread (the model is loading, or a slow slice)

ProgressFn = Callable[[int, int], None]  # (chunks done so far, chunks waiting when it started)


@dataclass(frozen=True, slots=True)
class BatchResult:
    claimed: int
    embedded: int  # distinct texts run through the model
    reused: int  # chunks whose vector came from the cache
    stored: int  # chunks that got a vector


def worker_id() -> str:
    return owner_id(with_thread=True)


def prepare_model(store: Store, embedder: "Embedder") -> int:
    """Make the embedder's model the store's; returns how many chunks were queued again for it."""
    with store.write() as conn:
        requeued = vdb.switch_model(conn, embedder.model_id, embedder.dim)
        for claimant in vdb.claimants(conn):
            if owner_state(claimant) == "gone":  # a restart resumes at once, not when the claims lapse
                vdb.release_all(conn, claimant)
    if requeued:
        log.warning(
            "vectors in %s belong to another model: re-embedding %d chunks with %s",
            store.location,
            requeued,
            embedder.model_id,
        )
    return requeued


def embed_batch(
    store: Store,
    embedder: "Embedder",
    worker: str,
    limit: int = CLAIM_BATCH,
    stop: threading.Event | None = None,
) -> BatchResult | None:
    """Claim, embed and store one batch; None when nothing is waiting.

    A `stop` set meanwhile ends the batch after the slice being embedded: what was embedded is stored
    and the rest of the claim is released at once, so a stopping server leaves nothing claimed.
    """
    with store.write() as conn:
        ids = vdb.claim(conn, worker, limit, time.time(), LEASE_SECONDS)
    if not ids:
        return None
    log.debug("embedding batch: %d chunks claimed by %s", len(ids), worker)
    try:
        conn = store.conn()
        rows = vdb.chunk_texts(conn, ids)
        vectors = vdb.cached_vectors(conn, embedder.model_id, (r.content_hash for r in rows))
        todo: dict[str, str] = {}
        for row in rows:
            if row.content_hash not in vectors:
                todo.setdefault(row.content_hash, row.text)
        embedded = _embed_texts(embedder, todo, stop)
        vectors.update(embedded)
        with store.write() as conn:
            if vdb.active_model(conn) != (embedder.model_id, embedder.dim):
                raise Unavailable(
                    "Another process switched the store to a different embedding model; "
                    "stopping so vectors of two models never mix."
                )
            stored = vdb.save_vectors(conn, worker, embedder.model_id, vectors, ids)
            vdb.release(conn, worker, ids)  # what a stop left unembedded
    except BaseException:
        with store.write() as conn:
            vdb.release(conn, worker, ids)
        raise
    reused = sum(1 for r in rows if r.content_hash not in todo)
    return BatchResult(len(ids), len(embedded), reused, stored)


def _embed_texts(
    embedder: "Embedder", todo: dict[str, str], stop: threading.Event | None
) -> dict[str, bytes]:
    """Vectors by content hash, a slice at a time, similar lengths together (less padding)."""
    hashes = sorted(todo, key=lambda h: len(todo[h]))
    vectors: dict[str, bytes] = {}
    for start in range(0, len(hashes), STOP_CHECK_TEXTS):
        if stop is not None and stop.is_set():
            break
        part = hashes[start : start + STOP_CHECK_TEXTS]
        matrix = embedder.embed_documents([todo[h] for h in part])
        vectors.update((h, matrix[i].tobytes()) for i, h in enumerate(part))
    return vectors


def embed_all(
    store: Store,
    embedder: "Embedder",
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> BatchResult:
    """Drain the queue in this thread (the `rlm-mcp embed` command, tests); returns the totals."""
    prepare_model(store, embedder)
    waiting = vdb.backlog(store.conn())
    worker = worker_id()
    claimed = embedded = reused = stored = 0
    while stop is None or not stop.is_set():
        result = embed_batch(store, embedder, worker, stop=stop)
        if result is None:
            break
        claimed += result.claimed
        embedded += result.embedded
        reused += result.reused
        stored += result.stored
        if progress is not None:
            progress(stored, waiting)
    return BatchResult(claimed, embedded, reused, stored)


class EmbeddingWorker:
    """A thread draining the queue; `notify()` after a load wakes it at once, `stop()` ends it.

    The `Workspace` owns it: started with the store on the server's first tool call, stopped and
    joined when the server exits (a thread left inside onnxruntime at exit aborts the process).
    """

    def __init__(self, store: Store, embedder: "Embedder") -> None:
        self.store = store
        self.embedder = embedder
        self.claimant = worker_id()  # set again in the thread: the id names the thread
        self.error: str | None = None
        self.stored = 0
        self.drained = threading.Event()  # set while nothing is waiting (what tests and `stop` wait on)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if not self.running and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name=EMBEDDING_THREAD, daemon=True)
                self._thread.start()

    def notify(self) -> None:
        with self._lock:
            self.drained.clear()
            self._wake.set()

    def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Stop after the current slice, wait up to `timeout`; True when the thread has ended.

        Trigger: the thread is still inside the model after `timeout` (a slow machine, a model still
        loading). Why: its claim would otherwise wait LEASE_SECONDS. Outcome: the claim is released
        here; whatever the thread stores later is still correct (vectors by content hash).
        """
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.running:
            return True
        with self.store.write() as conn:
            vdb.release_all(conn, self.claimant)
        log.warning("the embedding thread did not stop within %.0f s; its batch was released", timeout)
        return False

    def _run(self) -> None:
        try:
            prepare_model(self.store, self.embedder)
        except Unavailable as error:
            self.error = str(error)
            log.warning("background embedding is off: %s", error)
            return
        self.claimant = worker_id()
        while not self._stop.is_set():
            try:
                result = embed_batch(self.store, self.embedder, self.claimant, stop=self._stop)
            except Unavailable as error:
                self.error = str(error)
                log.warning("background embedding stopped: %s", error)
                return
            except Exception:  # the thread's top-level boundary: log, back off, keep serving
                log.exception("embedding batch failed; retrying in %.0f s", ERROR_BACKOFF_SECONDS)
                self._stop.wait(ERROR_BACKOFF_SECONDS)
                continue
            if result is not None:
                self.stored += result.stored
                self.error = None
                continue
            with self._lock:  # drained only if no load has notified since this claim found nothing
                if not self._wake.is_set():
                    self.drained.set()
            self._wake.wait(IDLE_POLL_SECONDS)
            self._wake.clear()

    def describe(self) -> dict[str, Any]:
        state = "running" if self.running else ("failed" if self.error else "stopped")
        data: dict[str, Any] = {"worker": state, "embedded_by_this_process": self.stored}
        if self.error:
            data["error"] = self.error
        return data


def vector_status(store: Store, settings: Settings, worker: EmbeddingWorker | None = None) -> dict[str, Any]:
    """For `status`: the model, whether it can load here, vectors stored, backlog, this process's worker."""
    from .model import DEFAULT_MODEL_ID, pinned_model_file, resolve_model

    conn = store.conn()
    data: dict[str, Any] = {"model": settings.embed_model or DEFAULT_MODEL_ID}
    try:
        spec = resolve_model(settings.embed_model)
        if spec.pinned:
            pinned_model_file()  # present, and the SHA-256 matches
        data |= {"model": spec.model_id, "dim": spec.dim, "model_available": True}
    except RlmError as error:
        data |= {"model_available": False, "model_error": str(error)}
    active = vdb.active_model(conn)
    if active is not None and active[0] != data["model"]:
        data["stored_model"] = active[0]
    data["vectors"] = vdb.count_vectors(conn)
    data["waiting"] = vdb.backlog(conn)
    data |= worker.describe() if worker is not None else {"worker": "none in this process"}
    return data


@dataclass(frozen=True, slots=True)
class EmbedReport:
    """The answer of `rlm-mcp embed`: what was embedded in the foreground."""

    model: str
    requeued: int
    result: BatchResult
    waiting: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "requeued": self.requeued,
            "chunks": self.result.stored,
            "embedded": self.result.embedded,
            "reused": self.result.reused,
            "waiting": self.waiting,
            "seconds": round(self.seconds, 2),
        }

    def to_text(self) -> str:
        r = self.result
        rate = r.stored / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"Embedded {r.stored} chunks with {self.model} in {self.seconds:.1f} s ({rate:.1f}/s): "
            f"{r.embedded} texts through the model, {r.reused} vectors reused from the cache."
        ]
        if self.requeued:
            lines.append(f"The store held vectors of another model: {self.requeued} chunks were re-embedded.")
        if self.waiting:
            lines.append(f"{self.waiting} chunks are still waiting (claimed by another process, or stopped).")
        lines.append("Next: search_chunks(query) uses hybrid search over the complete vectors.")
        return "\n".join(lines)


def embed_pending(store: Store, embedder: "Embedder", progress: ProgressFn | None = None) -> EmbedReport:
    """Embed every waiting chunk now, in this thread (the `rlm-mcp embed` command)."""
    started = time.monotonic()
    requeued = prepare_model(store, embedder)
    result = embed_all(store, embedder, progress)
    waiting = vdb.backlog(store.conn())
    return EmbedReport(embedder.model_id, requeued, result, waiting, time.monotonic() - started)
