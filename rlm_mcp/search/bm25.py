"""BM25's top k without FTS5 scoring every chunk that holds a query word: FTS5's ranking, exactly.

`ORDER BY bm25(chunks_fts)` costs some microseconds for every row that holds any query word (its
instances, a docsize lookup, the sort): at a million chunks a word like "with" is in hundreds of
thousands of them and a query takes seconds. Here the same sum is computed over arrays: each
query token's postings (row ids and counts, read from FTS5's own index through fts5vocab) and every
row's length (FTS5's docsize table), scored with numpy. Only the rarer phrases are added up over
their postings (MaxScore, `_pruned`): the common ones, whose bounds together cannot lift a row to
the k-th best, are looked up for the few rows that can.

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
from .bm25_index import CACHE_KEY, IndexCache, Postings, cache_for, complete, quote, read_all, read_sizes

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
SEED_POSTINGS = 200_000  # the rarest phrases' postings added up first, for a first bound (theta)
THETA_ROWS = 256  # rows best on those phrases whose exact sums give theta
MAX_CANDIDATES = 200_000  # more candidates than this after pruning: every row is scored instead


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
        return _top_k(store, conn, list(words), scope, k, own)
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
    store: Store, conn: Any, words: list[str], scope: Sequence[int] | None, k: int, own: bool
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
    # Trigger: the caller's own transaction (it may hold writes FTS5 keeps in memory, which no other
    # connection sees). Outcome: every word is read on this connection.
    found = read_all(store, conn, cache, first_word, totals.rows, split=own)
    hits = {t: len(p.ids) if p is not None else totals.rows for t, p in found.items()}
    query = Query(
        tuple(words), tuple(flat), tuple(idf(totals.rows, hits[t]) for t in flat), totals.tokens / totals.rows
    )
    sizes = read_sizes(conn, cache)
    floor = sum(MIN_IDF * (K1 + 1.0) for t in flat if found[t] is None)
    blocked = _blocked(conn, scope, totals.rows, len(sizes))
    candidates = _pruned(query, found, sizes, cache, blocked, k, floor)
    if candidates is None:  # no bound from the rare words: every row holding a word is scored
        scores = _array_scores(query, found, sizes)
        scores[blocked] = -1.0
        candidates = _candidates(scores, k, floor)
    if candidates is None:  # fewer than k chunks hold a phrase with a real idf, or too many tie
        return plain(conn, words, scope, k)
    # Without floor phrases the array sums are FTS5's own doubles (same terms, same order, IEEE
    # arithmetic); with them, the candidates are rescored with every phrase counted.
    exact = _rescore(conn, query, list(candidates)) if floor else list(candidates.items())
    exact.sort(key=lambda hit: (-hit[1], hit[0]))
    return exact[:k]


def _terms(
    weight: float, f: "NDArray[Any]", size: "NDArray[np.float64]", avgdl: float
) -> "NDArray[np.float64]":
    """fts5Bm25Function's term of one phrase, in doubles; 0.0 exactly where the count is 0."""
    import numpy as np

    f = f.astype(np.float64)
    return weight * ((f * (K1 + 1.0)) / (f + K1 * (1 - B + B * size / avgdl)))


def _array_scores(
    query: Query, found: dict[str, Postings | None], sizes: "NDArray[np.float64]"
) -> "NDArray[np.float64]":
    """Every row's sum over the phrases whose postings were read (floor-idf phrases aside)."""
    import numpy as np

    scores = np.zeros(len(sizes), dtype=np.float64)
    for token, weight in zip(query.tokens, query.idf, strict=True):
        hit = found[token]
        if hit is not None:  # terms computed per query: cached, they would halve what the cache holds
            scores[hit.ids] += _terms(weight, hit.counts, sizes[hit.ids], query.avgdl)
    return scores


def _exact(
    query: Query, found: dict[str, Postings | None], sizes: "NDArray[np.float64]", rows: "NDArray[np.int64]"
) -> "NDArray[np.float64]":
    """The array sums of `rows` (ascending) alone: the same terms added in the same order as
    `_array_scores`, a row a phrase does not hold adding 0.0, so the same doubles."""
    import numpy as np

    total = np.zeros(len(rows), dtype=np.float64)
    for token, weight in zip(query.tokens, query.idf, strict=True):
        hit = found[token]
        if hit is not None:
            total += _terms(weight, _counts_of(hit, rows), sizes[rows], query.avgdl)
    return total


def _counts_of(hit: Postings, rows: "NDArray[np.int64]") -> "NDArray[np.float32]":
    import numpy as np

    at = np.minimum(np.searchsorted(hit.ids, rows), max(0, len(hit.ids) - 1))
    held = hit.ids[at] == rows if len(hit.ids) else np.zeros(len(rows), dtype=np.bool_)
    return np.where(held, hit.counts[at] if len(hit.ids) else 0.0, 0.0).astype(np.float32)


