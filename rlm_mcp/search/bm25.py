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

Consistency: postings and lengths are cached in the process (`Store.caches`), keyed by FTS5's
structure record, which changes with every write to the index; they are read, checked and used
inside one read transaction, so a search never mixes two versions of the index. Scope and document
state are read from the store in that same transaction, never cached. After a write the cache is
carried to the new version instead of being read again (`_advance`): chunk ids are never reused and
a chunk's text never changes (store/documents.py, migration 0007), so the new version is the old one
less the rows that are gone (counted, and then listed) plus the rows above the old highest id (read,
and for a small write tokenized, for the cached postings); the new index's row and token totals must
then equal the sums of the carried lengths, or the cache is read afresh.
"""

import atexit
import contextlib
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store import search as db
from ..store.connection import connect
from ..store.rows import IndexTotals

if TYPE_CHECKING:  # numpy loads on the first search, not at server start
    import numpy as np
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

K1 = 1.2  # fts5Bm25Function's constants
B = 0.75
MIN_IDF = 1e-6
MAX_POSTINGS = 16_000_000  # postings and their terms cached per store (8 bytes each); least recent go first
PLAIN_BELOW = 20_000  # queries whose words are in fewer rows than this are ranked by FTS5 itself
MAX_RESCORED = 4096  # more candidates than this (ties at the k-th): FTS5 ranks them itself
DELTA_ROWS = 20_000  # a write adding more rows than this drops the cached postings (keeps the lengths)
SAMPLE = 16_384  # rows whose scores bound the k-th best before the exact selection
WARM_ABOVE = 50_000  # rows: from here the postings of the index's frequent tokens are read ahead
WARM_SAMPLE = 2_000  # rows whose tokens name the frequent ones
WARM_SHARE = 0.01  # tokens in this share of the sampled rows or more are read ahead, commonest first
WARM_BELOW = 0.45  # ...and in less than this share (half or more get the floor idf, never read)
WARM_BATCH = 8  # tokens read per read transaction (a short one: checkpoints are not held up)
SLACK = 1e-9  # relative: float rounding in the array pass never decides who is a candidate
CACHE_KEY = "bm25_index"


@dataclass(frozen=True, slots=True)
class Postings:
    ids: "NDArray[Any]"  # row ids, ascending (int32 below 2**31)
    counts: "NDArray[np.float32]"  # instances in each row (integers: exact in float32 below 2**24)


@dataclass(slots=True)
class IndexCache:
    """What one version of chunks_fts holds for BM25, read lazily: row lengths, postings per token."""

    version: bytes
    rows: int = 0  # the index's totals at this version (its averages record)
    tokens: int = 0
    high_water: int = 0  # the store's highest chunk id at this version (never goes down)
    sizes: "NDArray[np.float64] | None" = None  # by row id, 0 for ids the index does not hold
    present: "NDArray[np.bool_] | None" = None  # by row id: whether the index holds the row
    postings: "OrderedDict[str, Postings | None]" = field(default_factory=OrderedDict)  # None: floor idf
    terms: "dict[str, NDArray[np.float64]]" = field(default_factory=dict)  # each posting's term of the sum
    held: int = 0  # postings and terms held
    lock: threading.Lock = field(default_factory=threading.Lock)
    carried: "dict[str, Postings]" = field(default_factory=dict)  # the previous version's, to complete
    added: dict[str, str] = field(default_factory=dict)  # instances in the rows a write added, by token
    warming: bool = False
    warmed: threading.Event = field(default_factory=threading.Event)  # set when read-ahead ends


INSTALL = threading.Lock()  # one cache replaces another at a time


@dataclass(frozen=True, slots=True)
class Query:
    """A query's phrases (one token each) and what fts5Bm25Function derives from the index for them."""

    words: tuple[str, ...]  # as quoted in the FTS5 query, in its order
    tokens: tuple[str, ...]  # each word's token
    idf: tuple[float, ...]
    avgdl: float


def quote(words: Sequence[str]) -> str:
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


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
            _warm_later(store, cache)


def plain(conn: Any, words: Sequence[str], scope: Sequence[int] | None, k: int) -> list[tuple[int, float]]:
    """FTS5's own ranking (`ORDER BY bm25()`), for what the array pass does not take."""
    return db.bm25_candidates(conn, quote(words), scope, k)


