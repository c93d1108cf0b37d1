"""BM25's top k without FTS5 scoring every chunk that holds a query word: FTS5's ranking, exactly.

`ORDER BY bm25(chunks_fts)` costs some microseconds for every row that holds any query word (its
instances, a docsize lookup, the sort): at a million chunks a word like "with" is in hundreds of
thousands of them and a query takes seconds. Here the same sum is computed over arrays: each
query token's postings (row ids and counts, read from FTS5's own index through fts5vocab) and every
row's length (FTS5's docsize table), scored with numpy in one pass per phrase.

The answer is FTS5's own: the same phrases (one per query word, duplicates kept), the same idf
(rows of the whole index, staging rows included, as xQueryPhrase counts them), and for the hits the
very arithmetic of fts5_aux.c's fts5Bm25Function, term for term, on counts from FTS5's tokenizer;
so ids, order and scores equal `ORDER BY bm25()` (ties aside). Phrases in half the rows or more
get FTS5's floor idf (1e-6); their postings are never read: they move a score by at most
`2.2e-6` each, so every chunk within that of the k-th best is rescored exactly, its text
tokenized by FTS5's tokenizer.

The index's postings and lengths come from the process's cache of FTS5's index (bm25_index.py),
read ahead in the background on a large index (bm25_read_ahead.py).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store import search as db
from . import bm25_read_ahead
from .bm25_index import CACHE_KEY, IndexCache, Postings, cache_for, complete, quote, read_postings, read_sizes

if TYPE_CHECKING:  # numpy loads on the first search, not at server start
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["CACHE_KEY", "IndexCache", "quote", "top_k"]

K1 = 1.2  # fts5Bm25Function's constants
B = 0.75
MIN_IDF = 1e-6
PLAIN_BELOW = 20_000  # queries whose words are in fewer rows than this are ranked by FTS5 itself
MAX_RESCORED = 4096  # more candidates than this (ties at the k-th): FTS5 ranks them itself
SAMPLE = 16_384  # rows whose scores bound the k-th best before the exact selection
SLACK = 1e-9  # relative: float rounding in the array pass never decides who is a candidate


@dataclass(frozen=True, slots=True)
class Query:
    """A query's phrases (one token each) and what fts5Bm25Function derives from the index for them."""

    words: tuple[str, ...]  # as quoted in the FTS5 query, in its order
    tokens: tuple[str, ...]  # each word's token
    idf: tuple[float, ...]
    avgdl: float


def idf(total_rows: int, hits: int) -> float:
    value = math.log((total_rows - hits + 0.5) / (hits + 0.5))
    return MIN_IDF if value <= 0.0 else value


def score(query: Query, frequencies: dict[str, int], size: int) -> float:
    """fts5Bm25Function's sum, term for term (so the double is FTS5's to the last bit)."""
    total = 0.0
    for token, weight in zip(query.tokens, query.idf, strict=True):
        f = float(frequencies.get(token, 0))
        total += weight * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * size / query.avgdl)))
    return total


def top_k(store: Store, words: Sequence[str], scope: Sequence[int] | None, k: int) -> list[tuple[int, float]]:
    """(chunk id, -bm25) of the k best ready chunks in the scope for the OR of `words`, best first."""
    conn = store.conn()
    own = not conn.in_transaction  # one snapshot: statistics, postings, scope and candidates
    if own:
        conn.execute("BEGIN")
    try:
        return _top_k(store, conn, list(words), scope, k)
    finally:
        if own:
            conn.execute("COMMIT")
        cache = store.caches.get(CACHE_KEY)
        if isinstance(cache, IndexCache):
            bm25_read_ahead.warm_later(store, cache)


def plain(conn: Any, words: Sequence[str], scope: Sequence[int] | None, k: int) -> list[tuple[int, float]]:
    """FTS5's own ranking (`ORDER BY bm25()`), for what the array pass does not take."""
    return db.bm25_candidates(conn, quote(words), scope, k)


def _top_k(
    store: Store, conn: Any, words: list[str], scope: Sequence[int] | None, k: int
) -> list[tuple[int, float]]:

    totals = db.index_totals(conn)
    tokens = db.tokenize(conn, words)
    if totals.rows <= 0 or any(len(t) != 1 for t in tokens):  # multi-token phrases: FTS5 matches them
        return plain(conn, words, scope, k)
    flat = [t[0] for t in tokens]
    cache = cache_for(store, conn, totals)
    first_word = dict(zip(reversed(flat), reversed(words), strict=True))
    if _reach(conn, cache, first_word, totals.rows) < PLAIN_BELOW:
        return plain(conn, words, scope, k)
    found = {t: read_postings(conn, cache, w, t, totals.rows) for t, w in first_word.items()}
    hits = {t: len(p.ids) if p is not None else totals.rows for t, p in found.items()}
    query = Query(
        tuple(words), tuple(flat), tuple(idf(totals.rows, hits[t]) for t in flat), totals.tokens / totals.rows
    )
    scores, floor = _array_scores(query, found, read_sizes(conn, cache), cache)
    _restrict(conn, scores, scope, totals.rows)
    candidates = _candidates(scores, k, floor)
    if candidates is None:  # fewer than k chunks hold a phrase with a real idf, or too many tie
        return plain(conn, words, scope, k)
    # Without floor phrases the array sums are FTS5's own doubles (same terms, same order, IEEE
    # arithmetic); with them, the candidates are rescored with every phrase counted.
    exact = _rescore(conn, query, candidates) if floor else [(c, float(scores[c])) for c in candidates]
    exact.sort(key=lambda hit: (-hit[1], hit[0]))
    return exact[:k]


