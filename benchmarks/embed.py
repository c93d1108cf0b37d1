"""Embedding throughput, memory, quality and responsiveness: the old path against the new, same run.

Old path: `all-MiniLM-L6-v2-int8`, the pinned file as it is (int8 storage, fp32 MatMuls) through
fastembed, today's code. New path: `all-MiniLM-L6-v2-q8` (the default), the same file converted to
int8 MatMuls, run by our onnxruntime session. On the same SciFact documents, loaded by the real
loader into one store per path:
- chunks/s of the product's pipeline (`embed_batch`: claim, embed, store), the two paths interleaved
  batch by batch; achieved GFLOP/s from the chunks' token counts, against the machine's GEMM rates
  measured here (numpy fp32, onnxruntime fp32 MatMul and int8 MatMulInteger);
- peak RSS of a child process that embeds a whole store (`embed_all`), per path;
- SciFact nDCG@10 (semantic and hybrid, `search_chunks`) per path, and the cosine between the two
  paths' vectors of every chunk;
- search p95 (`search_chunks`, all three modes) with and without the background worker running.

    python benchmarks/embed.py [--data DIR] [--docs 800] [--rss-docs 400] [--queries 200] [--smoke]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval import DEFAULT_DATA, doc_ranking, ndcg_at, percentiles, read_beir

from rlm_mcp.config import load_settings
from rlm_mcp.embedding.model import DEFAULT_MODEL_ID, STORED_INT8_MODEL_ID, FastEmbedder, assemble_model_dir
from rlm_mcp.embedding.worker import EmbeddingWorker, embed_all, embed_batch, prepare_model, worker_id
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import search_chunks
from rlm_mcp.store import Store, open_store

PATHS = {"old": STORED_INT8_MODEL_ID, "new": DEFAULT_MODEL_ID}
HIDDEN, FFN, LAYERS = 384, 1536, 6  # all-MiniLM-L6-v2
GEMM_SHAPE = (2048, 384, 1536)  # tokens x hidden x FFN: the model's largest MatMul at 8 chunks of 256


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the machine ------------------------------------------------------------------------------------


def gemm_rates() -> dict[str, float]:
    """GFLOP/s of numpy's fp32 GEMM (square 2048 and the model's shape), onnxruntime's fp32 MatMul and
    int8 MatMulInteger on the model's shape: best of 5."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    m, k, n = GEMM_SHAPE
    rng = np.random.default_rng(0)

    def best(run: Any, flops: float) -> float:
        run()
        times = []
        for _ in range(5):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        return round(flops / min(times) / 1e9, 1)

    square = rng.standard_normal((2048, 2048), dtype=np.float32)
    a32, b32 = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    rates = {
        "numpy_fp32_square2048": best(lambda: square @ square, 2 * 2048**3),
        "numpy_fp32_model_shape": best(lambda: a32 @ b32, 2 * m * k * n),
    }
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    for name, op, a_type in (
        ("ort_fp32_matmul", "MatMul", TensorProto.FLOAT),
        ("ort_int8_matmulinteger", "MatMulInteger", TensorProto.UINT8),
    ):
        out_type = TensorProto.INT32 if op == "MatMulInteger" else TensorProto.FLOAT
        graph = helper.make_graph(
            [helper.make_node(op, ["a", "b"], ["c"])],
            name,
            [helper.make_tensor_value_info("a", a_type, [m, k])],
            [helper.make_tensor_value_info("c", out_type, [m, n])],
            [
                onnx.numpy_helper.from_array(
                    rng.integers(-127, 127, (k, n)).astype(np.int8) if op == "MatMulInteger" else b32, "b"
                )
            ],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        a = rng.integers(0, 255, (m, k)).astype(np.uint8) if op == "MatMulInteger" else a32
        rates[name] = best(lambda s=session, a=a: s.run(None, {"a": a}), 2 * m * k * n)
    return rates


def chunk_flops(tokens: int) -> float:
    """FLOPs of one forward pass over `tokens` tokens: the MatMuls, and attention's two products."""
    dense = 2 * tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN)
    attention = 2 * 2 * tokens * tokens * HIDDEN
    return float(LAYERS * (dense + attention))


