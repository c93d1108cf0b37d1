"""The BM25 top-k path (search/bm25.py) answers exactly what FTS5's own `ORDER BY bm25()` answers:
the same ids in the same order with the same scores (ties aside), scoped or not, after reloads and
removals, with documents still loading, and for the queries it hands back to FTS5."""

import random
import threading
from collections.abc import Callable, Sequence
from itertools import groupby
from pathlib import Path

import pytest

from rlm_mcp.config import Settings
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import bm25, bm25_index, bm25_read_ahead, fts_query, search_chunks
from rlm_mcp.search.lexical import bm25_candidates
from rlm_mcp.store import Store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.store.rows import NewChunk

VOCABULARY = [f"w{i}" for i in range(3000)]
WEIGHTS = [1.0 / (i + 1) for i in range(len(VOCABULARY))]


def paragraph(rng: random.Random) -> str:
    """~40 Zipf-drawn words; 'the' and 'of' in nearly every paragraph (they get FTS5's floor idf)."""
    words = rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(20, 60))
    words += ["the"] * rng.randint(1, 4) + (["of"] if rng.random() < 0.8 else [])
    rng.shuffle(words)
    return " ".join(words) + "."


def write_corpus(project: Path, seed: int, files: int = 8, paragraphs: int = 120) -> None:
    rng = random.Random(seed)
    for n in range(files):
        folder = project / ("src" if n % 2 else "docs")
        folder.mkdir(exist_ok=True)
        text = "\n\n".join(paragraph(rng) for _ in range(paragraphs))
        (folder / f"f{n}.txt").write_text(text + "\n", encoding="utf-8")


def queries(seed: int, n: int = 40) -> list[str]:
    rng = random.Random(seed)
    out = ["the of", "w0 the", "w2999 w2998 w1", "w5", "the"]
    for _ in range(n):
        words = rng.choices(VOCABULARY[:600], WEIGHTS[:600], k=rng.randint(1, 8))
        out.append(" ".join(words + (["the"] if rng.random() < 0.5 else [])))
    return out


def assert_same_ranking(got: Sequence[tuple[int, float]], want: Sequence[tuple[int, float]]) -> None:
    """Same scores in the same order, to the last bit; the same ids at each score (ties aside)."""
    assert [s for _, s in got] == [s for _, s in want]
    for (score, a), (_, b) in zip(
        groupby(got, key=lambda h: h[1]), groupby(want, key=lambda h: h[1]), strict=True
    ):
        ids_got, ids_want = {c for c, _ in a}, {c for c, _ in b}
        if score != want[-1][1]:  # the last score group may be cut by k on either side
            assert ids_got == ids_want, score


def in_another_thread(store: Store, work: Callable[[], object]) -> None:
    """Run `work` in a thread of its own (its own connection, released after) and wait for it; what it
    raised is raised here."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the calling thread
            errors.append(error)
        finally:
            store.release_thread()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not errors, errors


def check(store: Store, texts: Sequence[str], scope: list[int] | None = None) -> int:
    """Compare the two paths for every query and k; returns how many non-empty answers were compared."""
    compared = 0
    for text in texts:
        match = fts_query(text)
        assert match is not None
        for k in (1, 3, 10, 50):
            want = search_db.bm25_candidates(store.conn(), match, scope, k)
            got = bm25_candidates(store, match, scope, k)
            assert_same_ranking(got, want)
            compared += bool(want)
    return compared


@pytest.fixture(autouse=True)
def array_pass_for_small_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    """These stores are small: without this FTS5 would rank every query itself (PLAIN_BELOW)."""
    monkeypatch.setattr(bm25, "PLAIN_BELOW", 0)


@pytest.fixture
def corpus(project: Path, settings: Settings, store: Store) -> dict[str, int]:
    write_corpus(project, seed=1)
    docs = load_document(store, settings, ".").documents
    assert sum(d.chunks for d in docs) > 20
    return {d.name: d.id for d in docs}


def test_top_k_equals_fts5_ranking_ids_order_and_scores(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fallbacks: list[int] = []
    fts5 = bm25.plain
    monkeypatch.setattr(bm25, "plain", lambda *args: fallbacks.append(1) or fts5(*args))
    compared = check(store, queries(2))
    assert compared > 100
    assert len(fallbacks) < compared / 2  # the array pass answered most (k=50 outgrows some queries)


def test_the_array_pass_is_taken_and_rescores_its_candidates(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guard against a test that only ever exercises the fallback: FTS5's ranking is not called."""
    calls: list[str] = []
    monkeypatch.setattr(bm25, "plain", lambda *args: calls.append("plain") or [])
    got = bm25.top_k(store, ["w200", "w370", "the"], None, 10)
    assert calls == [] and len(got) == 10
    want = search_db.bm25_candidates(store.conn(), fts_query("w200 w370 the") or "", None, 10)
    assert_same_ranking(got, want)


