"""Hybrid fusion against its two halves, on SciFact and on the stdlib code benchmark, from stores
already built (and embedded) by benchmarks/retrieval.py and benchmarks/code_retrieval.py.

For every query the candidate lists are the ones the product fuses (hybrid's BM25 query and the
vector KNN, CANDIDATES each); bm25 and semantic alone are the product's own modes. Each fusion in
`fusion.FUSION_METHODS` is scored on the same lists, so the comparison is paired: SciFact nDCG@10 (a
document at the rank of its best chunk), code MRR@10 / nDCG@10 (per function, as code_retrieval.py
scores it). The fused lists are cached under the work dirs, so a rerun takes seconds.

    python benchmarks/retrieval.py ../shared/data/scifact --skip-scale --skip-bare --workdir W1
    python benchmarks/code_retrieval.py --variants whole4000_alone --work W2
    python benchmarks/fusion.py --scifact W1 --code W2 [--variant whole4000_alone]
"""

import argparse
import json
import statistics
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import code_retrieval
import retrieval

from rlm_mcp.config import load_settings
from rlm_mcp.embedding.model import FastEmbedder
from rlm_mcp.search import fts_query, fusion, hybrid
from rlm_mcp.store import Store, open_store
from rlm_mcp.store import search as search_db
from rlm_mcp.store import vectors as vdb

Lists = dict[str, list[tuple[int, float]]]
SEMANTIC_SHARES = (0.5, 0.55, 0.6, 0.65, 0.7)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lists_for(store: Store, embedder: FastEmbedder, texts: Sequence[str], cache: Path) -> list[Lists]:
    """bm25 (the mode's full query), bm25_lean (hybrid's) and semantic candidates per query."""
    if cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored["queries"] == list(texts):
            return [{k: [(int(i), float(s)) for i, s in v] for k, v in q.items()} for q in stored["lists"]]
    conn = store.conn()
    out: list[Lists] = []
    for number, text in enumerate(texts):
        match = fts_query(text)
        lean = hybrid.candidate_query(text, conn, vdb.scope_size(conn, None))
        out.append(
            {
                "bm25": search_db.bm25_candidates(conn, match, None, hybrid.CANDIDATES) if match else [],
                "bm25_lean": search_db.bm25_candidates(conn, lean, None, hybrid.CANDIDATES) if lean else [],
                "semantic": hybrid.vector_candidates(store, text, None, hybrid.CANDIDATES, embedder).ranked,
            }
        )
        if number % 200 == 199:
            log(f"  {number + 1}/{len(texts)} queries")
    cache.write_text(json.dumps({"queries": list(texts), "lists": out}), encoding="utf-8")
    return out


def fused_runs(all_lists: Sequence[Lists], content_type: str) -> dict[str, list[list[int]]]:
    """Each mode and fusion on the same lists; `default` is the product's hybrid (its fusion and
    weights for `content_type`, every chunk of the benchmark having that type); `sem_share_W`
    weighs the semantic list W and BM25 1 - W in min-max fusion, for every chunk alike."""
    runs: dict[str, list[list[int]]] = {"bm25": [], "semantic": []}
    for lists in all_lists:
        runs["bm25"].append([c for c, _ in lists["bm25"]])
        runs["semantic"].append([c for c, _ in lists["semantic"]])
        pair = {"bm25": lists["bm25_lean"], "semantic": lists["semantic"]}
        for method in fusion.FUSION_METHODS:
            runs.setdefault(method, []).append([f.id for f in fusion.fuse(pair, method)])  # type: ignore[arg-type]
        for share in SEMANTIC_SHARES:
            weights = {"bm25": 2 * (1 - share), "semantic": 2 * share}
            runs.setdefault(f"sem_share_{share}", []).append([f.id for f in fusion.minmax(pair, weights)])
        types = {c: content_type for ranked in pair.values() for c, _ in ranked}
        fused = hybrid.fuse_candidates(pair["bm25"], pair["semantic"], types, hybrid.DEFAULT_FUSION)
        runs.setdefault("default", []).append([f.id for f in fused])
    return runs


def scifact(work: Path, data: Path, split: str, embedder: FastEmbedder) -> dict[str, Any]:
    folder = work / "quality"
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(folder), "RLM_DB": str(folder / ".rlm" / "rlm.db")})
    store = open_store(settings.db_path)
    chunk_doc = retrieval.chunk_documents(store)
    present = set(chunk_doc.values())
    _corpus, queries, qrels = retrieval.read_beir(data, split, None, None)
    qrels = {q: d & present for q, d in qrels.items() if d & present}
    ids = sorted(qrels)
    runs = fused_runs(
        lists_for(store, embedder, [queries[q] for q in ids], work / "fusion-lists.json"), "text"
    )
    store.close()
    result = {"queries": len(ids), "chunks": len(chunk_doc)}
    for name, ranked in runs.items():
        docs = [retrieval.doc_ranking(r, chunk_doc) for r in ranked]
        result[name] = {
            "ndcg@10": round(
                statistics.fmean(retrieval.ndcg_at(d, qrels[q]) for d, q in zip(docs, ids, strict=True)), 4
            )
        }
    return result


def code(work: Path, variant: str, fraction: float, embedder: FastEmbedder) -> dict[str, Any]:
    root = Path(sysconfig.get_paths()["stdlib"])
    corpus = work / "corpus" / "stdlib"
    units = code_retrieval.build_corpus(code_retrieval.sample_files(root, fraction, None), root, corpus)
    folder = work / "stores" / variant
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(corpus.parent), "RLM_DB": str(folder / "rlm.db")})
    store = open_store(settings.db_path)
    mapping = code_retrieval.chunk_units(store, corpus, units)
    queries = [(i, u.query) for i, u in enumerate(units) if u.query]
    texts = [q for _i, q in queries]
    runs = fused_runs(lists_for(store, embedder, texts, folder / "fusion-lists.json"), "code")
    store.close()
    answers = [i for i, _ in queries]
    result: dict[str, Any] = {"queries": len(queries), "variant": variant}
    for name, ranked in runs.items():
        result[name] = code_retrieval.metrics(
            [code_retrieval.unit_ranking(r, mapping) for r in ranked], answers
        )
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scifact", type=Path, help="the --workdir of a retrieval.py run")
    parser.add_argument("--scifact-data", type=Path, default=retrieval.DEFAULT_DATA)
    parser.add_argument("--split", default="train")
    parser.add_argument("--code", type=Path, help="the --work of a code_retrieval.py run")
    parser.add_argument("--variant", default="whole4000_alone")
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--model", help="RLM_EMBED_MODEL of the stores (default: the default)")
    args = parser.parse_args(argv)
    embedder = FastEmbedder(args.model)
    report: dict[str, Any] = {"default": hybrid.DEFAULT_FUSION, "model": embedder.model_id}
    if args.scifact:
        report["scifact"] = scifact(args.scifact, args.scifact_data, args.split, embedder)
    if args.code:
        report["code"] = code(args.code, args.variant, args.fraction, embedder)
    print(json.dumps(report, indent=1))
    for name in ("scifact", "code"):
        if name in report:
            figures = report[name]
            metric = "ndcg@10" if name == "scifact" else "mrr@10"
            cells = ", ".join(f"{k} {v[metric]:.4f}" for k, v in figures.items() if isinstance(v, dict))
            print(f"{name} {metric}: {cells}")


if __name__ == "__main__":
    main()
