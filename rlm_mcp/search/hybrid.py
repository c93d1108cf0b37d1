"""The `semantic` and `hybrid` modes of search_chunks.

semantic: the query's vector against chunk vectors, vec0 KNN scoped by document inside the query
(exact brute force; past QUANTIZE_ABOVE vectors a binary-quantized first pass, then exact cosine on
its candidates). hybrid: the top CANDIDATES of BM25 and of the vectors, fused (min-max or RRF). While
embeddings are incomplete, hybrid says what share of the scope has vectors; with none, both modes
answer with BM25 and say why.
"""

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..embedding.model import Embedder
from ..errors import Unavailable
from ..store import Store
from ..store import documents as documents_db
from ..store import search as search_db
from ..store import vectors as vdb
from .fusion import RRF_K, Fused, FusionMethod, fuse, minmax
from .lexical import bm25_candidates, bm25_search, fts_query
from .quantized import BitIndexCache
from .quantized import knn as bit_knn
from .results import WORD, SearchResult, hit_from_row

log = logging.getLogger(__name__)

CANDIDATES = 100  # per list, before fusion
DEFAULT_FUSION: FusionMethod = "minmax"
QUANTIZE_ABOVE = 50_000  # vectors in scope; below this, exact KNN is fast enough (~30 ms per 100k idle)
QUANTIZED_CANDIDATES = 400  # first-pass hamming candidates rescored exactly (vec0's cost grows with k)
PRUNE_ABOVE = 50_000  # chunks in scope; from here hybrid's BM25 list leaves out the commonest words
COMMON_SHARE = 0.05
STAGING_SLACK = 8  # KNN may return chunks of documents still loading; ask for a few more
# Min-max fusion's semantic share per content type (BM25 gets the rest; other types 0.5, equal
# weights). Code: natural-language queries share few words with code, so BM25 is the weaker list
# (benchmarks/fusion.py, stdlib code benchmark: see the README's design notes).
SEMANTIC_SHARE = {"code": 0.6}
# Lucene's English stopwords: dropped from hybrid's BM25 candidate query, same quality (SciFact) and
# 2.5x faster, since FTS5 scores every chunk holding any query word and these are in almost all of them.
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there "  # noqa: SIM905
    "these they this to was will with".split()
)


@dataclass(frozen=True, slots=True)
class Vectors:
    """The vector side of one query: ranked (chunk_id, cosine similarity), and a note when partial."""

    ranked: list[tuple[int, float]]
    note: str | None


def vector_search(
    store: Store,
    query: str,
    mode: str,
    scope: list[int] | None,
    top_k: int,
    offset: int,
    embedder: Embedder | None,
    fusion: FusionMethod = DEFAULT_FUSION,
    rrf_k: float = RRF_K,
    bit_indexes: BitIndexCache | None = None,
) -> SearchResult:
    want = offset + top_k
    try:
        vectors = vector_candidates(store, query, scope, max(CANDIDATES, want), embedder, bit_indexes)
    except Unavailable as error:
        fallback = bm25_search(store, query, scope, top_k, offset)
        note = f"{mode} search answered with BM25 only: {error}"
        return SearchResult(
            query, "bm25", fallback.hits, offset, fallback.total, fallback.total_is_lower_bound, note
        )
    if mode == "semantic":
        return _semantic(store, query, vectors, top_k, offset)
    return _hybrid(store, query, scope, vectors, top_k, offset, fusion, rrf_k)


def vector_candidates(
    store: Store,
    query: str,
    scope: Sequence[int] | None,
    k: int,
    embedder: Embedder | None,
    bit_indexes: BitIndexCache | None = None,
) -> Vectors:
    """KNN for `query`; raises Unavailable (with the reason) when no vectors can answer.
    `embedder` None: the caller has no model (vectors cannot be compared with the query)."""
    conn = store.conn()
    active = vdb.active_model(conn)
    if active is None:
        raise Unavailable(_no_vectors_reason(store, scope))
    if embedder is None:
        raise Unavailable("no embedding model was given to this search")
    if active != (embedder.model_id, embedder.dim):
        raise Unavailable(
            f"the stored vectors come from {active[0]}, not {embedder.model_id}; "
            "run `rlm-mcp embed` to re-embed them with this model"
        )
    query_vector = embedder.embed_query(query).tobytes()
    size = vdb.scope_size(conn, scope)
    rows = None
    if size > QUANTIZE_ABOVE and store.backend == "sqlite":  # Postgres: its HNSW index (store/vectors.knn)
        rows = bit_knn(
            store,
            query_vector,
            k + STAGING_SLACK,
            QUANTIZED_CANDIDATES,
            scope,
            embedder.model_id,
            bit_indexes,
        )
    if rows is None:
        rows = vdb.knn(conn, query_vector, k + STAGING_SLACK, scope)
    if not rows:  # checked after the KNN, which is quick when empty: counting vec0 rows is a full scan
        raise Unavailable(_no_vectors_reason(store, scope))
    return Vectors([(chunk_id, 1.0 - distance) for chunk_id, distance in rows], _coverage_note(store, scope))