def _cache(store: Store, conn: Any, totals: IndexTotals) -> IndexCache:
    """The cache of this transaction's version of the index: the store's, carried forward from the
    store's last one after a write (`_advance`), or a new, empty one."""
    cache = store.caches.get(CACHE_KEY)
    if isinstance(cache, IndexCache) and cache.version == totals.version:
        return cache
    high_water = db.chunk_high_water(conn)
    fresh = None
    if isinstance(cache, IndexCache) and cache.sizes is not None and high_water >= cache.high_water:
        fresh = _advance(conn, cache, totals, high_water)
    if fresh is None:
        fresh = IndexCache(totals.version, totals.rows, totals.tokens, high_water)
    with INSTALL:
        now = store.caches.get(CACHE_KEY)
        if not isinstance(now, IndexCache) or now.high_water <= high_water:
            store.caches[CACHE_KEY] = fresh  # a search in an older snapshot keeps its cache to itself
    return fresh


def _advance(conn: Any, old: IndexCache, totals: IndexTotals, high_water: int) -> IndexCache | None:
    """`old` carried to this transaction's version of the index, or None if it cannot be.

    Rows are never given an id that was used before, so since `old` (whose high water this version's
    is at least) the index has lost rows and gained rows above `old`'s highest id, nothing else: the
    rows up to that id are `old`'s if as many remain, else they are listed again. Postings of a write
    of up to DELTA_ROWS rows are completed from the new rows' text, tokenized as FTS5 tokenizes it.
    """
    import numpy as np

    assert old.sizes is not None and old.present is not None
    last_id = len(old.sizes) - 1
    new_ids, new_sizes = _unpack_sizes(*db.token_counts_after(conn, last_id))
    present, sizes = old.present, old.sizes
    kept = int(np.count_nonzero(present))
    if db.rows_through(conn, last_id) != kept:  # rows went: which ones
        gone_ids, _ = _unpack_sizes(*db.token_counts_after(conn, -1))
        still = np.zeros(len(present), dtype=np.bool_)
        still[gone_ids[gone_ids <= last_id]] = True
        if np.any(still & ~present):
            return None  # a row that `old` did not hold: not an index `old` leads to
        present, sizes = still, np.where(still, sizes, 0.0)
    top = max(last_id, int(new_ids[-1]) if len(new_ids) else last_id)
    if top > last_id:
        present = np.concatenate((present, np.zeros(top - last_id, dtype=np.bool_)))
        sizes = np.concatenate((sizes, np.zeros(top - last_id, dtype=np.float64)))
        present[new_ids] = True
        sizes[new_ids] = new_sizes
    if int(np.count_nonzero(present)) != totals.rows or int(sizes.sum()) != totals.tokens:
        return None  # the lengths do not add up to the index's totals: read it afresh
    fresh = IndexCache(totals.version, totals.rows, totals.tokens, high_water, sizes, present)
    with old.lock:
        carried = {token: found for token, found in old.postings.items() if found is not None}
    if carried and len(new_ids) <= DELTA_ROWS:
        fresh.carried = carried  # completed when a query first needs them (`_complete`)
        fresh.added = db.postings_above(conn, last_id) if len(new_ids) else {}
    return fresh


