"""Retrieval quality, latency and embedding throughput of rlm-mcp's bm25, semantic and hybrid search.

Quality on a BEIR-layout data set (default shared/data/scifact beside the repository's root, or
$RLM_SHARED_DATA/scifact: corpus.jsonl, queries-<split>.jsonl,
qrels-<split>.tsv): every document becomes a file, loaded through `load_document` (the real chunker),
embedded by the real pipeline; nDCG@10, recall@10 and recall@100 per mode, a document scoring as its
best chunk. Fusion variants (min-max, RRF k=60/30/10) are computed from the same candidate lists the
product fuses; an independent BM25 (rank-bm25's BM25Okapi over the FTS5 tokens) checks ours.
Embedding throughput: our pipeline against a bare fastembed `embed()` over the same texts, interleaved
slice by slice in the same run. Scale: KNN and search latency at 10k/100k/1M chunks with synthetic
text and vectors (real vectors plus noise), exact KNN against the binary-quantized first pass.

    python benchmarks/retrieval.py [DATA_DIR] [--split train] [--limit-docs N] [--limit-queries N]
                                   [--scales 10000,100000,1000000] [--skip-quality] [--skip-scale]
    python benchmarks/retrieval.py --smoke   # a generated 24-document set, every step once (the tests)
                                   [--model ID] [--vector-cache DIR [--seed-stores DB ...]]
"""

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared_data import shared_data
from vector_cache import CachedEmbedder, cache_path, seed_from_stores

from rlm_mcp.config import load_settings
from rlm_mcp.embedding.model import FastEmbedder
from rlm_mcp.embedding.worker import embed_all
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import fts_query, hybrid, search_chunks
from rlm_mcp.search import quantized as bit_index
from rlm_mcp.search.fusion import fuse
from rlm_mcp.store import Store, open_store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.store import vectors as vdb
from rlm_mcp.store.rows import NewChunk

DEFAULT_DATA = shared_data() / "scifact"  # $RLM_SHARED_DATA, else shared/data beside the repository
FUSIONS: dict[str, tuple[str, float]] = {
    "minmax": ("minmax", 0.0),
    "rrf_k60": ("rrf", 60.0),
    "rrf_k30": ("rrf", 30.0),
    "rrf_k10": ("rrf", 10.0),
}
SLICES = 4
CANDIDATE_SWEEP = (100, 200, 400, 800)
SMOKE_TOPICS = (
    "volcano eruption lava ash",
    "honey bees pollinate flowers",
    "glacier ice melting sea level",
    "vaccine antibody immune response",
    "neutron star gravitational waves",
    "coral reef bleaching ocean heat",
    "insulin glucose diabetes treatment",
    "deep sea octopus camouflage",
    "solar panel silicon efficiency",
    "migratory birds magnetic navigation",
    "antibiotic resistant bacteria genes",
    "rainforest canopy rainfall carbon",
)
SMOKE_SCALE = 400  # chunks of the smoke's synthetic store


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data and metrics --------------------------------------------------------------------------------


def read_beir(
    data: Path, split: str, limit_docs: int | None, limit_queries: int | None
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, set[str]]]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    queries = {
        q["_id"]: q["text"] for q in map(json.loads, (data / f"queries-{split}.jsonl").open(encoding="utf-8"))
    }
    qrels: dict[str, set[str]] = {}
    for line in list((data / f"qrels-{split}.tsv").open(encoding="utf-8"))[1:]:
        qid, did, score = line.rstrip("\n").split("\t")
        if int(score) > 0:
            qrels.setdefault(qid, set()).add(did)
    qrels = {q: d for q, d in qrels.items() if q in queries}
    if limit_docs:  # keep every judged document, then fill up with others
        judged = set().union(*qrels.values())
        keep = [d for d in corpus if d["_id"] in judged] + [d for d in corpus if d["_id"] not in judged]
        corpus = keep[:limit_docs]
        present = {d["_id"] for d in corpus}
        qrels = {q: ds & present for q, ds in qrels.items() if ds & present}
    if limit_queries:
        qrels = dict(sorted(qrels.items())[:limit_queries])
    return corpus, {q: queries[q] for q in qrels}, qrels


def ndcg_at(ranked: Sequence[str], relevant: set[str], k: int = 10) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def doc_ranking(chunk_ranking: Sequence[int], chunk_doc: dict[int, str]) -> list[str]:
    """A document ranks where its best chunk ranks."""
    return list(dict.fromkeys(chunk_doc[c] for c in chunk_ranking if c in chunk_doc))


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * p95, 2),
        "n": len(ordered),
    }


