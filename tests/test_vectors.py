"""The vector store: queue, cache, vec0 kept in step with chunks, claims between processes, model switches.

A deterministic fake embedder stands in for the model here: the subject is the store, not the model.
"""

import hashlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from rlm_mcp.config import Settings
from rlm_mcp.embedding import worker as embedding_worker
from rlm_mcp.errors import Unavailable
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import quantized as bit_index
from rlm_mcp.store import Store, open_backend
from rlm_mcp.store import documents as ddb
from rlm_mcp.store import vectors as vdb
from rlm_mcp.store.rows import NewChunk

from .fakes import FakeEmbedder


def add_document(store: Store, path: str, texts: list[str], replaces: int | None = None) -> int:
    """A document written the way the loader writes one: staging row, chunks, swap."""
    rows = [
        NewChunk(
            i, t, "", "", hashlib.blake2b(t.encode(), digest_size=16).hexdigest(), i + 1, i + 1, None, None
        )
        for i, t in enumerate(texts)
    ]
    with store.write() as conn:
        staging = ddb.insert_staging(conn, Path(path).name, path, "text", 1, path + str(texts), "test")
        ddb.insert_chunks(conn, staging, rows)
        return ddb.finalize(conn, staging, replaces, None)


def vector_rows(store: Store) -> dict[int, tuple[int, bytes]]:
    """Each stored vector as float32 bytes (pgvector gives its floats, vec0 its blob)."""
    if store.backend == "postgres":
        rows = (
            store.conn().execute("SELECT chunk_id, document_id, embedding::real[] FROM chunks_vec").fetchall()
        )
        return {r[0]: (r[1], np.asarray(r[2], dtype=np.float32).tobytes()) for r in rows}
    rows = store.conn().execute("SELECT chunk_id, document_id, embedding FROM chunks_vec").fetchall()
    return {r[0]: (r[1], bytes(r[2])) for r in rows}


def chunk_ids(store: Store, document_id: int) -> dict[str, int]:
    rows = store.conn().execute("SELECT text, id FROM chunks WHERE document_id = ?", (document_id,))
    return {r[0]: r[1] for r in rows}


@pytest.mark.backends
def test_new_chunks_wait_in_the_queue_until_the_worker_embeds_them(store: Store) -> None:
    doc = add_document(store, "/a.txt", ["alpha beta", "gamma delta", "epsilon"])
    assert vdb.backlog(store.conn()) == 3
    result = embedding_worker.embed_all(store, FakeEmbedder())
    assert (result.stored, result.embedded) == (3, 3)
    assert vdb.backlog(store.conn()) == 0
    assert {d for d, _v in vector_rows(store).values()} == {doc}


@pytest.mark.backends
def test_a_changed_chunk_gets_a_new_vector_and_an_unchanged_one_keeps_its_own(store: Store) -> None:
    embedder = FakeEmbedder()
    doc = add_document(store, "/a.txt", ["kept text", "old text"])
    embedding_worker.embed_all(store, embedder)
    before = vector_rows(store)
    kept_vector = before[chunk_ids(store, doc)["kept text"]][1]
    same_doc = add_document(store, "/a.txt", ["kept text", "new text"], replaces=doc)
    assert same_doc == doc
    embedder.embedded.clear()
    result = embedding_worker.embed_all(store, embedder)
    assert embedder.embedded == ["new text"]  # the unchanged chunk's vector came from the cache
    assert (result.stored, result.reused) == (2, 1)
    after = vector_rows(store)
    ids = chunk_ids(store, doc)
    assert set(after) == set(ids.values())  # the old chunks' vectors left with them
    assert after[ids["kept text"]] == (doc, kept_vector)
    assert after[ids["new text"]][1] == embedder.embed_query("new text").tobytes()


@pytest.mark.backends
def test_vectors_follow_a_document_whose_chunks_move_to_another_id(store: Store) -> None:
    doc = add_document(store, "/a.txt", ["one", "two"])
    embedding_worker.embed_all(store, FakeEmbedder())
    with store.write() as conn:
        conn.execute("UPDATE documents SET id = 99 WHERE id = ?", (doc,))
    assert {d for d, _v in vector_rows(store).values()} == {99}
    with store.write() as conn:
        conn.execute("DELETE FROM documents WHERE id = 99")
    assert vector_rows(store) == {}


@pytest.mark.backends
def test_two_workers_never_claim_the_same_chunks(settings: Settings, store: Store) -> None:
    add_document(store, "/a.txt", [f"text {i}" for i in range(10)])
    other = open_backend(settings.db_path, settings.db_url, settings.project_key)  # another process's store
    try:
        with store.write() as conn:
            mine = vdb.claim(conn, "host:1:1", 6, time.time(), 60)
        with other.write() as conn:
            theirs = vdb.claim(conn, "host:2:1", 6, time.time(), 60)
        assert len(mine) == 6 and len(theirs) == 4 and not set(mine) & set(theirs)
        assert mine == sorted(mine) and max(theirs) < min(mine)  # newest chunks first
        with other.write() as conn:
            assert vdb.claim(conn, "host:2:1", 6, time.time(), 60) == []
            assert sorted(vdb.claim(conn, "host:2:1", 20, time.time() + 61, 60)) == sorted(mine + theirs)
    finally:
        other.close()


