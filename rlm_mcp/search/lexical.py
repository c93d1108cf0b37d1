"""BM25 over FTS5. User text never reaches FTS5 as syntax: `fts_query` keeps only word tokens and
quotes each one, so quotes, NEAR, `*`, `-` and parentheses are plain words or nothing."""

import re
from collections.abc import Sequence

from ..store import Store
from ..store import search as db
from . import bm25
from .results import WORD, SearchResult, hit_from_row

TOTAL_CAP = 1000
MAX_WORDS = 64
QUOTED = re.compile(r'"((?:[^"]|"")*)"')


def fts_query(text: str) -> str | None:
    """Words of `text`, each quoted, joined with OR (bag-of-words recall, BM25 ranks them)."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    if not words:
        return None
    return bm25.quote(words[:MAX_WORDS])


def bm25_candidates(
    store: Store, match: str, scope: Sequence[int] | None, limit: int
) -> list[tuple[int, float]]:
    """(id, -bm25) of the best `limit` ready chunks for `match` (an `fts_query`), best first: FTS5's
    own ranking, without scoring every chunk that holds a query word (search/bm25.py)."""
    if store.backend == "postgres":  # its own exact top k from stored term statistics, not FTS5's
        return db.bm25_candidates(store.conn(), match, scope, limit)
    words = [w.replace('""', '"') for w in QUOTED.findall(match)]
    return bm25.top_k(store, words, scope, limit)


def bm25_search(store: Store, query: str, scope: list[int] | None, top_k: int, offset: int) -> SearchResult:
    match = fts_query(query)
    if match is None:
        return SearchResult(query, "bm25", (), offset, 0, note="The query has no words to search for.")
    conn = store.conn()
    ranked = bm25_candidates(store, match, scope, offset + top_k)[offset:]
    rows = db.hit_rows(conn, [chunk_id for chunk_id, _ in ranked])
    snippets = db.bm25_snippets(conn, match, [chunk_id for chunk_id, _ in ranked])  # for the page only
    total = db.bm25_count(conn, match, scope, TOTAL_CAP)
    hits = tuple(
        hit_from_row(rows[chunk_id], score, snippets.get(chunk_id))
        for chunk_id, score in ranked
        if chunk_id in rows
    )
    return SearchResult(query, "bm25", hits, offset, total, total >= TOTAL_CAP)
