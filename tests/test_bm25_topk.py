"""The BM25 top-k path (search/bm25.py) answers exactly what FTS5's own `ORDER BY bm25()` answers:
the same ids in the same order with the same scores (ties aside), scoped or not, after reloads and
removals, with documents still loading, and for the queries it hands back to FTS5."""

import random
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

import pytest

from rlm_mcp.config import Settings
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import bm25, fts_query, search_chunks
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