# -- stores -------------------------------------------------------------------------------------------


def write_corpus(folder: Path, corpus: list[dict[str, str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        body = f"{doc['title']}\n\n{doc['text']}\n" if doc.get("title") else f"{doc['text']}\n"
        (folder / f"{doc['_id']}.txt").write_text(body, encoding="utf-8")


def loaded_store(work: Path, corpus_dir: Path) -> tuple[Store, Any]:
    work.mkdir(parents=True, exist_ok=True)
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(corpus_dir), "RLM_DB": str(work / "rlm.db")})
    store = open_store(settings.db_path)
    load_document(store, settings, str(corpus_dir))
    return store, settings


def throughput(stores: dict[str, Store], embedders: dict[str, FastEmbedder]) -> dict[str, Any]:
    """The pipeline's chunks/s per path, one claim batch of each in turn (the order alternating); also
    per CPU-second of this process (all its threads), the figure a busy shared machine distorts least."""
    seconds = dict.fromkeys(stores, 0.0)
    cpu = dict.fromkeys(stores, 0.0)
    chunks = dict.fromkeys(stores, 0)
    workers = {name: worker_id() + name for name in stores}
    for name, store in stores.items():
        prepare_model(store, embedders[name])
    active = list(stores)
    turn = 0
    while active:
        for name in active if turn % 2 == 0 else active[::-1]:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = embed_batch(stores[name], embedders[name], workers[name])
            seconds[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - cpu_started
            if result is None:
                active.remove(name)
            else:
                chunks[name] += result.stored
        turn += 1
        log(f"  throughput: {chunks}")
    return {
        name: {"chunks": chunks[name], "seconds": round(seconds[name], 2), "cpu_seconds": round(cpu[name], 2)}
        for name in stores
    }


def token_counts(store: Store) -> list[int]:
    from rlm_mcp.embedding.runtime import _load_tokenizer

    tokenizer = _load_tokenizer(assemble_model_dir(int8_compute=True))
    texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks")]
    return [len(e.ids) for e in tokenizer.encode_batch(texts)]


def cosines(stores: dict[str, Store]) -> dict[str, float]:
    """Cosine between the old and the new path's vector of each chunk text (by content hash)."""
    vectors = {}
    for name, store in stores.items():
        rows = store.conn().execute(
            "SELECT content_hash, vector FROM embeddings WHERE model = ?", (PATHS[name],)
        )
        vectors[name] = {h: np.frombuffer(v, dtype=np.float32) for h, v in rows}
    common = sorted(set(vectors["old"]) & set(vectors["new"]))
    values = np.array([float(vectors["old"][h] @ vectors["new"][h]) for h in common])
    return {
        "chunks": len(common),
        "mean": round(float(values.mean()), 5),
        "p1": round(float(np.percentile(values, 1)), 5),
        "min": round(float(values.min()), 5),
    }


def ndcg(
    store: Store, settings: Any, embedder: FastEmbedder, queries: dict[str, str], qrels: dict[str, set[str]]
) -> dict[str, float]:
    rows = store.conn().execute("SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id")
    chunk_doc = {int(cid): Path(path).stem for cid, path in rows}
    result = {}
    for mode in ("semantic", "hybrid"):
        scores = []
        for qid, text in queries.items():
            hits = search_chunks(store, settings, text, mode, top_k=100, embedder=embedder).hits
            scores.append(ndcg_at(doc_ranking([h.chunk_id for h in hits], chunk_doc), qrels[qid]))
        result[f"{mode}_ndcg@10"] = round(statistics.fmean(scores), 4)
    return result


# -- memory: a child process per path --------------------------------------------------------------


def rss_child(model: str, corpus_dir: Path, work: Path) -> None:
    """(In the child.) Embed the store the parent loaded; print the peak RSS before and after."""
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(corpus_dir), "RLM_DB": str(work / "rlm.db")})
    store = open_store(settings.db_path)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = embed_all(store, FastEmbedder(model))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"loaded_mb": before // 1024, "peak_mb": peak // 1024, "chunks": result.stored,
                      "chunks_per_s": round(result.stored / seconds, 2)}))  # fmt: skip
    store.close()


