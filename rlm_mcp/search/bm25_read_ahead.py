"""BM25's read-ahead: after the first search of a large index, a background thread reads the row
lengths and the postings of the index's commonest tokens into the cache (search/bm25_index.py), so
that the first use of a common word does not read it from FTS5 (0.1-1 s a word at a million chunks).
First it settles the tokens that may be in half the rows or more: those that are get the floor idf,
cached as None (no memory), so a query's first use of "the" or "of" does not count their rows
(30-130 ms each at a million chunks).
"""

import atexit
import contextlib
import logging
import threading
from typing import Any

from ..store import Store
from ..store import search as db
from ..store.connection import connect
from .bm25_index import (
    CACHE_KEY,
    MAX_POSTINGS,
    IndexCache,
    complete,
    read_sizes,
    remember,
    sample_shares,
    unpack_postings,
)

log = logging.getLogger(__name__)

WARM_ABOVE = 50_000  # rows: from here the postings of the index's frequent tokens are read ahead
WARM_SAMPLE = 2_000  # rows whose tokens name the frequent ones
WARM_SHARE = 0.01  # tokens in this share of the sampled rows or more are read ahead, commonest first
WARM_BELOW = 0.45  # ...read if in less than this share; from it only counted (half or more: floor idf)
WARM_BATCH = 8  # tokens read per read transaction (a short one: checkpoints are not held up)
WARM_FILL = 0.75  # share of the cache the read-ahead fills: the rest is for the words queries bring


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


def warm_later(store: Store, cache: IndexCache) -> None:
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
    thread = threading.Thread(target=warm, args=(store, cache), name="rlm-bm25-read-ahead", daemon=True)
    _warmers.add(thread)
    thread.start()


def warm(store: Store, cache: IndexCache) -> None:
    # A connection of its own, not one of the store's: a caller may close the store (every connection
    # it handed out) while this thread is still reading, and a connection closed under a running
    # statement aborts the process natively.
    conn = connect(store.path)
    try:
        tokens: list[str] | None = None
        shares: dict[str, float] = {}
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
                    read_sizes(conn, cache)
                    tokens = _frequent(conn, cache)
                    shares = cache.shares or {}
                for token in tokens[:WARM_BATCH]:
                    if cache.held >= WARM_FILL * MAX_POSTINGS or _stopping.is_set():
                        return
                    _read_one(conn, cache, token, shares.get(token, 0.0))
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


def _read_one(conn: Any, cache: IndexCache, token: str, share: float) -> None:
    """A token's postings into the cache; one in WARM_BELOW of the sample or more is only counted,
    and cached as a floor-idf token (None) if in half the rows or more."""
    if token in cache.carried:
        complete(cache, token)
    with cache.lock:
        if token in cache.postings:
            return
    half = (cache.rows + 1) // 2
    if share >= WARM_BELOW:
        if db.token_rows(conn, token) >= half:
            remember(cache, token, None)  # floor idf, settled without reading postings
        return
    found = unpack_postings(db.postings(conn, token))
    remember(cache, token, None if len(found.ids) >= half else found)


def _frequent(conn: Any, cache: IndexCache) -> list[str]:
    """Tokens in WARM_SHARE or more of a sample of the index's rows, commonest first: those in
    WARM_BELOW or more are only counted (settled as floor-idf tokens if in half the rows or more,
    as their first use would find them; bm25_index.read_postings), the others read."""
    frequent = [(share, token) for token, share in sample_shares(conn, cache, WARM_SAMPLE).items()]
    return [token for share, token in sorted(frequent, reverse=True) if share >= WARM_SHARE]