# -- quality -------------------------------------------------------------------------------------------


def build_corpus_store(
    work: Path, corpus: list[dict[str, str]], embedder: Any, bare: bool = True
) -> tuple[Store, Any, dict[str, Any]]:
    """Load the corpus in SLICES loads; after each, time the bare model then our pipeline on its chunks.
    `embedder`: a FastEmbedder, or a CachedEmbedder (then only texts it has not seen reach the model)."""
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(work), "RLM_DB": str(work / ".rlm" / "rlm.db")})
    store = open_store(settings.db_path)
    if bare:
        bare_model = FastEmbedder(embedder.spec)  # a second instance: neither run warms the other's caches
        bare_model.load()
    embedder.load()
    timing = {"bare_s": 0.0, "pipeline_s": 0.0, "texts": 0, "load_s": 0.0}
    size = math.ceil(len(corpus) / SLICES)
    for number in range(SLICES):
        folder = work / "corpus" / f"part{number}"
        folder.mkdir(parents=True)
        for doc in corpus[number * size : (number + 1) * size]:
            body = f"{doc['title']}\n\n{doc['text']}\n" if doc.get("title") else f"{doc['text']}\n"
            (folder / f"{doc['_id']}.txt").write_text(body, encoding="utf-8")
        started = time.perf_counter()
        load_document(store, settings, str(folder))
        timing["load_s"] += time.perf_counter() - started
        texts = [
            r[0]
            for r in store.conn().execute(
                "SELECT c.text FROM embed_queue q JOIN chunks c ON c.id = q.chunk_id"
            )
        ]
        started = time.perf_counter()
        if bare:
            bare_model.embed_documents(texts)
        timing["bare_s"] += time.perf_counter() - started
        started = time.perf_counter()
        embed_all(store, embedder)
        timing["pipeline_s"] += time.perf_counter() - started
        if isinstance(embedder, CachedEmbedder):
            embedder.save()
        timing["texts"] += len(texts)
        log(
            f"slice {number + 1}/{SLICES}: {len(texts)} chunks, bare {timing['bare_s']:.1f} s, "
            f"pipeline {timing['pipeline_s']:.1f} s so far"
        )
    return store, settings, timing


def chunk_documents(store: Store) -> dict[int, str]:
    rows = store.conn().execute("SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id")
    return {int(cid): Path(path).stem for cid, path in rows}


def fts_tokens(store: Store, texts: dict[Any, str] | None = None) -> dict[Any, list[str]]:
    """The FTS5 tokens ('porter unicode61') of every chunk, or of `texts` (via a temporary FTS5 table)."""
    conn = store.conn()
    if texts is None:
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.bench_vocab USING fts5vocab(main, chunks_fts, instance)"
        )
        rows = conn.execute("SELECT doc, term FROM temp.bench_vocab ORDER BY doc, offset")
        keys = None
    else:
        conn.execute("CREATE VIRTUAL TABLE temp.bench_q USING fts5(text, tokenize = 'porter unicode61')")
        keys = list(texts)
        conn.executemany(
            "INSERT INTO temp.bench_q (rowid, text) VALUES (?, ?)",
            [(i + 1, texts[k]) for i, k in enumerate(keys)],
        )
        conn.execute("CREATE VIRTUAL TABLE temp.bench_qv USING fts5vocab(temp, bench_q, instance)")
        rows = conn.execute("SELECT doc, term FROM temp.bench_qv ORDER BY doc, offset")
    tokens: dict[Any, list[str]] = {}
    for doc, term in rows:
        key = doc if keys is None else keys[doc - 1]
        tokens.setdefault(key, []).append(term)
    return tokens


