"""rlm-mcp side by side with what a user would pick instead, on the same data in the same run.

- BM25 latency: our `search_chunks(mode="bm25")` (SQLite FTS5, persistent, incremental) against
  bm25s (sparse matrices in RAM) and rank-bm25 (scores every document in numpy) indexing the *same
  chunk texts* our load produced, with the same queries; index build time for each too.
- CSV ingest: our `load_document` of a CSV (chunks, FTS5, columnar copy) against DuckDB's CSV reader
  into a table (`CREATE TABLE t AS SELECT * FROM read_csv(...)`) on the same file.
- basic-memory (MCP + SQLite FTS5 + sqlite-vec + fastembed, the closest product) on the same markdown
  notes as our load (SciFact abstracts): documents/s to searchable and to fully embedded, search
  p50/p95 over MCP stdio (`benchmarks/basic_memory_peer.py`). It needs Python >= 3.12, so it runs in
  the interpreter `--basic-memory-python` names; without one the report says why it was not timed.

    pip install -e '.[peers]'
    python benchmarks/peers.py [--corpus DIR] [--csv FILE] [--queries 200]
                               [--basic-memory-python V/bin/python [--notes 500] [--notes-queries 100]]
    python benchmarks/peers.py --smoke      # small generated corpus and CSV (tests/test_benchmark_peers.py)
"""

import argparse
import json
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import basic_memory_peer
from shared_data import shared_data

from rlm_mcp.config import load_settings
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import search_chunks
from rlm_mcp.store import Store, open_store

DEFAULT_CORPUS = shared_data() / "gutenberg"  # $RLM_SHARED_DATA, else beside the repository
TOKEN = re.compile(r"[^\W_]+")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"p50_ms": round(1000 * statistics.median(ordered), 2), "p95_ms": round(1000 * p95, 2)}


def open_project(work: Path, name: str, data: Path) -> tuple[Store, Any]:
    """A store under `work` for a project holding `data` (loads are confined to the project)."""
    project = data if data.is_dir() else data.parent
    settings = load_settings(
        {"CLAUDE_PROJECT_DIR": str(project), "RLM_DB": str(work / f".rlm-{name}" / "rlm.db")}
    )
    return open_store(settings.db_path), settings


def make_smoke(work: Path) -> tuple[Path, Path]:
    rng = random.Random(3)
    words = [f"w{i}" for i in range(400)] + ["river", "mountain", "lantern", "harvest", "ledger", "orbit"]
    corpus = work / "notes"
    corpus.mkdir(parents=True, exist_ok=True)
    for n in range(40):
        paragraphs = [" ".join(rng.choices(words, k=60)) for _ in range(8)]
        (corpus / f"note{n}.md").write_text(
            f"# Note {n}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8"
        )
    csv_path = work / "rows.csv"
    with csv_path.open("w", encoding="utf-8") as out:
        out.write("id,name,amount,day\n")
        for i in range(20_000):
            out.write(f"{i},{rng.choice(words)},{i * 0.25:.2f},2024-01-{1 + i % 28:02d}\n")
    return corpus, csv_path


