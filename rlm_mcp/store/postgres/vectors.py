"""Vectors on PostgreSQL: pgvector's `chunks_vec`, embed batches leased with SKIP LOCKED, and KNN.

KNN is exact (every vector in the scope compared, `cosine_distance`, which no index serves) while
the scope holds at most ANN_ABOVE vectors; above that the HNSW index (cosine) answers, with
pgvector's iterative scan so that a scoped query still returns k rows: the index is walked until k
rows of the scope are found (or MAX_SCAN_TUPLES were visited), and the rows are re-sorted by their
exact distance. The binary-quantized first pass of the SQLite store (search/quantized.py) has no
use here: HNSW replaces it.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from .adapter import PgConnection, native

# Measured at 100k vectors (benchmarks/backends_search.py --knn-only): exact KNN p95 197 ms; HNSW
# recall@10 0.648 at ef_search 200, 0.764 at 400, 0.896 at 1000. Exact stays affordable up to 100k,
# and above it the index walks as deep as pgvector allows.
ANN_ABOVE = 100_000  # vectors in the scope; up to this many, exact KNN
EF_SEARCH = 1000  # HNSW candidates per scan (>= k); recall@10 vs exact: the figures above
MAX_EF_SEARCH = 1000  # pgvector's largest; a deeper page is reached by the iterative scan
MAX_SCAN_TUPLES = 40_000  # iterative scan: how far a scoped query walks the graph before it stops
HNSW_INDEX = "chunks_vec_hnsw"


def table_dim(conn: PgConnection) -> int:
    """The dimension of chunks_vec.embedding (a `vector(n)` column's type modifier is n)."""
    sql = (
        "SELECT atttypmod FROM pg_attribute WHERE attrelid = 'chunks_vec'::regclass AND attname = 'embedding'"
    )
    return int(native(conn).execute(sql).fetchone()[0])


def create_table(conn: PgConnection, dim: int) -> None:
    """chunks_vec for `dim`-dimensional vectors (schema.sql's, with another dimension), emptied."""
    pg = native(conn)
    pg.execute("DROP TABLE IF EXISTS chunks_vec")
    pg.execute(
        f"""CREATE TABLE chunks_vec (
                chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
                document_id BIGINT NOT NULL,
                embedding vector({int(dim)}) NOT NULL,
                CONSTRAINT chunks_vec_follows_document FOREIGN KEY (chunk_id, document_id)
                    REFERENCES chunks (id, document_id) ON UPDATE CASCADE ON DELETE CASCADE)"""
    )
    pg.execute("CREATE INDEX chunks_vec_document ON chunks_vec(document_id)")
    pg.execute(f"CREATE INDEX {HNSW_INDEX} ON chunks_vec USING hnsw (embedding vector_cosine_ops)")


def _floats(vector: bytes) -> list[float]:
    return np.frombuffer(vector, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def claim(conn: PgConnection, worker: str, limit: int, now: float, lease_seconds: float) -> list[int]:
    """Lease up to `limit` waiting chunks, newest first; rows another worker is claiming are skipped,
    never waited for, and never handed to two workers (the lease is re-checked on the locked row)."""
    pg = native(conn)
    rows = pg.execute(
        """UPDATE embed_queue q SET claimed_by = %s, claimed_until = %s
           FROM (SELECT chunk_id FROM embed_queue
                 WHERE claimed_until IS NULL OR claimed_until < %s
                 ORDER BY chunk_id DESC LIMIT %s FOR UPDATE SKIP LOCKED) picked
           WHERE q.chunk_id = picked.chunk_id
           RETURNING q.chunk_id""",
        (worker, now + lease_seconds, now, limit),
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def store_vectors(conn: PgConnection, rows: Sequence[tuple[int, int, bytes]]) -> None:
    """(chunk_id, document_id, float32 vector) into chunks_vec, replacing what a chunk had."""
    pg = native(conn)
    pg.execute("DELETE FROM chunks_vec WHERE chunk_id = ANY(%s)", ([r[0] for r in rows],))
    with pg.cursor() as cur:
        cur.executemany(
            "INSERT INTO chunks_vec (chunk_id, document_id, embedding) VALUES (%s, %s, %s::real[]::vector)",
            [(chunk_id, document_id, _floats(vector)) for chunk_id, document_id, vector in rows],
        )


def _scoped(document_ids: Sequence[int] | None) -> tuple[str, list[Any]]:
    if not document_ids:
        return "", []
    return "WHERE document_id = ANY(%s)", [list(document_ids)]


def scope_vectors(conn: PgConnection, document_ids: Sequence[int] | None) -> int:
    """Vectors in the scope (unscoped: the planner's estimate, which is what the choice needs)."""
    pg = native(conn)
    if not document_ids:
        sql = "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'chunks_vec'::regclass"
        estimate = int(pg.execute(sql).fetchone()[0])
        if estimate > 0:
            return estimate
    where, params = _scoped(document_ids)
    return int(pg.execute(f"SELECT count(*) FROM chunks_vec {where}", params).fetchone()[0])


def knn(
    conn: PgConnection, query: bytes, k: int, document_ids: Sequence[int] | None
) -> list[tuple[int, float]]:
    """(chunk_id, cosine distance) of the k nearest vectors in the scope, nearest first."""
    if scope_vectors(conn, document_ids) <= ANN_ABOVE:
        return knn_exact(conn, query, k, document_ids)
    return knn_hnsw(conn, query, k, document_ids)


def knn_exact(
    conn: PgConnection, query: bytes, k: int, document_ids: Sequence[int] | None
) -> list[tuple[int, float]]:
    where, params = _scoped(document_ids)
    pg = native(conn)
    rows = pg.execute(
        f"""SELECT chunk_id, cosine_distance(embedding, %s::real[]::vector) AS distance
            FROM chunks_vec {where} ORDER BY distance, chunk_id LIMIT %s""",
        [_floats(query), *params, k],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def knn_hnsw(
    conn: PgConnection,
    query: bytes,
    k: int,
    document_ids: Sequence[int] | None,
    ef_search: int = EF_SEARCH,
) -> list[tuple[int, float]]:
    """The HNSW index's k nearest, walked on (iterative scan) until k rows of the scope are found."""
    pg = native(conn)
    where, params = _scoped(document_ids)
    with pg.transaction():  # SET LOCAL lasts for this block only (a savepoint inside a caller's one)
        pg.execute(f"SET LOCAL hnsw.ef_search = {min(max(ef_search, int(k)), MAX_EF_SEARCH)}")
        pg.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        pg.execute(f"SET LOCAL hnsw.max_scan_tuples = {MAX_SCAN_TUPLES}")
        rows = pg.execute(
            f"""SELECT chunk_id, distance FROM (
                    SELECT chunk_id, embedding <=> %s::real[]::vector AS distance FROM chunks_vec {where}
                    ORDER BY distance LIMIT %s) nearest
                ORDER BY distance, chunk_id""",
            [_floats(query), *params, k],
        ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]