def _pruned(
    query: Query,
    found: dict[str, Postings | None],
    sizes: "NDArray[np.float64]",
    cache: IndexCache,
    blocked: "NDArray[np.int64]",
    k: int,
    floor: float,
) -> dict[int, float] | None:
    """The rows within `floor` (and rounding) of the k-th best and their array sums, without adding up
    the postings of the common phrases (MaxScore); None when the rare phrases give no bound.

    The phrases with the fewest postings (SEED_POSTINGS) are added up first; the exact sums of their
    best rows give theta, at most the k-th best. A phrase's term is at most its bound (its highest
    count in the shortest row), so the phrases whose bounds add up to less than theta are
    non-essential: a row that holds none of the others cannot reach theta, and the others' rows are
    the only candidates. Their exact sums come from the postings by binary search.
    """
    import numpy as np

    real = [(t, w, p) for t, w in zip(query.tokens, query.idf, strict=True) if (p := found[t]) is not None]
    if not real:
        return None
    if cache.shortest is None:  # of every row of the version: no longer than the shortest in scope
        cache.shortest = float(sizes[sizes > 0].min()) if bool((sizes > 0).any()) else 0.0
    shortest = cache.shortest
    bounds = {t: _terms(w, p.counts.max(initial=0.0)[None], np.asarray([shortest]), query.avgdl)[0]
              for t, w, p in real}  # fmt: skip
    by_length = sorted(range(len(real)), key=lambda i: len(real[i][2].ids))
    seeds: list[int] = []
    held = 0
    partial = np.zeros(len(sizes), dtype=np.float64)
    for i in by_length:  # the rarest first, until their postings fill SEED_POSTINGS and hold k rows
        _, weight, hit = real[i]
        if seeds and held + len(hit.ids) > SEED_POSTINGS and np.count_nonzero(partial) >= k:
            break
        seeds.append(i)
        held += len(hit.ids)
        partial[hit.ids] += _terms(weight, hit.counts, sizes[hit.ids], query.avgdl)
        partial[blocked] = 0.0
    theta = _theta(query, found, sizes, partial, k)
    if theta <= 0.0:
        return None
    margin = floor + SLACK * (abs(theta) + floor + 1.0)
    rest = sorted((i for i in range(len(real)) if i not in seeds), key=lambda i: bounds[real[i][0]])
    spare = 0.0  # the bounds of the non-essential phrases, added up
    while rest and spare + bounds[real[rest[0]][0]] < theta - margin:
        spare += bounds[real[rest.pop(0)][0]]
    for i in rest:
        _, weight, hit = real[i]
        partial[hit.ids] += _terms(weight, hit.counts, sizes[hit.ids], query.avgdl)
    partial[blocked] = 0.0
    rows = np.flatnonzero((partial > 0.0) & (partial >= theta - margin - spare))
    if len(rows) > MAX_CANDIDATES:
        return None
    exact = _exact(query, found, sizes, rows)
    if len(exact) < k:
        return None
    kth = float(np.partition(exact, len(exact) - k)[len(exact) - k])
    margin = floor + SLACK * (abs(kth) + floor + 1.0)
    keep = exact >= kth - margin
    if int(keep.sum()) > MAX_RESCORED:
        return None
    return {int(r): float(s) for r, s in zip(rows[keep], exact[keep], strict=True)}


def _theta(
    query: Query,
    found: dict[str, Postings | None],
    sizes: "NDArray[np.float64]",
    partial: "NDArray[np.float64]",
    k: int,
) -> float:
    """The k-th best exact sum among the rows best on the seed phrases (0.0 if fewer than k): the k-th
    best of some rows' exact sums is at most the k-th best of all."""
    import numpy as np

    held = np.flatnonzero(partial > 0.0)
    if len(held) < k:
        return 0.0
    pick = min(len(held), max(4 * k, THETA_ROWS))
    best = held[np.argpartition(partial[held], len(held) - pick)[len(held) - pick :]]
    exact = _exact(query, found, sizes, np.sort(best))
    return float(np.partition(exact, len(exact) - k)[len(exact) - k])


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


def _blocked(conn: Any, scope: Sequence[int] | None, total_rows: int, n: int) -> "NDArray[np.int64]":
    """Ids of the rows below `n` that are not ready chunks in the scope (read now, never cached): few
    unless the scope is small."""
    import numpy as np

    inside = bool(scope) and db.count_scope(conn, list(scope or ())) <= total_rows // 2
    ids = np.asarray(db.chunk_ids_of(conn, scope, inside), dtype=np.int64)
    ids = ids[ids < n]
    if not inside:
        return ids
    allowed = np.zeros(n, dtype=np.bool_)
    allowed[ids] = True
    return np.flatnonzero(~allowed)


def _candidates(scores: "NDArray[np.float64]", k: int, floor: float) -> dict[int, float] | None:
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
    return None if len(found) > MAX_RESCORED else {int(i): float(scores[i]) for i in found}


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
