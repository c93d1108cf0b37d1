"""BM25's index cache: what one version of chunks_fts holds for the top-k path (search/bm25.py),
read from FTS5's own tables and kept in the process.

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

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..store import Store
from ..store import search as db
from ..store.rows import IndexTotals

if TYPE_CHECKING:  # numpy loads on the first search, not at server start
    import numpy as np
    from numpy.typing import NDArray

MAX_POSTINGS = 16_000_000  # postings cached per store (8 bytes each); the least recently used go first
SHARE_SAMPLE = 500  # rows whose tokens tell which words may be in half the rows (a cost guide, not an answer)
MAYBE_FLOOR = 0.3  # tokens in this share of the sampled rows or more: rows counted before postings read
DELTA_ROWS = 20_000  # a write adding more rows than this drops the cached postings (keeps the lengths)
CACHE_KEY = "bm25_index"
SPLIT_ABOVE = 50_000  # rows: from here a query's uncached tokens are read on two connections at once


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
    shortest: float | None = None  # the fewest tokens a row holds
    postings: "OrderedDict[str, Postings | None]" = field(default_factory=OrderedDict)  # None: floor idf
    held: int = 0  # postings held
    shares: dict[str, float] | None = None  # tokens' shares of a sample of rows (of some earlier version)
    lock: threading.Lock = field(default_factory=threading.Lock)
    carried: "dict[str, Postings]" = field(default_factory=dict)  # the previous version's, to complete
    added: dict[str, str] = field(default_factory=dict)  # instances in the rows a write added, by token
    warming: bool = False
    warmed: threading.Event = field(default_factory=threading.Event)  # set when read-ahead ends


INSTALL = threading.Lock()  # one cache replaces another at a time


def quote(words: Sequence[str]) -> str:
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def cache_for(store: Store, conn: Any, totals: IndexTotals) -> IndexCache:
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
    fresh.shares = old.shares  # a guide to what reading costs, never to what the answers are
    with old.lock:
        carried = {token: found for token, found in old.postings.items() if found is not None}
    if carried and len(new_ids) <= DELTA_ROWS:
        fresh.carried = carried  # completed when a query first needs them (`complete`)
        fresh.added = db.postings_above(conn, last_id) if len(new_ids) else {}
    return fresh


def complete(cache: IndexCache, token: str) -> None:
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
    more = unpack_postings(added)
    if len(more.ids):
        ids, counts = np.concatenate((ids, more.ids)), np.concatenate((counts, more.counts))
    remember(cache, token, None if len(ids) >= (cache.rows + 1) // 2 else Postings(ids, counts))


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


def unpack_postings(instances: str) -> Postings:
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


_HELPER: list[ThreadPoolExecutor] = []  # one thread, made on first use; its connections are the stores'
_HELPER_LOCK = threading.Lock()


def read_all(
    store: Store, conn: Any, cache: IndexCache, words: dict[str, str], total_rows: int, split: bool = True
) -> dict[str, Postings | None]:
    """`read_postings` of each token (`words`: token -> a query word for it), on a large index split
    between this connection and a helper thread's (SQLite reads outside the GIL: 2 cores, 2 doclists).

    The helper reads in a read transaction of its own, and only if the index there is the version
    the cache and this transaction are at (FTS5's structure record, which every write changes);
    otherwise it reads nothing and its tokens are read here, so every posting is of one version.
    `split` False: all on this connection (a transaction that may hold writes not yet committed).
    """
    with cache.lock:
        missing = [t for t in words if t not in cache.postings and t not in cache.carried]
    if not split or cache.rows < SPLIT_ABOVE or len(missing) < 2:
        return {t: read_postings(conn, cache, w, t, total_rows) for t, w in words.items()}
    shares = cache.shares or {}  # a cost guide: a token's share of rows is about its doclist's length
    sides: tuple[list[str], list[str]] = ([], [])
    load = [0.0, 0.0]
    for token in sorted(missing, key=lambda t: -shares.get(t, 0.0)):  # costliest first, to the lighter
        side = 0 if load[0] <= load[1] else 1
        sides[side].append(token)
        load[side] += shares.get(token, 0.0) + 1e-4
    theirs = {t: words[t] for t in sides[1]}
    pending = _helper().submit(read_at_version, store, cache, theirs, total_rows)
    try:
        found = {t: read_postings(conn, cache, words[t], t, total_rows) for t in sides[0]}
    finally:
        helped = pending.result()  # waited for even on an error here: its statements end first
    found.update(helped if helped is not None else {})
    for token, word in words.items():  # cached ones, and the helper's if it read nothing
        if token not in found:
            found[token] = read_postings(conn, cache, word, token, total_rows)
    return found


def read_at_version(
    store: Store, cache: IndexCache, words: dict[str, str], total_rows: int
) -> dict[str, Postings | None] | None:
    """`read_postings` of `words` on this thread's connection, in a read transaction at the cache's
    version of the index; None (nothing read) if the index there is another version."""
    conn = store.conn()
    if conn.in_transaction:  # not this module's connection to use
        return None
    conn.execute("BEGIN")
    try:
        if db.index_totals(conn).version != cache.version:
            return None  # a write came between: the caller reads these at its own version
        return {t: read_postings(conn, cache, w, t, total_rows) for t, w in words.items()}
    finally:
        conn.execute("COMMIT")


def _helper() -> ThreadPoolExecutor:
    with _HELPER_LOCK:
        if not _HELPER:
            _HELPER.append(ThreadPoolExecutor(1, thread_name_prefix="rlm-bm25-read"))
        return _HELPER[0]


def read_postings(conn: Any, cache: IndexCache, word: str, token: str, total_rows: int) -> Postings | None:
    """The token's postings (cached), or None when it is in half the rows or more (floor idf)."""
    if token in cache.carried:
        complete(cache, token)
    with cache.lock:
        if token in cache.postings:
            cache.postings.move_to_end(token)
            return cache.postings[token]
    half = (total_rows + 1) // 2  # idf <= 0 exactly when hits >= N / 2
    maybe_floor = sample_shares(conn, cache).get(token, 0.0) >= MAYBE_FLOOR
    if maybe_floor and db.rows_at_least(conn, quote([word]), half) >= half:
        return remember(cache, token, None)
    # Trigger: the token is rare in a sample of rows. Why: counting its rows first reads its doclist
    # twice (a third of a first use at a million chunks). Outcome: its postings are read at once; their
    # own length decides the floor idf, so a sample that misled costs time, never a wrong answer.
    found = unpack_postings(db.postings(conn, token))
    return remember(cache, token, None if len(found.ids) >= half else found)


def sample_shares(conn: Any, cache: IndexCache, size: int = SHARE_SAMPLE) -> dict[str, float]:
    """Each token's share of a random sample of the index's rows (kept across versions), read once."""
    import numpy as np

    if cache.shares is None or size > SHARE_SAMPLE:
        read_sizes(conn, cache)
        assert cache.present is not None
        rows = np.flatnonzero(cache.present)
        picked = np.random.default_rng(len(rows)).choice(rows, size=min(size, len(rows)), replace=False)
        counts = db.row_frequencies(conn, sorted(int(i) for i in picked))
        n = max(1, len(picked))
        cache.shares = {token: held / n for token, held in counts.items()}
    return cache.shares


def remember(cache: IndexCache, token: str, found: Postings | None) -> Postings | None:
    """Cache a token's postings (the least recently used go past MAX_POSTINGS); the cached ones."""
    with cache.lock:
        if token in cache.postings:
            return cache.postings[token]
        cache.postings[token] = found
        cache.held += 0 if found is None else len(found.ids)
        while cache.held > MAX_POSTINGS and len(cache.postings) > 1:
            _, gone = cache.postings.popitem(last=False)
            cache.held -= 0 if gone is None else len(gone.ids)
    return found


def read_sizes(conn: Any, cache: IndexCache) -> "NDArray[np.float64]":
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
