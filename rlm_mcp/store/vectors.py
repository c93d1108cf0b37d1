"""Vector queries: the embedding cache, the work queue, and vec0 KNN scoped by document.

Triggers (migration 0003) queue every new chunk and keep `chunks_vec` in step when chunks are deleted
or move to another document id (a reload swaps its staging document in under the old id). Vectors are
float32 BLOBs of unit length; the cache is keyed by (content_hash, model), so text embedded once is
never embedded again, whichever chunk or document it turns up in.

On PostgreSQL, chunks_vec is a pgvector table (postgres/vectors.py: exact KNN for small scopes, HNSW
above that), the same triggers live in schema.sql, and batches are leased with SKIP LOCKED.
"""

from collections.abc import Iterable, Sequence

from .connection import Connection
from .postgres import vectors as pg
from .postgres.adapter import is_postgres
from .rows import BitBlock, EmbedInput
from .sql import placeholders
from .sql import scope as _scope

MAX_KNN = 4096  # vec0's largest k
STRIDE_KEY = "embed_stride:"  # + document id, in vector_meta: which chunks of a large table get a vector


# -- which model the stored vectors belong to ------------------------------------------------------


def active_model(conn: Connection) -> tuple[str, int] | None:
    rows = dict(conn.execute("SELECT key, value FROM vector_meta WHERE key IN ('model', 'dim')").fetchall())
    if "model" not in rows:
        return None
    return str(rows["model"]), int(rows["dim"])


def table_dim(conn: Connection) -> int:
    """The dimension chunks_vec was created with (parsed from its schema)."""
    if is_postgres(conn):
        return pg.table_dim(conn)
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_vec'").fetchone()
    start = sql.index("float[") + len("float[")
    return int(sql[start : sql.index("]", start)])