def peak_rss(model: str, corpus_dir: Path, work: Path) -> dict[str, Any]:
    """Peak RSS of a process that only embeds (the loader's own peak is benchmarks/load_search.py's)."""
    loaded_store(work, corpus_dir)[0].close()
    command = [sys.executable, __file__, "--rss-child", model, str(corpus_dir), str(work)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=7200)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


# -- responsiveness: search while the worker embeds -------------------------------------------------


def search_p95(store: Store, settings: Any, embedder: FastEmbedder, texts: list[str]) -> dict[str, Any]:
    figures = {}
    for mode in ("bm25", "semantic", "hybrid"):
        samples = []
        for text in texts:
            started = time.perf_counter()
            search_chunks(store, settings, text, mode, top_k=10, embedder=embedder)
            samples.append(time.perf_counter() - started)
        figures[mode] = percentiles(samples)
    return figures


def responsiveness(work: Path, corpus: list[dict[str, str]], model: str, texts: list[str]) -> dict[str, Any]:
    """Half the corpus embedded, half waiting; search p95 idle, then while a worker embeds the rest."""
    half = len(corpus) // 2
    write_corpus(work / "docs" / "a", corpus[:half])
    store, settings = loaded_store(work / "store", work / "docs")
    embedder = FastEmbedder(model)
    embed_all(store, embedder)
    write_corpus(work / "docs" / "b", corpus[half:])
    load_document(store, settings, str(work / "docs"))
    idle = search_p95(store, settings, embedder, texts)
    worker = EmbeddingWorker(store, embedder)
    worker.start()
    busy_until = time.monotonic() + 1.0  # the worker has claimed its first batch
    while time.monotonic() < busy_until and worker.stored == 0:
        threading.Event().wait(0.05)
    try:
        busy = search_p95(store, settings, embedder, texts)
        still_embedding = not worker.drained.is_set()
    finally:
        worker.stop()
    store.close()
    return {"idle": idle, "worker_running": busy, "worker_still_busy_at_end": still_embedding}


# -- main ---------------------------------------------------------------------------------------------


