"""BM25 over FTS5. User text never reaches FTS5 as syntax: `fts_query` keeps only word tokens and
quotes each one, so quotes, NEAR, `*`, `-` and parentheses are plain words or nothing."""

from ..store import Store
from ..store import search as db
from .results import WORD, SearchResult, hit_from_row

TOTAL_CAP = 1000


def fts_query(text: str) -> str | None:
    """Words of `text`, each quoted, joined with OR (bag-of-words recall, BM25 ranks them)."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words[:64])


def bm25_search(store: Store, query: str, scope: list[int] | None, top_k: int, offset: int) -> SearchResult:
    match = fts_query(query)
    if match is None:
        return SearchResult(query, "bm25", (), offset, 0, note="The query has no words to search for.")
    conn = store.conn()
    ranked = db.bm25_candidates(conn, match, scope, offset + top_k)[offset:]
    rows = db.hit_rows(conn, [chunk_id for chunk_id, _ in ranked])
    snippets = db.bm25_snippets(conn, match, [chunk_id for chunk_id, _ in ranked])  # for the page only
    total = db.bm25_count(conn, match, scope, TOTAL_CAP)
    hits = tuple(
        hit_from_row(rows[chunk_id], score, snippets.get(chunk_id))
        for chunk_id, score in ranked
        if chunk_id in rows
    )
    return SearchResult(query, "bm25", hits, offset, total, total >= TOTAL_CAP)