def switch_model(conn: Connection, model: str, dim: int) -> int:
    """Make `model` the store's model (inside a write transaction); returns how many chunks were re-queued.

    Trigger: the vectors stored belong to another model, or none yet. Why: vectors of two models are
    not comparable, and a different dimension does not even fit the table. Outcome: chunks_vec is
    emptied (recreated when the dimension differs) and every chunk waits for a vector again; cached
    vectors of `model` are reused by the worker.
    """
    current = active_model(conn)
    if current == (model, dim):
        return 0
    if table_dim(conn) != dim and is_postgres(conn):
        pg.create_table(conn, dim)
    elif table_dim(conn) != dim:
        conn.execute("DROP TABLE chunks_vec")
        bits = f", embedding_bit bit[{dim}]" if dim % 8 == 0 else ""
        conn.execute(
            f"""CREATE VIRTUAL TABLE chunks_vec USING vec0(chunk_id INTEGER PRIMARY KEY, document_id INTEGER,
                embedding float[{dim}] distance_metric=cosine{bits})"""
        )
    elif current is not None:
        conn.execute("DELETE FROM chunks_vec")
    conn.execute(
        """INSERT INTO vector_meta (key, value) VALUES ('model', ?), ('dim', ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        (model, str(dim)),
    )
    if current is None and conn.execute("SELECT count(*) FROM chunks_vec").fetchone()[0] == 0:
        return 0  # a fresh store: the queue already holds every chunk
    conn.execute("DELETE FROM embed_queue")
    cursor = conn.execute(
        f"""INSERT INTO embed_queue (chunk_id)
            SELECT c.id FROM chunks c LEFT JOIN vector_meta m ON m.key = '{STRIDE_KEY}' || c.document_id
            WHERE m.value IS NULL
               OR (CAST(m.value AS INTEGER) > 0 AND c.ordinal % CAST(m.value AS INTEGER) = 0)"""
    )
    return int(cursor.rowcount)


def sample_embeddings(conn: Connection, document_id: int, limit: int | None) -> tuple[int, int]:
    """Keep at most `limit` of the document's chunks queued, evenly spaced by ordinal (None: all);
    returns (chunks that get a vector, chunks).

    The stride (every k-th chunk by ordinal; 0: none) is kept in vector_meta under STRIDE_KEY + the
    document id, so re-queuing for another model (`switch_model`) keeps to the same sample; a
    document's id survives its reloads and is never reused.
    """
    (total,) = conn.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()
    total = int(total)
    key = f"{STRIDE_KEY}{document_id}"
    if limit is None or total <= limit:
        conn.execute("DELETE FROM vector_meta WHERE key = ?", (key,))
        return total, total
    stride = 0 if limit == 0 else -(-total // limit)
    conn.execute(
        """INSERT INTO vector_meta (key, value) VALUES (?, ?)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        (key, str(stride)),
    )
    conn.execute(
        """DELETE FROM embed_queue WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?
           AND (? = 0 OR ordinal % ? != 0))""",
        (document_id, stride, max(stride, 1)),
    )
    kept = 0 if stride == 0 else -(-total // stride)
    return kept, total


def bump_version(conn: Connection) -> None:
    conn.execute(  # in the SQL both engines share: value is TEXT
        "UPDATE vector_meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'version'"
    )


def vectors_version(conn: Connection) -> int:
    """Changes whenever chunks_vec may have changed (writes here, and the triggers of migration 0003)."""
    row = conn.execute("SELECT value FROM vector_meta WHERE key = 'version'").fetchone()
    return int(row[0]) if row else 0


def has_bits(conn: Connection) -> bool:
    if is_postgres(conn):
        return False  # pgvector's HNSW index is the fast path there
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_vec'").fetchone()
    return "embedding_bit" in sql


# -- the work queue --------------------------------------------------------------------------------


def claim(conn: Connection, worker: str, limit: int, now: float, lease_seconds: float) -> list[int]:
    """Lease up to `limit` waiting chunks to `worker`, newest chunks first (call inside BEGIN IMMEDIATE)."""
    if is_postgres(conn):
        return pg.claim(conn, worker, limit, now, lease_seconds)
    rows = conn.execute(
        """UPDATE embed_queue SET claimed_by = ?, claimed_until = ?
           WHERE chunk_id IN (SELECT chunk_id FROM embed_queue
                              WHERE claimed_until IS NULL OR claimed_until < ?
                              ORDER BY chunk_id DESC LIMIT ?)
           RETURNING chunk_id""",
        (worker, now + lease_seconds, now, limit),
    ).fetchall()
    return sorted(r[0] for r in rows)


def release(conn: Connection, worker: str, chunk_ids: Sequence[int]) -> None:
    """Give claimed chunks back at once (the embedding failed), rather than when the lease lapses."""
    conn.execute(
        f"""UPDATE embed_queue SET claimed_by = NULL, claimed_until = NULL
            WHERE claimed_by = ? AND chunk_id IN ({placeholders(len(chunk_ids))})""",
        (worker, *chunk_ids),
    )


def claimants(conn: Connection) -> list[str]:
    """Workers holding claims now."""
    return [
        str(r[0])
        for r in conn.execute("SELECT DISTINCT claimed_by FROM embed_queue WHERE claimed_by IS NOT NULL")
    ]


def release_all(conn: Connection, worker: str) -> int:
    """Give back every claim of `worker` (a process that is gone: its batch need not wait for the lease)."""
    cursor = conn.execute(
        "UPDATE embed_queue SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?", (worker,)
    )
    return int(cursor.rowcount)


def chunk_texts(conn: Connection, chunk_ids: Sequence[int]) -> list[EmbedInput]:
    rows = conn.execute(
        f"SELECT id, content_hash, text FROM chunks WHERE id IN ({placeholders(len(chunk_ids))}) ORDER BY id",
        tuple(chunk_ids),
    ).fetchall()
    return [EmbedInput(r[0], r[1], r[2]) for r in rows]


def cached_vectors(conn: Connection, model: str, hashes: Iterable[str]) -> dict[str, bytes]:
    wanted = list(dict.fromkeys(hashes))
    found: dict[str, bytes] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for content_hash, vector in conn.execute(
            "SELECT content_hash, vector FROM embeddings WHERE model = ? "
            f"AND content_hash IN ({placeholders(len(part))})",
            (model, *part),
        ):
            found[content_hash] = bytes(vector)
    return found


def save_vectors(
    conn: Connection, worker: str, model: str, vectors: dict[str, bytes], chunk_ids: Sequence[int]
) -> int:
    """Cache `vectors` (by content hash) and give each chunk still claimed by `worker` its vector.

    Call inside BEGIN IMMEDIATE. A chunk deleted meanwhile has left the queue (cascade); one whose lease
    lapsed and went to another worker is left to that worker. Returns how many chunks got a vector.
    """
    conn.executemany(
        "INSERT OR IGNORE INTO embeddings (content_hash, model, vector) VALUES (?, ?, ?)",
        ((h, model, v) for h, v in vectors.items()),
    )
    rows = conn.execute(
        f"""SELECT c.id, c.document_id, c.content_hash FROM embed_queue q JOIN chunks c ON c.id = q.chunk_id
            WHERE q.claimed_by = ? AND q.chunk_id IN ({placeholders(len(chunk_ids))})""",
        (worker, *chunk_ids),
    ).fetchall()
    owned = [r for r in rows if r[2] in vectors]
    done = [r[0] for r in owned]
    if not done:
        return 0
    if is_postgres(conn):
        pg.store_vectors(conn, [(r[0], r[1], vectors[r[2]]) for r in owned])
        conn.execute(f"DELETE FROM embed_queue WHERE chunk_id IN ({placeholders(len(done))})", done)
        bump_version(conn)
        return len(done)
    # one row at a time: vec0 answers `chunk_id IN (...)` with a full scan, `chunk_id = ?` with a lookup
    conn.executemany("DELETE FROM chunks_vec WHERE chunk_id = ?", ((c,) for c in done))
    if has_bits(conn):
        conn.executemany(
            """INSERT INTO chunks_vec (chunk_id, document_id, embedding, embedding_bit)
               VALUES (?, ?, ?, vec_quantize_binary(?))""",
            ((r[0], r[1], vectors[r[2]], vectors[r[2]]) for r in owned),
        )
    else:
        conn.executemany(
            "INSERT INTO chunks_vec (chunk_id, document_id, embedding) VALUES (?, ?, ?)",
            ((r[0], r[1], vectors[r[2]]) for r in owned),
        )
    conn.execute(f"DELETE FROM embed_queue WHERE chunk_id IN ({placeholders(len(done))})", done)
    bump_version(conn)
    return len(done)


# -- how far embedding has got -----------------------------------------------------------------------


def backlog(conn: Connection, document_ids: Sequence[int] | None = None) -> int:
    """Chunks (of ready documents, in the scope) still waiting for a vector."""
    scope, params = _scope(document_ids)
    row = conn.execute(
        f"""SELECT count(*) FROM embed_queue q JOIN chunks c ON c.id = q.chunk_id
            JOIN documents d ON d.id = c.document_id AND d.state = 'ready' WHERE 1 = 1{scope}""",
        params,
    ).fetchone()
    return int(row[0])


def has_backlog(conn: Connection) -> bool:
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM embed_queue)").fetchone()[0])