def quality(
    store: Store, settings: Any, embedder: FastEmbedder, queries: dict[str, str], qrels: dict[str, set[str]]
) -> dict[str, Any]:
    from rank_bm25 import BM25Okapi

    chunk_doc = chunk_documents(store)
    conn = store.conn()
    chunk_tokens = fts_tokens(store)
    ids = sorted(chunk_doc)
    okapi = BM25Okapi([chunk_tokens.get(c, []) for c in ids], k1=1.2, b=0.75)
    query_tokens = fts_tokens(store, queries)
    runs: dict[str, list[list[str]]] = {
        m: [] for m in ("bm25", "bm25_nostop", "semantic", "rank_bm25", *FUSIONS)
    }
    checked = 0
    for qid, text in queries.items():
        match = fts_query(text)
        full = search_db.bm25_candidates(conn, match, None, 100) if match else []
        lean = hybrid.candidate_query(text, conn, vdb.scope_size(conn, None))
        bm25 = search_db.bm25_candidates(conn, lean, None, 100) if lean else []
        vectors = hybrid.vector_candidates(store, text, None, hybrid.CANDIDATES, embedder).ranked
        runs["bm25"].append(doc_ranking([c for c, _ in full], chunk_doc))
        runs["bm25_nostop"].append(doc_ranking([c for c, _ in bm25], chunk_doc))
        runs["semantic"].append(doc_ranking([c for c, _ in vectors], chunk_doc))
        scores = okapi.get_scores(list(dict.fromkeys(query_tokens.get(qid, []))))
        top = np.argsort(-scores, kind="stable")[:100]
        runs["rank_bm25"].append(doc_ranking([ids[i] for i in top if scores[i] > 0], chunk_doc))
        for name, (method, k) in FUSIONS.items():
            fused = fuse({"bm25": bm25, "semantic": vectors}, method, k or 60.0)  # type: ignore[arg-type]
            runs[name].append(doc_ranking([f.id for f in fused], chunk_doc))
            fused_full = fuse({"bm25": full, "semantic": vectors}, method, k or 60.0)  # type: ignore[arg-type]
            runs.setdefault(f"{name}_allwords", []).append(doc_ranking([f.id for f in fused_full], chunk_doc))
        if checked < 20:  # the product's hybrid answer is exactly this fusion
            product = search_chunks(store, settings, text, "hybrid", top_k=10, embedder=embedder)
            expected = [f.id for f in fuse({"bm25": bm25, "semantic": vectors}, hybrid.DEFAULT_FUSION)][:10]
            assert [h.chunk_id for h in product.hits] == expected[: len(product.hits)], (qid, product.hits)
            checked += 1
    relevant = [qrels[q] for q in queries]
    return {
        name: {
            "ndcg@10": round(
                statistics.fmean(ndcg_at(r, rel) for r, rel in zip(ranked, relevant, strict=True)), 4
            ),
            "recall@10": round(
                statistics.fmean(recall_at(r, rel, 10) for r, rel in zip(ranked, relevant, strict=True)), 4
            ),
            "recall@100": round(
                statistics.fmean(recall_at(r, rel, 100) for r, rel in zip(ranked, relevant, strict=True)), 4
            ),
        }
        for name, ranked in runs.items()
    }


def search_latency(
    store: Store,
    settings: Any,
    queries: Sequence[str],
    modes: Sequence[str],
    embedder: FastEmbedder,
    bit_indexes: bit_index.BitIndexCache,
) -> dict[str, Any]:
    result = {}
    for mode in modes:
        samples = []
        for text in queries:
            started = time.perf_counter()
            search_chunks(store, settings, text, mode, top_k=10, embedder=embedder, bit_indexes=bit_indexes)
            samples.append(time.perf_counter() - started)
        result[mode] = percentiles(samples)
    return result


# -- scale -----------------------------------------------------------------------------------------------


def grow_synthetic(
    store: Store,
    target: int,
    vocab: list[str],
    weights: np.ndarray,
    seeds: np.ndarray,
    rng: np.random.Generator,
    model: tuple[str, int],
) -> None:
    """Add synthetic chunks (Zipf-sampled words) and vectors (real vectors plus noise) up to `target`,
    through the product's own store functions (insert_chunks, claim, save_vectors)."""
    conn = store.conn()
    have = int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])
    words, batch = 40, 20_000
    while have < target:
        n = min(batch, target - have)
        picks = rng.choice(len(vocab), size=(n, words), p=weights)
        base = seeds[rng.integers(0, len(seeds), n)]
        noisy = base + rng.normal(0, 0.8 / math.sqrt(seeds.shape[1]), base.shape).astype(np.float32)
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        with store.write() as w:
            if vdb.active_model(w) is None:
                vdb.switch_model(w, *model)
            doc = documents_db.insert_staging(
                w, f"synthetic-{have}", f"/synthetic/{have}", "text", 0, "", "bench"
            )
            documents_db.insert_chunks(
                w,
                doc,
                (
                    NewChunk(
                        i, " ".join(vocab[j] for j in picks[i]), "", "", f"s{have + i}", 1, 1, None, None
                    )
                    for i in range(n)
                ),
            )
            documents_db.finalize(w, doc, None, None)
            ids = vdb.claim(w, "bench", n, time.time(), 3600)
            vectors = {f"s{have + i}": noisy[i].tobytes() for i in range(n)}
            vdb.save_vectors(w, "bench", model[0], vectors, ids)
        have += n
        if have % 100_000 == 0 or have == target:
            log(f"  synthetic store: {have} chunks")