def _complete(cache: IndexCache, token: str) -> None:
    """A token's postings carried from the previous version: the rows that went dropped, the new
    rows' instances added, and None if it is now in half the rows or more (floor idf)."""
    import numpy as np

    with cache.lock:
        found = cache.carried.pop(token, None)
        added = cache.added.get(token, "")
    if found is None or cache.present is None:
        return
    ids, counts = found.ids, found.counts
    if len(ids) and not bool(cache.present[ids].all()):
        keep = cache.present[ids]
        ids, counts = ids[keep], counts[keep]
    more = _unpack_postings(added)
    if len(more.ids):
        ids, counts = np.concatenate((ids, more.ids)), np.concatenate((counts, more.counts))
    _remember(cache, token, None if len(ids) >= (cache.rows + 1) // 2 else Postings(ids, counts))


def _unpack_sizes(ids: str, varints: str) -> tuple["NDArray[np.int64]", "NDArray[np.float64]"]:
    """Row ids and lengths from `token_counts_after`: FTS5's docsize varints decoded all at once."""
    import numpy as np

    row_ids = np.fromstring(ids, dtype=np.int64, sep=",") if ids else np.zeros(0, dtype=np.int64)
    raw = np.frombuffer(bytes.fromhex(varints), dtype=np.uint8)
    ends = np.flatnonzero(raw < 0x80)  # a varint's last byte has its high bit clear (up to 8 bytes)
    starts = np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)
    widths = ends - starts + 1
    if len(ends) != len(row_ids) or (len(raw) and raw[-1] >= 0x80) or (len(widths) and widths.max() > 8):
        raise ValueError("chunks_fts_docsize: not one varint per row (a table of several columns?)")
    values = np.zeros(len(ends), dtype=np.int64)
    for byte in range(int(widths.max()) if len(widths) else 0):
        more = widths > byte
        values[more] = values[more] * 128 + (raw[starts[more] + byte] & 0x7F)
    return row_ids, values.astype(np.float64)


def _unpack_postings(instances: str) -> Postings:
    """Postings from `postings`' string: one row id per instance, in id order, counted by runs."""
    import numpy as np

    docs = np.fromstring(instances, dtype=np.int64, sep=",") if instances else np.zeros(0, dtype=np.int64)
    if len(docs) > 1 and bool(np.any(docs[1:] < docs[:-1])):
        docs = np.sort(docs)
    if not len(docs):
        return Postings(docs.astype(np.int32), np.zeros(0, dtype=np.float32))
    starts = np.flatnonzero(np.concatenate(([True], docs[1:] != docs[:-1])))
    counts = np.diff(np.concatenate((starts, [len(docs)])))
    ids = docs[starts]
    return Postings(ids.astype(np.int32) if ids[-1] < 2**31 else ids, counts.astype(np.float32))


def _top_k(
    store: Store, conn: Any, words: list[str], scope: Sequence[int] | None, k: int
) -> list[tuple[int, float]]:

    totals = db.index_totals(conn)
    tokens = db.tokenize(conn, words)
    if totals.rows <= 0 or any(len(t) != 1 for t in tokens):  # multi-token phrases: FTS5 matches them
        return plain(conn, words, scope, k)
    flat = [t[0] for t in tokens]
    cache = _cache(store, conn, totals)
    first_word = dict(zip(reversed(flat), reversed(words), strict=True))
    if _reach(conn, cache, first_word, totals.rows) < PLAIN_BELOW:
        return plain(conn, words, scope, k)
    found = {t: _postings(conn, cache, w, t, totals.rows) for t, w in first_word.items()}
    hits = {t: len(p.ids) if p is not None else totals.rows for t, p in found.items()}
    query = Query(
        tuple(words), tuple(flat), tuple(idf(totals.rows, hits[t]) for t in flat), totals.tokens / totals.rows
    )
    scores, floor = _array_scores(query, found, _sizes(conn, cache), cache)
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
            _complete(cache, token)
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


def _postings(conn: Any, cache: IndexCache, word: str, token: str, total_rows: int) -> Postings | None:
    """The token's postings (cached), or None when it is in half the rows or more (floor idf)."""
    if token in cache.carried:
        _complete(cache, token)
    with cache.lock:
        if token in cache.postings:
            cache.postings.move_to_end(token)
            return cache.postings[token]
    half = (total_rows + 1) // 2  # idf <= 0 exactly when hits >= N / 2
    if db.rows_at_least(conn, quote([word]), half) >= half:
        found = None
    else:
        found = _unpack_postings(db.postings(conn, token))
    return _remember(cache, token, found)


def _remember(cache: IndexCache, token: str, found: Postings | None) -> Postings | None:
    """Cache a token's postings (the least recently used go past MAX_POSTINGS); the cached ones."""
    with cache.lock:
        if token in cache.postings:
            return cache.postings[token]
        cache.postings[token] = found
        cache.held += 0 if found is None else len(found.ids)
        while cache.held > MAX_POSTINGS and len(cache.postings) > 1:
            token_gone, gone = cache.postings.popitem(last=False)
            terms = cache.terms.pop(token_gone, None)
            cache.held -= (0 if gone is None else len(gone.ids)) + (0 if terms is None else len(terms))
    return found


