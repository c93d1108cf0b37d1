"""BM25 at scale: today's FTS5 ranking (every matching chunk scored) against the top-k path, same run.

    python benchmarks/bm25_scale.py                         # 10k, 100k and 1M chunks (cached under /tmp)
    python benchmarks/bm25_scale.py --sizes 10000,100000    # fewer sizes
    python benchmarks/bm25_scale.py --smoke                 # a small store, seconds (run by the tests)

Stores are grown through the product's own insert path (store/documents.insert_chunks), 10,000
chunks per document, from random windows of 100-300 words of real text (SciFact abstracts and the
Gutenberg books), so term frequencies and chunk lengths are those of real prose. Vectors are the
real model's vectors of a few SciFact titles plus noise, for the hybrid figures. Built stores are
kept in --cache (default /tmp/rlm-bm25-scale) and reused; each size starts from a copy of the one
below it.

Figures per size: p50/p95 of bm25 mode (old: plain FTS5 `ORDER BY bm25()`; new: the top-k path)
and of hybrid mode, over SciFact train queries and sampled-word queries; whether the two paths
returned the same top 10 (ids and order, ties aside). With the SciFact store (--quality): nDCG@10
of both paths and of an independent BM25 (rank-bm25's BM25Okapi over the same FTS5 tokens).
"""

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/retrieval.py's helpers

from shared_data import shared_data

from rlm_mcp.config import load_settings
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import bm25, bm25_read_ahead, fts_query, hybrid, lexical, search_chunks
from rlm_mcp.search.quantized import BitIndexCache
from rlm_mcp.store import Store, open_store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.store import vectors as vdb
from rlm_mcp.store.rows import NewChunk

DATA = shared_data()  # $RLM_SHARED_DATA, else shared/data beside the repository
DEFAULT_CACHE = Path("/tmp/rlm-bm25-scale")
PER_DOCUMENT = 10_000
WINDOW = (100, 300)  # words per synthetic chunk
SEED_TITLES = 64
LOAD_CHUNKS = 1_000  # the load whose first searches are measured (a document added, then removed)
ADDED_PATH = "/synthetic/added.txt"  # that document's path


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- corpus ------------------------------------------------------------------------------------------


def source_words(data: Path, smoke: bool) -> list[str]:
    """The words of SciFact's abstracts and the Gutenberg books, in order (SciFact twice: weight)."""
    words: list[str] = []
    scifact = data / "scifact" / "corpus.jsonl"
    if scifact.is_file():
        lines = scifact.read_text(encoding="utf-8").splitlines()
        for line in lines[:500] if smoke else lines:
            doc = json.loads(line)
            words.extend(f"{doc.get('title', '')} {doc['text']}".split())
    words = words * 2
    books = sorted((data / "gutenberg").glob("*.txt"))
    for book in books[:2] if smoke else books:
        words.extend(book.read_text(encoding="utf-8", errors="replace").split())
    if not words:
        sys.exit(f"no text under {data} (scifact/corpus.jsonl, gutenberg/*.txt)")
    return words


def window_texts(words: Sequence[str], start: int, n: int) -> list[str]:
    """`n` chunk texts for the chunks numbered from `start`: the same texts whichever store grows them."""
    rng = random.Random(start)
    out = []
    for _ in range(n):
        length = rng.randint(*WINDOW)
        at = rng.randrange(0, max(1, len(words) - length))
        out.append(" ".join(words[at : at + length]))
    return out