def scale(
    store: Store,
    settings: Any,
    embedder: FastEmbedder,
    sizes: Sequence[int],
    queries: list[str],
    seeds: np.ndarray,
    n_queries: int,
    source: Store,
) -> dict[str, Any]:
    conn = store.conn()
    counts: dict[str, int] = {}
    for (text,) in source.conn().execute("SELECT text FROM chunks LIMIT 20000"):
        for word in text.lower().split():
            counts[word] = counts.get(word, 0) + 1
    vocab = sorted(counts, key=lambda w: -counts[w])[:20000]
    weights = np.array([counts[w] for w in vocab], dtype=np.float64)
    weights /= weights.sum()
    rng = np.random.default_rng(7)
    sample = queries[:n_queries]
    qvecs = [embedder.embed_query(q).tobytes() for q in sample]
    results: dict[str, Any] = {}
    for size in sizes:
        grow_synthetic(store, size, vocab, weights, seeds, rng, (embedder.model_id, embedder.dim))
        row: dict[str, Any] = {"chunks": int(conn.execute("SELECT count(*) FROM chunks").fetchone()[0])}
        cache = bit_index.BitIndexCache()  # what a server's Workspace holds: built once per vector version
        row |= knn_figures(store, qvecs, embedder.model_id, cache)
        row["search"] = search_latency(
            store, settings, sample, ("bm25", "semantic", "hybrid"), embedder, cache
        )
        row["search_path"] = "quantized" if row["chunks"] > hybrid.QUANTIZE_ABOVE else "exact"
        default = hybrid.QUANTIZE_ABOVE  # the other path too, for comparison (fewer queries)
        hybrid.QUANTIZE_ABOVE = 10**12 if row["search_path"] == "quantized" else 0
        try:
            other = "exact" if row["search_path"] == "quantized" else "quantized"
            few = sample[: max(20, len(sample) // 3)]
            row[f"search_{other}_path"] = search_latency(
                store, settings, few, ("semantic", "hybrid"), embedder, cache
            )
        finally:
            hybrid.QUANTIZE_ABOVE = default
        log(f"  {size}: {json.dumps(row)}")
        results[str(size)] = row
    return results


def knn_figures(
    store: Store, qvecs: list[bytes], model: str, cache: bit_index.BitIndexCache | None = None
) -> dict[str, Any]:
    """Exact KNN latency; latency and recall@10 of the binary first pass (in RAM, then exact rescoring)
    per candidate count; vec0's own Hamming KNN at 100 candidates for comparison."""
    conn = store.conn()
    truths, exact = [], []
    for q in qvecs:
        started = time.perf_counter()
        truths.append({c for c, _ in vdb.knn(conn, q, 10, None)})
        exact.append(time.perf_counter() - started)
    figures: dict[str, Any] = {"knn_exact_k10": percentiles(exact)}
    started = time.perf_counter()
    cache = cache or bit_index.BitIndexCache()
    cache.current(store)
    figures["bit_index_load_s"] = round(time.perf_counter() - started, 3)
    runs: dict[str, Callable[[bytes, int], Any]] = {
        f"quantized_c{c}": (lambda q, c=c: bit_index.knn(store, q, 10, c, None, model, cache))
        for c in CANDIDATE_SWEEP
    }
    runs["vec0_hamming_c100"] = lambda q: vdb.knn_quantized(conn, q, 10, 100, None, model)
    for name, run in runs.items():
        samples, recalls = [], []
        for q, truth in zip(qvecs, truths, strict=True):
            started = time.perf_counter()
            approx = {c for c, _ in run(q)}
            samples.append(time.perf_counter() - started)
            recalls.append(len(truth & approx) / max(1, len(truth)))
        figures[name] = percentiles(samples) | {"recall@10": round(statistics.fmean(recalls), 4)}
    return figures


def real_vector_recall(store: Store, embedder: FastEmbedder, queries: list[str]) -> dict[str, Any]:
    """Binary first pass + exact rescoring against exact KNN, on the real corpus vectors."""
    qvecs = [embedder.embed_query(text).tobytes() for text in queries]
    figures = knn_figures(store, qvecs, embedder.model_id)
    return {"vectors": vdb.count_vectors(store.conn()), "queries": len(queries)} | figures


def write_smoke_data(folder: Path) -> Path:
    """A BEIR-layout set of two documents per topic, one query per topic judged to its first document."""
    folder.mkdir(parents=True, exist_ok=True)
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for n, topic in enumerate(SMOKE_TOPICS):
        words = topic.split()
        for copy in (0, 1):
            text = (
                f"A study of {topic}. "
                + " ".join(words[copy:] + words[:copy]) * (2 - copy)
                + " was measured."
            )
            corpus.append({"_id": f"{n}-{copy}", "title": words[0].title(), "text": text})
        queries.append({"_id": f"q{n}", "text": f"what is known about {words[0]} {words[1]}"})
        qrels.append(f"q{n}\t{n}-0\t1")
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
    (folder / "queries-train.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8"
    )
    (folder / "qrels-train.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="train")
    parser.add_argument("--limit-docs", type=int)
    parser.add_argument("--limit-queries", type=int)
    parser.add_argument("--scales", default="10000,100000,1000000")
    parser.add_argument("--scale-queries", type=int, default=100)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument("--skip-bare", action="store_true", help="no bare model run (quality only)")
    parser.add_argument("--workdir", type=Path, help="keep the stores here (default: a temporary dir)")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--model", help="RLM_EMBED_MODEL for this run (default: the shipped default)")
    parser.add_argument(
        "--vector-cache", type=Path, help="keep document vectors by text here (implies --skip-bare)"
    )
    parser.add_argument(
        "--seed-stores",
        type=Path,
        nargs="*",
        default=[],
        help="rlm.db files whose vectors of this model fill the --vector-cache first (checked)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a generated set and a {SMOKE_SCALE}-chunk scale: every step once",
    )
    args = parser.parse_args(argv)
    if args.seed_stores and not args.vector_cache:
        parser.error("--seed-stores needs --vector-cache")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="rlm-retrieval-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        args.data = write_smoke_data(work / "smoke-data")
        args.split, args.scales, args.scale_queries = "train", str(SMOKE_SCALE), 5
    if not (args.data / "corpus.jsonl").is_file():
        parser.error(f"{args.data} has no corpus.jsonl (BEIR layout expected); pass DATA_DIR or --smoke")
    corpus, queries, qrels = read_beir(args.data, args.split, args.limit_docs, args.limit_queries)
    log(f"{len(corpus)} documents, {len(queries)} {args.split} queries; work dir {work}")
    embedder: Any = FastEmbedder(args.model)
    if args.vector_cache:  # the bare run would embed every text anyway: a cache makes no sense with it
        args.skip_bare = True
        embedder = CachedEmbedder(embedder, cache_path(args.vector_cache, embedder.model_id))
        log(f"vector cache {embedder.path}: {len(embedder.cache)} vectors")
        if seed_from_stores(embedder, args.seed_stores, log):
            embedder.save()
    report: dict[str, Any] = {
        "model": embedder.model_id,
        "data": str(args.data),
        "split": args.split,
        "documents": len(corpus),
        "queries": len(queries),
        "fusion_default": hybrid.DEFAULT_FUSION,
    }
    store, settings, timing = build_corpus_store(work / "quality", corpus, embedder, not args.skip_bare)
    report["chunks"] = vdb.count_vectors(store.conn())
    if isinstance(embedder, CachedEmbedder):
        timing["embedded_now"] = embedder.computed
    report["embedding"] = timing | {
        "bare_chunks_per_s": round(timing["texts"] / timing["bare_s"], 2) if not args.skip_bare else None,
        "pipeline_chunks_per_s": round(timing["texts"] / timing["pipeline_s"], 2),
        "ratio": round(timing["bare_s"] / timing["pipeline_s"], 3) if not args.skip_bare else None,
    }
    log(json.dumps(report["embedding"]))
    report["quality"] = quality(store, settings, embedder, queries, qrels)
    log(json.dumps(report["quality"], indent=1))
    texts = list(queries.values())
    report["latency_corpus"] = search_latency(
        store, settings, texts[:200], ("bm25", "semantic", "hybrid"), embedder, bit_index.BitIndexCache()
    )
    report["quantized_recall_real"] = real_vector_recall(store, embedder, texts[:200])
    log(json.dumps(report["latency_corpus"]) + " " + json.dumps(report["quantized_recall_real"]))
    if not args.skip_scale:
        seeds = np.frombuffer(
            b"".join(r[0] for r in store.conn().execute("SELECT vector FROM embeddings")), dtype=np.float32
        ).reshape(-1, embedder.dim)
        scale_settings = load_settings(
            {"CLAUDE_PROJECT_DIR": str(work), "RLM_DB": str(work / ".rlm-scale" / "rlm.db")}
        )
        scale_store = open_store(scale_settings.db_path)
        sizes = [int(s) for s in args.scales.split(",") if s]
        report["scale"] = scale(
            scale_store, scale_settings, embedder, sizes, texts, seeds, args.scale_queries, store
        )
        scale_store.close()
    store.close()
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