# -- read-ahead ------------------------------------------------------------------------------------


_warmers: set[threading.Thread] = set()  # read-ahead threads running in this process
_stopping = threading.Event()


def stop_read_ahead(timeout: float = 30.0) -> None:
    """Stop the read-ahead threads and wait for them (bounded), before the store closes or the process
    exits: a thread left inside SQLite while the interpreter shuts down, or while another thread
    closes the store's connections, aborts the process natively. Searches after this read on first use."""
    _stopping.set()
    for thread in list(_warmers):
        thread.join(timeout)
    _stopping.clear()


atexit.register(stop_read_ahead)  # atexit runs before daemon threads are cut off at finalization


def _warm_later(store: Store, cache: IndexCache) -> None:
    """Trigger: the first search of a version of a large index (WARM_ABOVE rows) has answered. Why: a
    word's first use reads its postings from FTS5 (a frequent word: 0.1-1 s at a million chunks).
    Outcome: a background thread reads the row lengths and the postings of the commonest tokens of
    that version, in short read transactions at that version, until the cache is full."""
    if cache.rows < WARM_ABOVE:
        cache.warmed.set()
        return
    with cache.lock:
        if cache.warming:
            return
        cache.warming = True
    thread = threading.Thread(target=_warm, args=(store, cache), name="rlm-bm25-read-ahead", daemon=True)
    _warmers.add(thread)
    thread.start()


def _warm(store: Store, cache: IndexCache) -> None:
    # A connection of its own, not one of the store's: a caller may close the store (every connection
    # it handed out) while this thread is still reading, and a connection closed under a running
    # statement aborts the process natively.
    conn = connect(store.path)
    try:
        tokens: list[str] | None = None
        while tokens is None or tokens:
            conn.execute("BEGIN")
            try:
                if (
                    _stopping.is_set()
                    or db.index_totals(conn).version != cache.version
                    or store.caches.get(CACHE_KEY) is not cache
                ):
                    return  # a write came first: its own first search reads ahead for it
                if tokens is None:
                    _sizes(conn, cache)
                    tokens = _frequent(conn, cache)
                for token in tokens[:WARM_BATCH]:
                    if cache.held >= MAX_POSTINGS or _stopping.is_set():
                        return
                    if token in cache.carried:
                        _complete(cache, token)
                    with cache.lock:
                        known = token in cache.postings
                    if not known:
                        found = _unpack_postings(db.postings(conn, token))
                        _remember(cache, token, None if len(found.ids) >= (cache.rows + 1) // 2 else found)
                tokens = tokens[WARM_BATCH:]
            finally:
                conn.execute("COMMIT")
    except Exception as error:  # the store closed, the file busy: searches read on first use instead
        log.debug("bm25 read-ahead stopped: %s", error)
    finally:
        cache.warmed.set()
        with contextlib.suppress(Exception):
            conn.close()
        _warmers.discard(threading.current_thread())


def _frequent(conn: Any, cache: IndexCache) -> list[str]:
    """Tokens in WARM_SHARE to WARM_BELOW of a sample of the index's rows, commonest first."""
    import numpy as np

    assert cache.present is not None
    rows = np.flatnonzero(cache.present)
    picked = np.random.default_rng(len(rows)).choice(rows, size=min(WARM_SAMPLE, len(rows)), replace=False)
    shares = db.row_frequencies(conn, sorted(int(i) for i in picked))
    n = max(1, len(picked))
    frequent = [(rows_held / n, token) for token, rows_held in shares.items()]
    return [token for share, token in sorted(frequent, reverse=True) if WARM_SHARE <= share < WARM_BELOW]


def _sizes(conn: Any, cache: IndexCache) -> "NDArray[np.float64]":
    import numpy as np

    if cache.sizes is None:
        ids, counts = _unpack_sizes(*db.token_counts_after(conn, -1))
        top = int(ids[-1]) if len(ids) else 0
        sizes = np.zeros(top + 1, dtype=np.float64)
        present = np.zeros(top + 1, dtype=np.bool_)
        sizes[ids] = counts
        present[ids] = True
        cache.present, cache.sizes = present, sizes
    return cache.sizes


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
