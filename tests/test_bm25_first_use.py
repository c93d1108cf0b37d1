"""A word's first use on a large index: its postings read on two connections at once (at one version
of the index, or on the caller's alone), and the floor-idf words settled by the read-ahead."""

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp.config import Settings
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import bm25, bm25_index, bm25_read_ahead, fts_query
from rlm_mcp.store import Store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.store.rows import IndexTotals, NewChunk

from .test_bm25_topk import _cached, check, in_another_thread, paragraph, queries, write_corpus


@pytest.fixture(autouse=True)
def large_index_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small stores take the paths of a large one: the array pass, reads split in two."""
    monkeypatch.setattr(bm25, "PLAIN_BELOW", 0)
    monkeypatch.setattr(bm25_index, "SPLIT_ABOVE", 0)


@pytest.fixture
def corpus(project: Path, settings: Settings, store: Store) -> None:
    write_corpus(project, seed=3)
    load_document(store, settings, ".")


def _vocabulary_reads(store: Store, tokens: list[str]) -> dict[str, tuple[list[int], list[float]]]:
    """Each token's postings read through fts5vocab alone, in a transaction of its own."""
    with store.read() as conn:
        out = {}
        for token in tokens:
            found = bm25_index.unpack_postings(search_db.postings(conn, token))
            out[token] = (found.ids.tolist(), found.counts.tolist())
        return out


def _tokens(store: Store, words: list[str]) -> dict[str, str]:
    return {t[0]: w for t, w in zip(search_db.tokenize(store.conn(), words), words, strict=True)}


def _assert_read(
    found: dict[str, bm25_index.Postings | None], want: dict[str, tuple[list[int], list[float]]], rows: int
) -> None:
    assert set(found) == set(want)
    for token, hit in found.items():
        ids, counts = want[token]
        if hit is None:  # floor idf: in half the rows or more
            assert len(ids) >= (rows + 1) // 2
        else:
            assert (hit.ids.tolist(), hit.counts.tolist()) == (ids, counts)


@contextmanager
def _snapshot(store: Store) -> Iterator[tuple[Any, IndexTotals, bm25_index.IndexCache]]:
    """The store's connection inside a read transaction: it, the index totals and the cache at them."""
    conn = store.conn()
    conn.execute("BEGIN")
    try:
        totals = search_db.index_totals(conn)
        yield conn, totals, bm25_index.cache_for(store, conn, totals)
    finally:
        conn.execute("COMMIT")


def _split_sides(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object] | None]:
    """What each helper read returned (None: it read nothing)."""
    seen: list[dict[str, object] | None] = []
    helper = bm25_index.read_at_version

    def recorded(*args: object) -> dict[str, object] | None:
        got = helper(*args)  # type: ignore[arg-type]
        seen.append(None if got is None else dict(got))
        return got  # type: ignore[return-value]

    monkeypatch.setattr(bm25_index, "read_at_version", recorded)
    return seen


def test_split_reads_equal_serial_reads_and_answers_stay_exact(
    store: Store, corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = ["w1", "w2", "w3", "w5", "w8", "w13", "w40", "the"]
    tokens = _tokens(store, words)
    want = _vocabulary_reads(store, list(tokens))
    sides = _split_sides(monkeypatch)
    with _snapshot(store) as (conn, totals, cache):
        found = bm25_index.read_all(store, conn, cache, tokens, totals.rows)
    assert sides and sides[0] is not None and len(sides[0]) >= 3  # the helper read a share of them
    assert set(found) == set(tokens)
    _assert_read(found, want, totals.rows)
    store.caches.clear()
    assert check(store, queries(4, 20)) > 40  # FTS5's ranking, every query, reads split


def test_a_write_before_the_helper_reads_is_detected_and_the_tokens_read_at_the_callers_version(
    project: Path, settings: Settings, store: Store, corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    words = ["w1", "w2", "w3", "w5", "w8", "w13"]
    tokens = _tokens(store, words)
    want = _vocabulary_reads(store, list(tokens))  # the index before the write
    sides = _split_sides(monkeypatch)
    with _snapshot(store) as (conn, totals, cache):

        def write() -> None:  # another thread's reload commits after this snapshot began
            text = "\n\n".join(paragraph(random.Random(5)) for _ in range(40))
            (project / "docs" / "added.txt").write_text(text + "\n", encoding="utf-8")
            load_document(store, settings, ".")

        in_another_thread(store, write)
        found = bm25_index.read_all(store, conn, cache, tokens, totals.rows)
    with store.read() as fresh:
        assert search_db.index_totals(fresh).version != totals.version  # the write did change the index
    assert sides == [None]  # the helper saw another version and read nothing
    _assert_read(found, want, totals.rows)


def test_read_ahead_settles_floor_words_so_their_first_use_counts_nothing(
    store: Store, corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "the" is in nearly every row (floor idf): the read-ahead caches it as such, so a query's first
    use of it counts no rows; a word in fewer than half the rows is never cached as floor."""
    monkeypatch.setattr(bm25_read_ahead, "WARM_ABOVE", 0)
    monkeypatch.setattr(bm25_read_ahead, "WARM_SHARE", 0.05)
    store.caches.clear()
    check(store, ["w7"])
    cache = _cached(store)
    assert cache.warmed.wait(60)
    assert "the" in cache.postings and cache.postings["the"] is None
    with store.read() as conn:
        half = (cache.rows + 1) // 2
        for token, found in cache.postings.items():
            if found is None:
                assert search_db.token_rows(conn, token) >= half
            else:
                assert len(found.ids) == search_db.token_rows(conn, token) < half
    counted: list[str] = []
    count = search_db.rows_at_least
    monkeypatch.setattr(
        search_db, "rows_at_least", lambda conn, match, cap: counted.append(match) or count(conn, match, cap)
    )
    assert check(store, ["the w1", "w2 the of"]) > 4
    assert '"the"' not in counted


def test_token_rows_counts_the_rows_a_match_of_the_token_finds(store: Store, corpus: None) -> None:
    conn = store.conn()
    for token in ["w1", "w40", "the", "of", "absent"]:
        matched = search_db.rows_at_least(conn, f'"{token}"', 10**9)
        assert search_db.token_rows(conn, token) == matched


def test_a_search_inside_a_write_reads_every_word_on_its_own_connection(
    store: Store, corpus: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written but not committed are seen by the writer's connection alone: its search ranks
    them as FTS5 does there, its words read on that connection (no helper)."""
    sides = _split_sides(monkeypatch)
    rng = random.Random(8)
    with store.write() as w:
        doc = documents_db.insert_staging(w, "added", "/synthetic/added.txt", "text", 1, "added", "test")
        documents_db.insert_chunks(
            w,
            doc,
            (NewChunk(i, paragraph(rng), "", "", f"a{i}", i + 1, i + 1, None, None) for i in range(30)),
        )
        documents_db.finalize(w, doc, None, None)
        for text in ["w1 w2 w3 w5", "w8 w13 the of"]:
            match = fts_query(text) or ""
            want = search_db.bm25_candidates(w, match, None, 10)
            got = bm25.top_k(store, match.replace('"', "").split(" OR "), None, 10)
            assert [c for c, _ in got] == [c for c, _ in want] and [s for _, s in got] == [s for _, s in want]
    assert sides == []