def _no_vectors_reason(store: Store, scope: Sequence[int] | None) -> str:
    waiting = vdb.backlog(store.conn(), scope)
    if waiting:
        return (
            f"embeddings are still being computed ({waiting} chunks waiting); try again shortly, "
            "or run `rlm-mcp embed` to finish them now"
        )
    return "no chunk in the scope has a vector yet; run `rlm-mcp embed`"


def _coverage_note(store: Store, scope: Sequence[int] | None) -> str | None:
    conn = store.conn()
    if not vdb.has_backlog(conn):
        return None
    waiting = vdb.backlog(conn, scope)
    if waiting == 0:
        return None
    total = search_db.count_scope(conn, list(scope) if scope else None)
    share = 100.0 * (total - waiting) / total if total else 0.0
    return (
        f"Embeddings cover {share:.0f}% of the scope ({waiting} of {total} chunks still waiting); "
        "chunks without a vector are found by BM25 only until then."
    )


def _semantic(store: Store, query: str, vectors: Vectors, top_k: int, offset: int) -> SearchResult:
    rows = search_db.hit_rows(store.conn(), [c for c, _s in vectors.ranked])
    ranked = [(c, s) for c, s in vectors.ranked if c in rows]
    page = ranked[offset : offset + top_k]
    hits = tuple(
        hit_from_row(rows[c], s, None, {"semantic": offset + i + 1}) for i, (c, s) in enumerate(page)
    )
    return SearchResult(query, "semantic", hits, offset, len(ranked), len(ranked) >= CANDIDATES, vectors.note)


def _hybrid(
    store: Store,
    query: str,
    scope: list[int] | None,
    vectors: Vectors,
    top_k: int,
    offset: int,
    fusion: FusionMethod,
    rrf_k: float,
) -> SearchResult:
    conn = store.conn()
    match = candidate_query(query, conn, vdb.scope_size(conn, scope))
    bm25 = bm25_candidates(store, match, scope, CANDIDATES) if match else []
    # every candidate's row up front: its content type picks its fusion weights; a chunk of a
    # document still loading has no row and is skipped
    rows = search_db.hit_rows(conn, list(dict.fromkeys(c for c, _s in (*bm25, *vectors.ranked))))
    fused = fuse_candidates(bm25, vectors.ranked, _content_types(conn, rows), fusion, rrf_k)
    page = [f for f in fused if f.id in rows][offset : offset + top_k]
    snippets = (
        search_db.bm25_snippets(conn, match, [f.id for f in page if f.id in dict(bm25)]) if match else {}
    )
    hits = tuple(hit_from_row(rows[f.id], f.score, snippets.get(f.id), dict(f.ranks)) for f in page)
    return SearchResult(query, "hybrid", hits, offset, len(fused), False, vectors.note)


def fuse_candidates(
    bm25: Sequence[tuple[int, float]],
    semantic: Sequence[tuple[int, float]],
    content_types: Mapping[int, str],
    fusion: FusionMethod = DEFAULT_FUSION,
    rrf_k: float = RRF_K,
) -> list[Fused]:
    """Hybrid's fusion of its two lists; min-max weighs each chunk's two scores by its content type
    (SEMANTIC_SHARE), the weights adding up to 2 as equal weights do, so scores stay comparable."""
    lists = {"bm25": bm25, "semantic": semantic}
    if fusion != "minmax":
        return fuse(lists, fusion, rrf_k)
    weights = {
        chunk: {"bm25": 2 * (1 - share), "semantic": 2 * share}
        for chunk, kind in content_types.items()
        if (share := SEMANTIC_SHARE.get(kind)) is not None
    }
    return minmax(lists, item_weights=weights)


def _content_types(conn: Any, rows: Mapping[int, Any]) -> dict[int, str]:
    kinds = documents_db.ready_content_types(conn, [row.document_id for row in rows.values()])
    return {chunk: kinds[row.document_id] for chunk, row in rows.items() if row.document_id in kinds}


def candidate_query(query: str, conn: Any = None, chunks: int = 0) -> str | None:
    """FTS5 query for hybrid's BM25 list: the words of `query` less stopwords (all words if none remain).

    Trigger: more than PRUNE_ABOVE chunks. Why: FTS5 ranks every chunk that holds any query word, so a
    word found in most chunks costs seconds at 1M chunks while adding little (its idf is near zero).
    Outcome: words in COMMON_SHARE of the chunks or more are left out, unless none would remain.
    """
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(query) if w.lower() not in STOPWORDS))
    if conn is not None and chunks > PRUNE_ABOVE and len(words) > 1:
        cap = int(chunks * COMMON_SHARE)
        rare = [w for w in words if not search_db.matches_at_least(conn, fts_query(w) or "", cap)]
        words = rare or words
    return fts_query(" ".join(words)) if words else fts_query(query)