def count_vectors(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM chunks_vec").fetchone()[0])


def scope_size(conn: Connection, document_ids: Sequence[int] | None) -> int:
    """Chunks in the scope; unscoped, a cheap upper bound (the largest chunk id)."""
    if not document_ids:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()[0])
    scope, params = _scope(document_ids, "document_id")
    return int(conn.execute(f"SELECT count(*) FROM chunks WHERE 1 = 1{scope}", params).fetchone()[0])


# -- KNN ------------------------------------------------------------------------------------------------


def knn(
    conn: Connection, query: bytes, k: int, document_ids: Sequence[int] | None
) -> list[tuple[int, float]]:
    """Exact (brute-force) cosine KNN: (chunk_id, distance), nearest first. On Postgres: exact for a
    small scope, pgvector's HNSW index for a large one (postgres/vectors.py)."""
    if is_postgres(conn):
        return pg.knn(conn, query, k, document_ids)
    scope, params = _scope(document_ids, "document_id")
    rows = conn.execute(
        f"""SELECT chunk_id, distance FROM chunks_vec
            WHERE embedding MATCH ? AND k = ?{scope} ORDER BY distance""",
        (query, min(k, MAX_KNN), *params),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def knn_quantized(
    conn: Connection, query: bytes, k: int, candidates: int, document_ids: Sequence[int] | None, model: str
) -> list[tuple[int, float]]:
    """vec0's own Hamming KNN over the binary vectors for `candidates`, then exact cosine on those."""
    scope, params = _scope(document_ids, "document_id")
    first = conn.execute(
        f"""SELECT chunk_id FROM chunks_vec
            WHERE embedding_bit MATCH vec_quantize_binary(?) AND k = ?{scope}""",
        (query, min(max(candidates, k), MAX_KNN), *params),
    ).fetchall()
    return rescore(conn, query, [int(r[0]) for r in first], k, model)


def rescore(
    conn: Connection, query: bytes, chunk_ids: Sequence[int], k: int, model: str
) -> list[tuple[int, float]]:
    """Exact cosine distance of `chunk_ids` to `query`, best `k` first.

    The exact vectors come from the embeddings cache (a B-tree lookup each), not from vec0, whose
    row-by-row reads cost ~0.25 ms per candidate.
    """
    if not chunk_ids:
        return []
    rows = conn.execute(
        f"""SELECT c.id, vec_distance_cosine(e.vector, ?) AS distance
            FROM chunks c JOIN embeddings e ON e.content_hash = c.content_hash AND e.model = ?
            WHERE c.id IN ({placeholders(len(chunk_ids))}) ORDER BY distance LIMIT ?""",
        (query, model, *chunk_ids, k),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


BIT_LAYOUT_VERSION = ("0", "1")  # sqlite-vec 0.1.x: the shadow-table layout bit_blocks reads


def bit_blocks(conn: Connection) -> list[BitBlock] | None:
    """vec0 storage blocks of 1024 rows: (validity bitmap, rowids, binary vectors, document ids).

    Read straight from vec0's shadow tables (layout of sqlite-vec 0.1.x: vector column 01 is
    embedding_bit, metadata column 00 is document_id), so an in-memory scan needs no per-row reads.
    None when the layout is not the one expected: callers then use vec0's own KNN.
    """
    if is_postgres(conn):
        return None
    info = dict(conn.execute("SELECT key, value FROM chunks_vec_info").fetchall())
    version = (str(info.get("CREATE_VERSION_MAJOR")), str(info.get("CREATE_VERSION_MINOR")))
    if version != BIT_LAYOUT_VERSION or not has_bits(conn):
        return None
    rows = conn.execute(
        """SELECT c.validity, c.rowids, v.vectors, m.data FROM chunks_vec_chunks c
           JOIN chunks_vec_vector_chunks01 v ON v.rowid = c.chunk_id
           JOIN chunks_vec_metadatachunks00 m ON m.rowid = c.chunk_id"""
    ).fetchall()
    return [BitBlock(bytes(r[0]), bytes(r[1]), bytes(r[2]), bytes(r[3])) for r in rows]