@pytest.mark.backends
def test_a_failed_batch_goes_back_to_the_queue(store: Store) -> None:
    add_document(store, "/a.txt", ["one", "two"])

    class Broken(FakeEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
            raise RuntimeError("onnx failed")

    embedding_worker.prepare_model(store, Broken())
    with pytest.raises(RuntimeError):
        embedding_worker.embed_batch(store, Broken(), "w")
    rows = store.conn().execute("SELECT claimed_by FROM embed_queue").fetchall()
    assert [r[0] for r in rows] == [None, None]


@pytest.mark.backends
def test_a_model_with_another_dimension_rebuilds_the_table_and_re_embeds_everything(store: Store) -> None:
    add_document(store, "/a.txt", ["one", "two"])
    embedding_worker.embed_all(store, FakeEmbedder("small", 384))
    assert vdb.active_model(store.conn()) == ("small", 384)
    bigger = FakeEmbedder("bigger", 768)
    result = embedding_worker.embed_all(store, bigger)
    assert result.stored == 2 and len(bigger.embedded) == 2
    assert vdb.table_dim(store.conn()) == 768
    assert {len(v) for _d, v in vector_rows(store).values()} == {768 * 4}
    # switching back reuses the first model's cached vectors: no text goes through a model again
    small = FakeEmbedder("small", 384)
    assert embedding_worker.embed_all(store, small).reused == 2 and small.embedded == []


@pytest.mark.backends
def test_a_worker_refuses_to_write_after_another_process_switched_models(store: Store) -> None:
    add_document(store, "/a.txt", ["one"])
    embedding_worker.prepare_model(store, FakeEmbedder("first"))
    with store.write() as conn:
        vdb.switch_model(conn, "second", 384)
    with pytest.raises(Unavailable, match="different embedding model"):
        embedding_worker.embed_batch(store, FakeEmbedder("first"), "w")


@pytest.mark.backends
def test_background_worker_drains_the_queue_after_a_load(
    project: Path, settings: Settings, store: Store, embedder: FakeEmbedder
) -> None:
    (project / "a.txt").write_text("harbour lights at dawn\n\nships in the fog\n")
    worker = embedding_worker.EmbeddingWorker(store, embedder)
    worker.start()
    try:
        load_document(store, settings, "a.txt")
        worker.notify()
        assert worker.drained.wait(10)
        texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks ORDER BY id")]
        assert vdb.backlog(store.conn()) == 0 and worker.running and worker.stored == len(texts) >= 1
        assert sorted(embedder.embedded) == sorted(texts)
    finally:
        assert worker.stop()
    assert not worker.running


@pytest.mark.backends
def test_a_stop_during_a_batch_stores_what_was_embedded_and_releases_the_rest(store: Store) -> None:
    add_document(store, "/a.txt", [f"text number {i}" for i in range(40)])
    stop = threading.Event()

    class StopsAfterOneSlice(FakeEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> NDArray[np.float32]:
            stop.set()  # the server is told to exit while the model is busy with this slice
            return super().embed_documents(texts)

    embedder = StopsAfterOneSlice()
    embedding_worker.prepare_model(store, embedder)
    result = embedding_worker.embed_batch(store, embedder, "w", stop=stop)
    assert result is not None and (result.claimed, result.stored) == (40, embedding_worker.STOP_CHECK_TEXTS)
    queue = store.conn().execute("SELECT count(*), count(claimed_by) FROM embed_queue").fetchone()
    assert tuple(queue) == (40 - embedding_worker.STOP_CHECK_TEXTS, 0)  # nothing left claimed


def test_the_in_memory_binary_index_finds_what_vec0_finds_and_follows_changes(store: Store) -> None:
    embedder = FakeEmbedder()
    texts = [f"word{i} word{i + 1} word{i * 7 % 50}" for i in range(300)]
    doc = add_document(store, "/a.txt", texts)
    other = add_document(store, "/b.txt", ["word3 word4 tail", "unrelated"])
    embedding_worker.embed_all(store, embedder)
    query = embedder.embed_query("word3 word4").tobytes()
    conn = store.conn()
    exact = [c for c, _d in vdb.knn(conn, query, 5, None)]
    cache = bit_index.BitIndexCache()
    assert [c for c, _d in bit_index.knn(store, query, 5, 302, None, "fake", cache) or []] == exact
    index = cache.current(store)
    assert index is not None and len(index.ids) == 302 and cache.current(store) is index
    scoped = index.candidates(embedder.embed_query("word3 word4"), 10, [other])
    assert sorted(scoped) == sorted(chunk_ids(store, other).values())
    with store.write() as w:
        w.execute("DELETE FROM documents WHERE id = ?", (doc,))
    assert len(cache.current(store).ids) == 2  # type: ignore[union-attr]


@pytest.mark.backends
def test_a_restart_takes_over_the_claims_of_a_dead_process_at_once(store: Store) -> None:
    import socket
    import subprocess
    import sys

    add_document(store, "/a.txt", ["one", "two"])
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"{socket.gethostname()}:{gone.stdout.strip()}:1"
    with store.write() as conn:
        assert len(vdb.claim(conn, dead, 10, time.time(), 3600)) == 2
    result = embedding_worker.embed_all(store, FakeEmbedder())
    assert result.stored == 2 and vdb.backlog(store.conn()) == 0