def bm25_peers(work: Path, corpus: Path, queries: int) -> dict[str, Any]:
    store, settings = open_project(work, "bm25", corpus)
    started = time.perf_counter()
    load_document(store, settings, str(corpus))
    ours_build = time.perf_counter() - started
    texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks ORDER BY id")]
    rng = random.Random(7)
    vocab = [
        w for t in rng.sample(texts, min(300, len(texts))) for w in TOKEN.findall(t.lower()) if len(w) > 3
    ]
    sample = [" ".join(rng.sample(vocab, rng.randint(2, 4))) for _ in range(queries)]
    report: dict[str, Any] = {"chunks": len(texts), "queries": queries}
    report["rlm-mcp fts5"] = {"build_s": round(ours_build, 2), "note": "whole load: chunking, FTS5, copy"}
    report["rlm-mcp fts5"] |= percentiles(_timed(lambda q: search_chunks(store, settings, q, "bm25"), sample))
    store.close()

    import bm25s

    started = time.perf_counter()
    tokens = bm25s.tokenize(texts, stopwords=None, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    build = time.perf_counter() - started

    def bm25s_query(q: str) -> Any:
        return retriever.retrieve(
            bm25s.tokenize([q], stopwords=None, show_progress=False), k=10, show_progress=False
        )

    report["bm25s"] = {"build_s": round(build, 2)} | percentiles(_timed(bm25s_query, sample))

    from rank_bm25 import BM25Okapi

    started = time.perf_counter()
    okapi = BM25Okapi([TOKEN.findall(t.lower()) for t in texts])
    build = time.perf_counter() - started

    def okapi_query(q: str) -> Any:
        scores = okapi.get_scores(TOKEN.findall(q.lower()))
        return sorted(range(len(scores)), key=lambda i: -scores[i])[:10]

    report["rank-bm25"] = {"build_s": round(build, 2)} | percentiles(_timed(okapi_query, sample))
    return report


def _timed(run: Any, sample: Sequence[str]) -> list[float]:
    for q in sample[:3]:
        run(q)
    samples = []
    for q in sample:
        started = time.perf_counter()
        run(q)
        samples.append(time.perf_counter() - started)
    return samples


def csv_peers(work: Path, csv_path: Path) -> dict[str, Any]:
    import duckdb

    size = csv_path.stat().st_size / 1e6
    store, settings = open_project(work, "csv", csv_path)
    started = time.perf_counter()
    result = load_document(store, settings, str(csv_path))
    ours = time.perf_counter() - started
    store.close()
    started = time.perf_counter()
    with duckdb.connect(str(work / "peer.duckdb")) as conn:
        conn.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{csv_path}')")
        rows = conn.execute("SELECT count(*) FROM t").fetchone()
    theirs = time.perf_counter() - started
    return {
        "mb": round(size, 1),
        "rlm-mcp load": {
            "s": round(ours, 2),
            "mb_per_s": round(size / ours, 2),
            "chunks": result.documents[0].chunks,
        },
        "duckdb read_csv": {
            "s": round(theirs, 2),
            "mb_per_s": round(size / theirs, 2),
            "rows": rows[0] if rows else 0,
        },
        "ratio (ours / duckdb)": round(theirs / ours, 3),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--work", type=Path)
    parser.add_argument(
        "--basic-memory-python", help="a Python >= 3.12 with basic-memory and pysqlite3-binary"
    )
    parser.add_argument("--notes", type=int, default=500, help="SciFact abstracts as notes for basic-memory")
    parser.add_argument("--notes-queries", type=int, default=100)
    parser.add_argument("--notes-data", type=Path, default=shared_data() / "scifact")
    parser.add_argument(
        "--skip-bm25", action="store_true", help="only the basic-memory comparison (and --csv)"
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="rlm-peers-"))
    work.mkdir(parents=True, exist_ok=True)
    corpus, csv_path = args.corpus, args.csv
    if args.smoke:
        corpus, csv_path = make_smoke(work)
        args.queries = min(args.queries, 30)
    report: dict[str, Any] = {"corpus": str(corpus)}
    if not args.skip_bm25:
        report["bm25"] = bm25_peers(work, corpus, args.queries)
        log(json.dumps(report["bm25"]))
    if csv_path is not None:
        report["csv"] = csv_peers(work, csv_path)
        log(json.dumps(report["csv"]))
    report["basic-memory"] = basic_memory_peer.compare(
        args.basic_memory_python, work, args.notes_data, args.notes, args.notes_queries
    )
    print(json.dumps(report, indent=1))
    bm = report.get("bm25", {})
    for name in ("rlm-mcp fts5", "bm25s", "rank-bm25") if bm else ():
        print(
            f"BM25 {name:13} build {bm[name]['build_s']:7.2f} s  "
            f"p50 {bm[name]['p50_ms']:8.2f} ms  p95 {bm[name]['p95_ms']:8.2f} ms"
        )
    if "csv" in report:
        c = report["csv"]
        print(
            f"CSV {c['mb']} MB: rlm-mcp {c['rlm-mcp load']['mb_per_s']} MB/s, DuckDB read_csv "
            f"{c['duckdb read_csv']['mb_per_s']} MB/s, ratio {c['ratio (ours / duckdb)']}"
        )
    print(f"basic-memory: {json.dumps(report['basic-memory'].get('ratios', report['basic-memory']))}")


if __name__ == "__main__":
    main()