def smoke_beir(work: Path) -> Path:
    """A tiny BEIR set from the README: each section a document, its heading the query for it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    sections = [s for s in readme.split("\n## ")[1:] if len(s) > 200][:12]
    data = work / "smoke-beir"
    data.mkdir(parents=True, exist_ok=True)
    with (data / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for i, section in enumerate(sections):
            body = section.partition("\n")[2]
            corpus.write(json.dumps({"_id": f"s{i}", "title": "", "text": body[:1500]}) + "\n")
    with (data / "queries-train.jsonl").open("w", encoding="utf-8") as queries:
        for i, section in enumerate(sections):
            queries.write(json.dumps({"_id": f"q{i}", "text": section.partition("\n")[0]}) + "\n")
    rows = "".join(f"q{i}\ts{i}\t1\n" for i in range(len(sections)))
    (data / "qrels-train.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help=f"a BEIR-layout data set (default {DEFAULT_DATA})")
    parser.add_argument("--docs", type=int, default=800, help="documents (judged ones first)")
    parser.add_argument("--rss-docs", type=int, default=400, help="documents the RSS children embed")
    parser.add_argument("--queries", type=int, default=200, help="queries for nDCG and latency")
    parser.add_argument("--smoke", action="store_true", help="a few README sections: checks, not figures")
    parser.add_argument("--work", type=Path, help="keep the stores here (default: a temporary dir)")
    parser.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child[0], Path(args.rss_child[1]), Path(args.rss_child[2]))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="rlm-embed-bench-"))
    data = args.data or DEFAULT_DATA
    if args.smoke:
        data = smoke_beir(work)
        args.docs, args.rss_docs, args.queries = 12, 12, 12
    elif not (data / "corpus.jsonl").is_file():
        parser.error(f"{data} has no corpus.jsonl (BEIR layout expected); pass --data or --smoke")
    corpus, queries, qrels = read_beir(data, "train", args.docs, args.queries)
    log(f"{len(corpus)} documents, {len(queries)} queries; work dir {work}; load {os.getloadavg()}")
    report: dict[str, Any] = {"documents": len(corpus), "queries": len(queries), "cpus": os.cpu_count()}
    report["gemm_gflops"] = gemm_rates()
    log(json.dumps(report["gemm_gflops"]))
    write_corpus(work / "corpus", corpus)
    embedders = {name: FastEmbedder(model) for name, model in PATHS.items()}
    for embedder in embedders.values():
        embedder.load()
    stores = {name: loaded_store(work / name, work / "corpus") for name in PATHS}
    timing = throughput({n: s for n, (s, _) in stores.items()}, embedders)
    tokens = token_counts(stores["new"][0])
    flops = sum(chunk_flops(t) for t in tokens)
    for name, figures in timing.items():
        rate = figures["chunks"] / figures["seconds"]
        achieved = flops / figures["seconds"] / 1e9
        gemm = report["gemm_gflops"]["ort_int8_matmulinteger" if name == "new" else "ort_fp32_matmul"]
        figures |= {
            "chunks_per_s": round(rate, 2),
            "chunks_per_cpu_s": round(figures["chunks"] / figures["cpu_seconds"], 2),
            "gflops": round(achieved, 1),
            "of_numpy_fp32_gemm": round(achieved / report["gemm_gflops"]["numpy_fp32_model_shape"], 3),
            "of_own_kernel_gemm": round(achieved / gemm, 3),
        }
    timing["ratio_new_over_old"] = round(timing["new"]["chunks_per_s"] / timing["old"]["chunks_per_s"], 3)
    timing["cpu_ratio_new_over_old"] = round(
        timing["new"]["chunks_per_cpu_s"] / timing["old"]["chunks_per_cpu_s"], 3
    )
    report["throughput"] = timing | {"mean_tokens": round(statistics.fmean(tokens), 1)}
    log(json.dumps(report["throughput"]))
    report["cosine_new_to_old"] = cosines({n: s for n, (s, _) in stores.items()})
    report["quality"] = {
        name: ndcg(store, settings, embedders[name], queries, qrels)
        for name, (store, settings) in stores.items()
    }
    log(json.dumps(report["cosine_new_to_old"]) + " " + json.dumps(report["quality"]))
    for store, _ in stores.values():
        store.close()
    write_corpus(work / "rss-corpus", corpus[: args.rss_docs])
    report["peak_rss_mb"] = {
        name: peak_rss(model, work / "rss-corpus", work / f"rss-{name}") for name, model in PATHS.items()
    }
    log(json.dumps(report["peak_rss_mb"]))
    texts = list(queries.values())[: max(10, args.queries // 4)]
    report["search_with_worker"] = {
        name: responsiveness(work / f"latency-{name}", corpus, model, texts) for name, model in PATHS.items()
    }
    print(json.dumps(report, indent=1))
    print(f"throughput chunks/s: old {timing['old']['chunks_per_s']}, new {timing['new']['chunks_per_s']}, "
          f"ratio {timing['ratio_new_over_old']}; per CPU-second: old {timing['old']['chunks_per_cpu_s']}, "
          f"new {timing['new']['chunks_per_cpu_s']}, ratio {timing['cpu_ratio_new_over_old']}")  # fmt: skip
    print(f"nDCG@10 semantic: old {report['quality']['old']['semantic_ndcg@10']}, "
          f"new {report['quality']['new']['semantic_ndcg@10']}")  # fmt: skip
    cosine, rss = report["cosine_new_to_old"], report["peak_rss_mb"]
    print(f"cosine new to old: mean {cosine['mean']}, min {cosine['min']}")
    print(f"peak RSS MB: old {rss['old']['peak_mb']}, new {rss['new']['peak_mb']}")
    for name in PATHS:
        latency = report["search_with_worker"][name]
        print(f"search p95 ms ({name}): hybrid idle {latency['idle']['hybrid']['p95_ms']}, "
              f"with worker {latency['worker_running']['hybrid']['p95_ms']}")  # fmt: skip


if __name__ == "__main__":
    main()