def test_queries_of_rare_words_are_ranked_by_fts5_itself(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading every row's length costs more than FTS5 ranking a few rows: below PLAIN_BELOW rows the
    array pass is skipped (and its row lengths are never read)."""
    monkeypatch.setattr(bm25, "PLAIN_BELOW", 20_000)
    store.caches.clear()
    check(store, ["w200 w370", "w1 the"])
    cache = store.caches[bm25.CACHE_KEY]
    assert isinstance(cache, bm25.IndexCache) and cache.sizes is None


@pytest.mark.parametrize("which", ["one", "half", "all_but_one"])
def test_scoped_top_k_equals_fts5_ranking_in_the_scope(
    store: Store, corpus: dict[str, int], which: str
) -> None:
    ids = sorted(corpus.values())
    scope = {"one": ids[:1], "half": ids[::2], "all_but_one": ids[1:]}[which]
    assert check(store, queries(3, 15), scope) > 20
    hits = bm25_candidates(store, fts_query("w3 w9") or "", scope, 50)
    owners = {documents_db.get_chunk(store.conn(), c).document_id for c, _ in hits}  # type: ignore[union-attr]
    assert owners <= set(scope)


def test_after_a_reload_and_a_removal_answers_follow_the_new_index(
    project: Path, settings: Settings, store: Store, corpus: dict[str, int]
) -> None:
    texts = queries(4, 15)
    check(store, texts)  # fills the process cache for this version of the index
    rng = random.Random(9)
    changed = project / "docs" / "f0.txt"
    kept = changed.read_text(encoding="utf-8").split("\n\n")
    changed.write_text("\n\n".join(kept[:30] + [paragraph(rng) for _ in range(25)]) + "\n", encoding="utf-8")
    (project / "docs" / "new.txt").write_text("w2999 w2999 w2998 the.\n\nw2998 w2 w2 w2.\n", encoding="utf-8")
    statuses = {d.name: d.status for d in load_document(store, settings, ".").documents}
    assert statuses["docs/f0.txt"] == "updated" and statuses["docs/new.txt"] == "loaded"
    assert check(store, [*texts, "w2999 w2998 w2"]) > 20
    remove_document(store, corpus["src/f1.txt"])
    assert check(store, [*texts, "w2999 w2998 w2"]) > 20
    gone = {c for c, _ in bm25_candidates(store, fts_query("w1 w2 w3") or "", None, 500)}
    assert not gone & set(range(*_chunk_span(store, corpus["src/f1.txt"])))


def _chunk_span(store: Store, document_id: int) -> tuple[int, int]:
    first, last = documents_db.chunk_range(store.conn(), document_id)
    return (first or 0, (last or -1) + 1)


def test_chunks_of_a_document_still_loading_count_for_idf_but_are_never_hits(
    store: Store, corpus: dict[str, int]
) -> None:
    with store.write() as w:
        staging = documents_db.insert_staging(w, "s.txt", "/elsewhere/s.txt", "text", 10, "h", "test:1")
        documents_db.insert_chunks(
            w,
            staging,
            [NewChunk(i, "w1 w1 w1 w2 zzrare", "", "", f"s{i}", 1, 1, None, None) for i in range(30)],
        )
    staged = set(range(*_chunk_span(store, staging)))
    hits = bm25_candidates(store, fts_query("w1 w2 zzrare") or "", None, 50)
    assert hits and not {c for c, _ in hits} & staged
    assert check(store, ["w1 w2 zzrare", "zzrare the"]) > 0


@pytest.mark.parametrize("text", ["foo_bar w1", "don't w2", "the of", "zzz_unknown the", "w1 w1 cells cell"])
def test_queries_fts5_must_rank_itself_give_its_answer(
    store: Store, corpus: dict[str, int], text: str
) -> None:
    """Words of several tokens, only floor-idf words, unknown words, two words of one token."""
    check(store, [text])


def test_search_chunks_bm25_mode_pages_through_the_fts5_ranking(
    store: Store, settings: Settings, corpus: dict[str, int]
) -> None:
    want = search_db.bm25_candidates(store.conn(), fts_query("w4 w8 w15") or "", None, 20)
    pages = [search_chunks(store, settings, "w4 w8 w15", "bm25", top_k=10, offset=o).hits for o in (0, 10)]
    assert_same_ranking([(h.chunk_id, h.score) for page in pages for h in page], want)


def _cached(store: Store) -> bm25.IndexCache:
    cache = store.caches[bm25.CACHE_KEY]
    assert isinstance(cache, bm25.IndexCache)
    return cache


def _count_postings_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    read = search_db.postings
    monkeypatch.setattr(search_db, "postings", lambda conn, token: reads.append(token) or read(conn, token))
    return reads


def test_a_reload_carries_the_cache_to_the_new_index_and_answers_stay_exact(
    project: Path, settings: Settings, store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a write the cached lengths and postings are carried forward (the rows that went are
    dropped, the new rows' postings tokenized), not read again from FTS5's index: same answers."""
    texts = queries(5, 15)
    check(store, texts)
    before = _cached(store)
    carried_tokens = {t for t, p in before.postings.items() if p is not None}
    assert carried_tokens
    rng = random.Random(11)
    changed = project / "src" / "f3.txt"
    kept = changed.read_text(encoding="utf-8").split("\n\n")
    changed.write_text("\n\n".join(kept[:50] + [paragraph(rng) for _ in range(40)]) + "\n", encoding="utf-8")
    (project / "docs" / "more.txt").write_text("\n\n".join(paragraph(rng) for _ in range(30)) + "\n", "utf-8")
    load_document(store, settings, ".")
    reads = _count_postings_reads(monkeypatch)
    assert check(store, texts) > 20
    after = _cached(store)
    assert after is not before and after.version != before.version
    assert not set(reads) & carried_tokens  # carried, not read again
    assert after.sizes is not None and after.present is not None
    assert int(after.present.sum()) == search_db.index_totals(store.conn()).rows


def test_a_removal_drops_the_rows_that_went_from_the_carried_cache(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = queries(6, 15)
    check(store, texts)
    carried_tokens = {t for t, p in _cached(store).postings.items() if p is not None}
    gone = set(range(*_chunk_span(store, corpus["docs/f2.txt"])))
    remove_document(store, corpus["docs/f2.txt"])
    reads = _count_postings_reads(monkeypatch)
    assert check(store, texts) > 20
    cache = _cached(store)
    assert not set(reads) & carried_tokens
    assert cache.present is not None and not any(cache.present[c] for c in gone if c < len(cache.present))
    for found in cache.postings.values():
        assert found is None or not set(found.ids.tolist()) & gone


def test_a_write_of_many_rows_keeps_the_lengths_and_reads_postings_again(
    project: Path, settings: Settings, store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = queries(7, 10)
    check(store, texts)
    monkeypatch.setattr(bm25_index, "DELTA_ROWS", 0)
    write_corpus(project / "docs", seed=12, files=2, paragraphs=40)
    load_document(store, settings, ".")
    reads = _count_postings_reads(monkeypatch)
    sizes = search_db.token_counts_after
    monkeypatch.setattr(
        search_db, "token_counts_after", lambda conn, last: reads.append(f"sizes>{last}") or sizes(conn, last)
    )
    assert check(store, texts) > 10
    assert "sizes>-1" not in reads and any(r.startswith("sizes>") for r in reads)  # only the new rows
    assert any(not r.startswith("sizes>") for r in reads)  # postings read again from the index


def test_a_text_rewritten_in_place_is_caught_by_the_totals_and_the_cache_read_afresh(
    store: Store, corpus: dict[str, int]
) -> None:
    """The store never rewrites a chunk's text (a reload makes new chunks), but if something did, the
    carried lengths would no longer add up to FTS5's totals: the cache is read again, answers exact."""
    texts = queries(8, 10)
    check(store, texts)
    first, _ = documents_db.chunk_range(store.conn(), corpus["docs/f0.txt"])
    with store.write() as w:
        w.execute("UPDATE chunks SET text = text || ' w1 w2 w3 w4 the' WHERE id = ?", (first,))
    assert check(store, [*texts, "w1 w2 w3 w4"]) > 10
    cache = _cached(store)
    assert (
        cache.sizes is not None and cache.sizes[first] == search_db.token_counts(store.conn(), [first])[first]
    )


def test_a_search_in_an_older_snapshot_never_uses_a_newer_cache(
    project: Path, settings: Settings, store: Store, corpus: dict[str, int]
) -> None:
    """A reader whose transaction began before a reload (same row count: rows gone and rows added)
    searches after another thread has cached the new index: it answers for its own snapshot."""
    texts = queries(9, 10)
    check(store, texts)
    changed = project / "docs" / "f4.txt"
    paragraphs = changed.read_text(encoding="utf-8").split("\n\n")
    rng = random.Random(13)
    changed.write_text(
        "\n\n".join(paragraphs[:60] + [paragraph(rng) for _ in range(len(paragraphs) - 60)]) + "\n", "utf-8"
    )
    old = store.conn()
    old.execute("BEGIN")
    want = {t: search_db.bm25_candidates(old, fts_query(t) or "", None, 10) for t in texts}

    def writer_and_new_reader() -> None:
        load_document(store, settings, ".")
        check(store, texts)  # caches the new index (this thread's connection)

    in_another_thread(store, writer_and_new_reader)
    assert _cached(store).version != search_db.index_totals(old).version  # the newer one is cached
    for text in texts:
        assert_same_ranking(bm25_candidates(store, fts_query(text) or "", None, 10), want[text])
    old.execute("COMMIT")
    check(store, texts)


@pytest.mark.parametrize("seed", [21, 22])
def test_snippets_from_a_table_of_the_page_alone_equal_fts5_snippets_of_the_index(
    store: Store, corpus: dict[str, int], seed: int
) -> None:
    """snippet() depends only on the row's text, length and instances: the temp table holding just
    the page's chunks gives chunks_fts's own snippets (words of several tokens, repeated tokens)."""
    texts = [*queries(seed, 12), "w1 w1 cells cell the", "don't w2 the", "w2999 zzz_unknown w3"]
    compared = 0
    conn = store.conn()
    for text in texts:
        match = fts_query(text) or ""
        ids = [c for c, _ in search_db.bm25_candidates(conn, match, None, 25)]
        want = {}
        for c in ids:
            (snippet,) = conn.execute(
                "SELECT snippet(chunks_fts, 0, '«', '»', '…', ?) FROM chunks_fts WHERE chunks_fts MATCH ? "
                "AND rowid = ?",
                (search_db.SNIPPET_TOKENS, match, c),
            ).fetchone()
            want[c] = snippet
        assert search_db.bm25_snippets(conn, match, ids) == want
        compared += len(want)
    assert compared > 100


def test_read_ahead_caches_the_commonest_tokens_so_first_uses_read_nothing(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a large index the first search starts a background read of the row lengths and the
    postings of the tokens common in a sample of rows; later first uses of those words read nothing."""
    monkeypatch.setattr(bm25_read_ahead, "WARM_ABOVE", 0)
    monkeypatch.setattr(bm25_read_ahead, "WARM_SHARE", 0.05)
    store.caches.clear()
    check(store, ["w7"])
    cache = _cached(store)
    assert cache.warmed.wait(60)
    ahead = {t for t, p in cache.postings.items() if p is not None} - {"w7"}
    assert len(ahead) >= 5 and cache.sizes is not None
    reads = _count_postings_reads(monkeypatch)
    texts = [" ".join(sorted(ahead)[:4]), " ".join(sorted(ahead)[-3:]) + " the"]
    assert check(store, texts) > 4
    assert not set(reads) & ahead


def test_a_read_ahead_whose_version_a_write_replaced_stops_without_caching(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    check(store, ["w3 w4"])
    cache = _cached(store)
    held, tokens = cache.held, set(cache.postings)
    remove_document(store, corpus["docs/f6.txt"])
    monkeypatch.setattr(bm25_read_ahead, "WARM_SHARE", 0.0)
    bm25_read_ahead.warm(store, cache)  # the thread's body, run here: the index it was for is gone
    assert cache.warmed.is_set() and cache.held == held and set(cache.postings) == tokens
    check(store, ["w3 w4", "w5 w6 the"])


def test_pruning_skips_the_postings_of_common_words_and_answers_exactly(
    store: Store, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MaxScore: with the rarest phrase alone as the seed, the common phrases whose bounds add up to
    less than theta are never added up over their postings; the answers are still FTS5's, scoped or not."""
    monkeypatch.setattr(bm25, "SEED_POSTINGS", 1)
    monkeypatch.setattr(bm25, "THETA_ROWS", 8)
    monkeypatch.setattr(bm25, "_array_scores", lambda *args: pytest.fail("every row was scored"))
    added: list[object] = []  # the count arrays added up whole (a phrase's postings)
    terms = bm25._terms
    monkeypatch.setattr(bm25, "_terms", lambda w, f, *rest: added.append(f) or terms(w, f, *rest))
    rng = random.Random(31)
    texts = [
        " ".join([*rng.sample(VOCABULARY[700:1500], 2), *rng.sample(VOCABULARY[60:200], 4)])
        for _ in range(30)
    ]
    skipped = 0
    for text in texts:
        match = fts_query(text) or ""
        for scope in (None, sorted(corpus.values())[::2]):
            want = search_db.bm25_candidates(store.conn(), match, scope, 10)
            added.clear()
            got = bm25_candidates(store, match, scope, 10)
            assert_same_ranking(got, want)
            real = [p for t, p in _cached(store).postings.items() if p is not None and t in text.split()]
            skipped += any(all(f is not p.counts for f in added) for p in real)
    assert skipped > 20  # most queries left a common word's postings unread