def _array_scores(
    query: Query, found: dict[str, Postings | None], sizes: "NDArray[np.float64]", cache: IndexCache
) -> tuple["NDArray[np.float64]", float]:
    """Every row's sum over the phrases whose postings were read, and the most the others can add."""
    import numpy as np

    scores = np.zeros(len(sizes), dtype=np.float64)
    floor = 0.0
    for token, weight in zip(query.tokens, query.idf, strict=True):
        hit = found[token]
        if hit is None:
            floor += MIN_IDF * (K1 + 1.0)
            continue
        terms = cache.terms.get(token)  # idf and avgdl belong to the version: computed once per token
        if terms is None:
            f = hit.counts.astype(np.float64)  # doubles, as fts5Bm25Function computes
            terms = weight * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * sizes[hit.ids] / query.avgdl)))
            with cache.lock:
                if token in cache.postings and token not in cache.terms:
                    cache.terms[token] = terms
                    cache.held += len(terms)
        scores[hit.ids] += terms
    return scores, floor


def _reach(conn: Any, cache: IndexCache, first_word: dict[str, str], total_rows: int) -> int:
    """About how many rows FTS5 would score (the sum of the words' rows, counted up to PLAIN_BELOW).

    Trigger: the query's words are rare. Why: FTS5 ranks a few thousand rows in milliseconds, while
    the array pass first reads every row's length (seconds at a million chunks, once per version).
    Outcome: FTS5 ranks them itself.
    """
    reach = 0
    for token, word in first_word.items():
        if token in cache.carried:
            complete(cache, token)
        with cache.lock:
            seen = token in cache.postings
            known = cache.postings.get(token)
        if not seen:
            reach += db.rows_at_least(conn, quote([word]), PLAIN_BELOW - reach)
        else:  # None: a floor-idf token, in half the rows or more
            reach += (total_rows + 1) // 2 if known is None else len(known.ids)
        if reach >= PLAIN_BELOW:
            break
    return reach


def _restrict(conn: Any, scores: "NDArray[np.float64]", scope: Sequence[int] | None, total_rows: int) -> None:
    """Scores below zero for rows that are not ready chunks in the scope (read now, never cached)."""
    import numpy as np

    inside = bool(scope) and db.count_scope(conn, list(scope or ())) <= total_rows // 2
    ids = np.asarray(db.chunk_ids_of(conn, scope, inside), dtype=np.int64)
    ids = ids[ids < len(scores)]
    if inside:
        keep = scores[ids]
        scores[:] = -1.0
        scores[ids] = keep
    else:
        scores[ids] = -1.0


def _candidates(scores: "NDArray[np.float64]", k: int, floor: float) -> list[int] | None:
    """Rows whose exact score may be among the k best: within `floor` (and rounding) of the k-th."""
    import numpy as np

    positive = int(np.count_nonzero(scores > 0.0))
    if positive < k:
        return None
    # The k-th best of any sample is at most the k-th best of all: the rows at or above it hold the k
    # best, and partitioning those few gives the exact k-th (one pass instead of a full partition).
    pool = scores
    sample = scores[:: max(1, len(scores) // SAMPLE)]
    if len(sample) > k:
        bound = float(np.partition(sample, len(sample) - k)[len(sample) - k])
        if bound > 0.0:
            pool = scores[scores >= bound]
    kth = float(np.partition(pool, len(pool) - k)[len(pool) - k])
    margin = floor + SLACK * (abs(kth) + floor + 1.0)
    found = np.flatnonzero(scores >= kth - margin)
    return None if len(found) > MAX_RESCORED else [int(i) for i in found]


def _rescore(conn: Any, query: Query, candidates: list[int]) -> list[tuple[int, float]]:
    """Exact scores: counts from FTS5's tokenizer, lengths from its docsize table, FTS5's arithmetic."""
    out: list[tuple[int, float]] = []
    terms = sorted(set(query.tokens))
    for start in range(0, len(candidates), 256):
        batch = candidates[start : start + 256]
        sizes = db.token_counts(conn, batch)
        frequencies = db.term_frequencies(conn, batch, terms)
        out.extend((c, score(query, frequencies.get(c, {}), sizes[c])) for c in batch)
    return out