class HashedWords:
    """The smoke mode's embedder (no model needed): hashed words into a unit vector."""

    model_id = "bench/hashed-words"
    dim = 384

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.embed_query(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        vector = np.full(self.dim, 1e-3, dtype=np.float32)
        for word in text.lower().split():
            vector[zlib.crc32(word.encode()) % self.dim] += 1.0
        return (vector / np.linalg.norm(vector)).astype(np.float32)


def make_embedder(smoke: bool) -> Any:
    if smoke:
        return HashedWords()
    from rlm_mcp.embedding.model import FastEmbedder

    embedder = FastEmbedder()
    embedder.load()
    return embedder


def seed_vectors(data: Path, embedder: Any) -> np.ndarray:
    """Real vectors of a few SciFact titles (chunk vectors are these plus noise)."""
    lines = (data / "scifact" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    titles = [json.loads(line)["title"] for line in lines[:SEED_TITLES]]
    seeds = np.asarray(embedder.embed_documents(titles), dtype=np.float32)
    return seeds / np.linalg.norm(seeds, axis=1, keepdims=True)


def grow(store: Store, target: int, words: Sequence[str], seeds: np.ndarray, model: tuple[str, int]) -> None:
    """Add documents of PER_DOCUMENT chunks (and their vectors) until the store holds `target` chunks."""
    conn = store.conn()
    have = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    while have < target:
        n = min(PER_DOCUMENT, target - have)
        texts = window_texts(words, have, n)
        rng = np.random.default_rng(have)
        base = seeds[rng.integers(0, len(seeds), n)]
        noisy = base + rng.normal(0, 0.8 / math.sqrt(seeds.shape[1]), base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        with store.write() as w:
            if vdb.active_model(w) is None:
                vdb.switch_model(w, *model)
            doc = documents_db.insert_staging(
                w, f"part-{have // PER_DOCUMENT:04d}", f"/synthetic/part-{have // PER_DOCUMENT:04d}.txt",
                "text", sum(map(len, texts)), f"h{have}", "bench",
            )  # fmt: skip
            rows = (
                NewChunk(i, t, "", "", f"s{have + i}", i + 1, i + 1, None, None) for i, t in enumerate(texts)
            )
            documents_db.insert_chunks(w, doc, rows)
            documents_db.finalize(w, doc, None, None)
            # vectors straight into vec0: the embedding cache is not what this benchmark measures
            ids = [
                r[0]
                for r in w.execute("SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc,))
            ]
            w.executemany(
                """INSERT INTO chunks_vec (chunk_id, document_id, embedding, embedding_bit)
                   VALUES (?, ?, ?, vec_quantize_binary(?))""",
                ((c, doc, noisy[i].tobytes(), noisy[i].tobytes()) for i, c in enumerate(ids)),
            )
            w.execute(
                "DELETE FROM embed_queue WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)",
                (doc,),
            )
            vdb.bump_version(w)
        have += n
        if have % 100_000 == 0 or have == target:
            log(f"  store: {have} chunks")


def cached_store(
    cache: Path,
    size: int,
    sizes: Sequence[int],
    words: Sequence[str],
    seeds: np.ndarray,
    model: tuple[str, int],
) -> Path:
    """The store of `size` chunks under `cache`, built from a copy of the next smaller one if need be."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"chunks-{size}.db"
    if path.exists() and not (cache / f"chunks-{size}.building").exists():
        return path
    smaller = [s for s in sorted(sizes) if s < size and (cache / f"chunks-{s}.db").exists()]
    marker = cache / f"chunks-{size}.building"
    marker.touch()
    if smaller and not path.exists():
        shutil.copyfile(cache / f"chunks-{smaller[-1]}.db", path)
    store = open_store(path)
    started = time.perf_counter()
    grow(store, size, words, seeds, model)
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    marker.unlink()
    log(f"  built {path} in {time.perf_counter() - started:.0f} s")
    return path


# -- measuring --------------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"p50_ms": round(1000 * statistics.median(ordered), 1), "p95_ms": round(1000 * p95, 1)}


@contextlib.contextmanager
def old_path() -> Iterator[None]:
    """Today's ranking: FTS5 `ORDER BY bm25()` over every matching chunk, for bm25 and hybrid mode."""
    saved = lexical.bm25_candidates, hybrid.bm25_candidates

    def plain(store: Store, match: str, scope: Sequence[int] | None, limit: int) -> list[tuple[int, float]]:
        return search_db.bm25_candidates(store.conn(), match, scope, limit)

    lexical.bm25_candidates = hybrid.bm25_candidates = plain  # type: ignore[assignment]
    try:
        yield
    finally:
        lexical.bm25_candidates, hybrid.bm25_candidates = saved


def same_ranking(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """Same scores in order, and the same ids at every score but the last (k may cut a tie)."""
    if [h.score for h in a] != [h.score for h in b]:
        return False
    last = b[-1].score if b else None
    return all({h.chunk_id for h in a if h.score == s} == {h.chunk_id for h in b if h.score == s}
               for s in {h.score for h in b} if s != last)  # fmt: skip


def word_queries(store: Store, n: int) -> list[str]:
    """2-4 words of 4+ letters drawn from random chunks (benchmarks/load_search.py's queries)."""
    rng = random.Random(7)
    texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks ORDER BY random() LIMIT 300")]
    words = [w for t in texts for w in t.split() if w.isalpha() and len(w) > 3]
    return [" ".join(rng.sample(words, rng.randint(2, 4))) for _ in range(n)]


def timed(
    store: Store, settings: Any, texts: Sequence[str], mode: str, embedder: Any, bits: Any
) -> tuple[list[float], list[Any]]:
    samples, answers = [], []
    for text in texts:
        started = time.perf_counter()
        result = search_chunks(store, settings, text, mode, top_k=10, embedder=embedder, bit_indexes=bits)
        samples.append(time.perf_counter() - started)
        answers.append(result.hits)
    return samples, answers


@contextlib.contextmanager
def no_read_ahead() -> Iterator[None]:
    """A process whose first searches find nothing read ahead (search/bm25_read_ahead.py's WARM_ABOVE)."""
    saved = bm25_read_ahead.WARM_ABOVE
    bm25_read_ahead.WARM_ABOVE = sys.maxsize
    try:
        yield
    finally:
        bm25_read_ahead.WARM_ABOVE = saved


def read_ahead(store: Store) -> tuple[float, int]:
    """Seconds until the read-ahead begun by the first search has ended, and the postings it holds."""
    started = time.perf_counter()
    cache = store.caches.get(bm25.CACHE_KEY)
    if isinstance(cache, bm25.IndexCache):
        cache.warmed.wait(3600)
        return time.perf_counter() - started, cache.held
    return 0.0, 0


def add_chunks(store: Store, words: Sequence[str], n: int) -> int:
    """A document of `n` new chunks (a load), committed; its id. A run that died after adding it left
    it in the cached store: it is removed first (its path is unique, so the insert would fail)."""
    texts = window_texts(words, 10**9, n)
    with store.write() as w:
        for row in documents_db.staging_rows(w, ADDED_PATH):
            documents_db.delete_staging(w, row.id)
        if (left := documents_db.find_ready(w, ADDED_PATH)) is not None:
            documents_db.delete_document(w, left.id)
        doc = documents_db.insert_staging(w, "added", ADDED_PATH, "text", 1, "added", "bench")
        documents_db.insert_chunks(
            w, doc, (NewChunk(i, t, "", "", f"a{i}", i + 1, i + 1, None, None) for i, t in enumerate(texts))
        )
        return documents_db.finalize(w, doc, None, None)


def measure(path: Path, sets: dict[str, list[str]], embedder: Any, words: Sequence[str]) -> dict[str, Any]:
    """Old and new path on the same store and queries: bm25 (new: first use of each query's words in
    a process without read-ahead, then with it, then again), hybrid; the first searches after a
    load; the number of queries whose top 10 differ."""
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(path.parent), "RLM_DB": str(path)})
    sets = {name: texts for name, texts in sets.items() if texts}
    row: dict[str, Any] = {"load_average_before": [round(x, 1) for x in os.getloadavg()]}
    with no_read_ahead():
        store = open_store(path)
        row["chunks"] = int(store.conn().execute("SELECT count(*) FROM chunks").fetchone()[0])
        started = time.perf_counter()
        search_chunks(store, settings, "the of and in to with", "bm25")  # a first search reads row lengths
        row["first_search_s"] = round(time.perf_counter() - started, 2)
        bare = {name: timed(store, settings, t, "bm25", embedder, None)[0] for name, t in sets.items()}
        store.close()
    store = open_store(path)
    bits = BitIndexCache()  # what a server's Workspace holds
    search_chunks(store, settings, "the of and in to with", "bm25")
    seconds, held = read_ahead(store)
    row["read_ahead_s"], row["read_ahead_postings"] = round(seconds, 1), held
    search_chunks(store, settings, "warm vectors", "hybrid", embedder=embedder, bit_indexes=bits)
    for name, texts in sets.items():
        cold, new = timed(store, settings, texts, "bm25", embedder, bits)
        warm, _ = timed(store, settings, texts, "bm25", embedder, bits)
        hybrid_new, hybrid_hits = timed(store, settings, texts, "hybrid", embedder, bits)
        with old_path():
            old, reference = timed(store, settings, texts, "bm25", embedder, bits)
            hybrid_old, hybrid_reference = timed(store, settings, texts, "hybrid", embedder, bits)
        row[name] = {
            "queries": len(texts),
            "bm25_old": percentiles(old),
            "bm25_new_bare": percentiles(bare[name]),
            "bm25_new_first": percentiles(cold),
            "bm25_new_again": percentiles(warm),
            "hybrid_old": percentiles(hybrid_old),
            "hybrid_new": percentiles(hybrid_new),
            "bm25_top10_differ": sum(not same_ranking(a, b) for a, b in zip(new, reference, strict=True)),
            "hybrid_top10_differ": sum(
                [h.chunk_id for h in a] != [h.chunk_id for h in b]
                for a, b in zip(hybrid_hits, hybrid_reference, strict=True)
            ),
        }
        log(f"  {path.name} {name}: {json.dumps(row[name])}")
    texts = next(iter(sets.values()))
    added = add_chunks(store, words, LOAD_CHUNKS)
    after, hits = timed(store, settings, texts, "bm25", embedder, bits)
    with old_path():
        _, reference = timed(store, settings, texts, "bm25", embedder, bits)
    remove_document(store, added)
    row["after_load"] = {
        "chunks_added": LOAD_CHUNKS,
        "first_query_ms": round(1000 * after[0], 1),
        **percentiles(after),
        "bm25_top10_differ": sum(not same_ranking(a, b) for a, b in zip(hits, reference, strict=True)),
    }
    log(f"  {path.name} after a load: {json.dumps(row['after_load'])}")
    row["load_average_after"] = [round(x, 1) for x in os.getloadavg()]
    store.close()
    return row


def quality(data: Path, work: Path, limit_docs: int | None, limit_queries: int | None) -> dict[str, Any]:
    """SciFact train nDCG@10: FTS5's ranking, the new path, and rank-bm25 over the same FTS5 tokens."""
    import retrieval
    from rank_bm25 import BM25Okapi

    corpus, queries, qrels = retrieval.read_beir(data / "scifact", "train", limit_docs, limit_queries)
    folder = work / "scifact-corpus"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        for doc in corpus:
            body = f"{doc['title']}\n\n{doc['text']}\n" if doc.get("title") else f"{doc['text']}\n"
            (folder / f"{doc['_id']}.txt").write_text(body, encoding="utf-8")
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(work), "RLM_DB": str(work / "scifact.db")})
    store = open_store(settings.db_path)
    load_document(store, settings, str(folder))
    chunk_doc = retrieval.chunk_documents(store)
    ids = sorted(chunk_doc)
    tokens = retrieval.fts_tokens(store)
    okapi = BM25Okapi([tokens.get(c, []) for c in ids], k1=1.2, b=0.75)
    query_tokens = retrieval.fts_tokens(store, queries)
    runs: dict[str, list[list[str]]] = {"bm25_old": [], "bm25_new": [], "rank_bm25": []}
    for qid, text in queries.items():
        match = fts_query(text) or ""
        runs["bm25_old"].append(
            retrieval.doc_ranking(
                [c for c, _ in search_db.bm25_candidates(store.conn(), match, None, 100)], chunk_doc
            )
        )
        runs["bm25_new"].append(
            retrieval.doc_ranking([c for c, _ in lexical.bm25_candidates(store, match, None, 100)], chunk_doc)
        )
        scores = okapi.get_scores(list(dict.fromkeys(query_tokens.get(qid, []))))
        top = np.argsort(-scores, kind="stable")[:100]
        runs["rank_bm25"].append(retrieval.doc_ranking([ids[i] for i in top if scores[i] > 0], chunk_doc))
    store.close()
    relevant = [qrels[q] for q in queries]
    out: dict[str, Any] = {"documents": len(corpus), "queries": len(queries)}
    for name, ranked in runs.items():
        out[f"ndcg@10_{name}"] = round(
            statistics.fmean(retrieval.ndcg_at(r, rel) for r, rel in zip(ranked, relevant, strict=True)), 4
        )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--queries", type=int, default=50, help="SciFact train queries per size")
    parser.add_argument("--word-queries", type=int, default=30, help="sampled-word queries per size")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    if args.smoke:
        sizes, args.queries, args.word_queries = [2000], 8, 4
        bm25_read_ahead.WARM_ABOVE = 0  # the read-ahead runs on the small store too
    else:
        sizes = [int(s) for s in args.sizes.split(",") if s]
    words = source_words(args.data, args.smoke)
    embedder = make_embedder(args.smoke)
    seeds = seed_vectors(args.data, embedder)
    model = (embedder.model_id, embedder.dim)
    paths = [cached_store(args.cache, size, sizes, words, seeds, model) for size in sizes]
    if args.build_only:
        return
    lines = (args.data / "scifact" / "queries-train.jsonl").read_text(encoding="utf-8").splitlines()
    scifact = [json.loads(line)["text"] for line in lines[: args.queries]]
    report: dict[str, Any] = {"sizes": {}}
    for size, path in zip(sizes, paths, strict=True):
        store = open_store(path)
        sampled = word_queries(store, args.word_queries)
        store.close()
        report["sizes"][str(size)] = measure(path, {"scifact": scifact, "words": sampled}, embedder, words)
    if not args.skip_quality:
        limits = (150, 20) if args.smoke else (None, None)
        report["quality"] = quality(args.data, args.cache, *limits)
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def print_report(report: dict[str, Any]) -> None:
    columns = ("bm25_old", "bm25_new_bare", "bm25_new_first", "bm25_new_again", "hybrid_old", "hybrid_new")
    print(
        "| chunks | queries | bm25 FTS5 p50/p95 ms | bm25 new, first use, no read-ahead | first use, after "
        "read-ahead | again | hybrid FTS5 | hybrid new | top-10 differ (bm25 / hybrid) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in report["sizes"].values():
        for name in ("scifact", "words"):
            if name not in row:
                continue
            f = row[name]
            cells = [f"{f[key]['p50_ms']} / {f[key]['p95_ms']}" for key in columns]
            print(
                f"| {row['chunks']} | {f['queries']} {name} | "
                + " | ".join(cells)
                + f" | {f['bm25_top10_differ']} / {f['hybrid_top10_differ']} |"
            )
        a = row["after_load"]
        print(
            f"{row['chunks']} chunks: first search of a process {row['first_search_s']} s; read-ahead "
            f"{row['read_ahead_s']} s ({row['read_ahead_postings']} postings); after a load of "
            f"{a['chunks_added']} chunks: first query {a['first_query_ms']} ms, p50/p95 {a['p50_ms']} / "
            f"{a['p95_ms']} ms, top-10 differ {a['bm25_top10_differ']}; load average (1, 5, 15 min) before "
            f"{row['load_average_before']}, after {row['load_average_after']}"
        )
    if "quality" in report:
        q = report["quality"]
        print(
            f"SciFact train nDCG@10 ({q['documents']} documents, {q['queries']} queries): "
            f"bm25 old {q['ndcg@10_bm25_old']}, bm25 new {q['ndcg@10_bm25_new']}, "
            f"rank-bm25 {q['ndcg@10_rank_bm25']}"
        )


if __name__ == "__main__":
    main()
