"""Loading and BM25 search throughput against a bare FTS5 baseline, measured in the same run.

    python benchmarks/load_search.py                      # ../shared/data/gutenberg and War and Peace
    python benchmarks/load_search.py --path my/docs       # any directory or file of your own

Each phase runs in a fresh child process, so peak RSS is the phase's own. Figures: MB/s, chunks,
peak RSS for our load; MB/s for a bare FTS5 insert of the same text (the baseline) and the ratio;
BM25 latency p50/p95 over sampled queries; server start-up to its first answer.
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from shared_data import shared_data

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = shared_data() / "gutenberg"  # $RLM_SHARED_DATA, else beside the repository


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads: on a shared machine (load average 10+ on two
    cores here) wall time mostly measures the queue for a core, CPU time what the work costs."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def files_of(path: Path) -> list[Path]:
    """The files our load reads: folders it never walks (a store's `.rlm/`, `.git`) are left out, so the
    baseline indexes the same text (a `.rlm/` of Parquet copies in the data folder doubled its input)."""
    from rlm_mcp.loading.files import NEVER_WALKED

    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.rglob("*") if p.is_file() and not NEVER_WALKED & set(p.relative_to(path).parts)
    )


def phase_load(path: Path, db: Path) -> dict[str, float]:
    from rlm_mcp.config import load_settings
    from rlm_mcp.loading.loader import load_document
    from rlm_mcp.store import open_store

    env = {"CLAUDE_PROJECT_DIR": str(path if path.is_dir() else path.parent), "RLM_DB": str(db)}
    settings = load_settings(env)
    store = open_store(settings.db_path)
    size = sum(f.stat().st_size for f in files_of(path))
    start, cpu = time.perf_counter(), cpu_seconds()
    result = load_document(store, settings, str(path))
    seconds = time.perf_counter() - start
    chunks = sum(d.chunks for d in result.documents)
    return {
        "mb": size / 1e6,
        "seconds": seconds,
        "cpu_s": cpu_seconds() - cpu,
        "mb_per_s": size / 1e6 / seconds,
        "chunks": chunks,
        "documents": len(result.documents),
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_baseline(path: Path, db: Path) -> dict[str, float]:
    """The same text into a bare FTS5 table: read, split at blank lines into ~1.5k pieces, insert."""
    import sqlean as sqlite3

    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize = 'porter unicode61')")
    size = sum(f.stat().st_size for f in files_of(path))
    start, cpu = time.perf_counter(), cpu_seconds()
    conn.execute("BEGIN")
    pieces = 0
    for file in files_of(path):
        text = file.read_text(encoding="utf-8", errors="replace")
        buffer: list[str] = []
        length = 0
        for paragraph in text.split("\n\n"):
            buffer.append(paragraph)
            length += len(paragraph)
            if length >= 1500:
                conn.execute("INSERT INTO fts(text) VALUES (?)", ("\n\n".join(buffer),))
                pieces += 1
                buffer, length = [], 0
        if buffer:
            conn.execute("INSERT INTO fts(text) VALUES (?)", ("\n\n".join(buffer),))
            pieces += 1
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    return {
        "mb_per_s": size / 1e6 / seconds,
        "seconds": seconds,
        "cpu_s": cpu_seconds() - cpu,
        "pieces": pieces,
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_chunk_baseline(path: Path, db: Path, ours: Path) -> dict[str, float]:
    """Our load's own chunk texts into a bare FTS5 table in one transaction (texts read first, untimed):
    the baseline for content whose text has no blank lines to split at (a CSV)."""
    import sqlean as sqlite3

    source = sqlite3.connect(str(ours))
    texts = [r[0] for r in source.execute("SELECT text FROM chunks ORDER BY id")]
    source.close()
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize = 'porter unicode61')")
    size = sum(f.stat().st_size for f in files_of(path))
    start, cpu = time.perf_counter(), cpu_seconds()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO fts(text) VALUES (?)", ((t,) for t in texts))
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    return {
        "mb_per_s": size / 1e6 / seconds,
        "seconds": seconds,
        "cpu_s": cpu_seconds() - cpu,
        "pieces": len(texts),
        "peak_rss_mb": peak_rss_mb(),
    }


def phase_search(path: Path, db: Path, queries: int) -> dict[str, float]:
    from rlm_mcp.config import load_settings
    from rlm_mcp.search.modes import search_chunks
    from rlm_mcp.store import open_store

    settings = load_settings(
        {"CLAUDE_PROJECT_DIR": str(path if path.is_dir() else path.parent), "RLM_DB": str(db)}
    )
    store = open_store(settings.db_path)
    rng = random.Random(7)
    texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks ORDER BY random() LIMIT 500")]
    words = [w for t in texts for w in t.split() if w.isalpha() and len(w) > 3]
    sample = [" ".join(rng.sample(words, rng.randint(2, 4))) for _ in range(queries)]
    for q in sample[:5]:
        search_chunks(store, settings, q, "bm25")
    latencies = []
    for q in sample:
        start = time.perf_counter()
        search_chunks(store, settings, q, "bm25", top_k=10)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {
        "queries": queries,
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
    }


def phase_startup(runs: int) -> dict[str, float]:
    """Spawn `rlm-mcp serve` and time the answer to `initialize` (Claude Code allows 30 s)."""
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    }
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CLAUDE_PROJECT_DIR": tmp, "RLM_DB": f"{tmp}/rlm.db"}
        for _ in range(runs):
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "rlm_mcp", "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                text=True,
            )
            assert proc.stdin and proc.stdout
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            proc.stdout.readline()
            times.append(time.perf_counter() - start)
            proc.kill()
            proc.wait()
    return {"runs": runs, "median_s": statistics.median(times), "max_s": max(times)}


def child(phase: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(label: str, path: Path, queries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ours = child("load", str(path), f"{tmp}/ours.db")
        base = child("baseline", str(path), f"{tmp}/base.db")
        same = child("chunks", str(path), f"{tmp}/same.db", f"{tmp}/ours.db")
        search = child("search", str(path), f"{tmp}/ours.db", str(queries)) if queries else None
    ratio = ours["mb_per_s"] / base["mb_per_s"]
    print(f"\n## {label}: {ours['mb']:.1f} MB in {int(ours['documents'])} file(s)")
    print(
        f"rlm-mcp load        {ours['mb_per_s']:6.2f} MB/s  {ours['seconds']:6.2f} s  "
        f"{int(ours['chunks'])} chunks  peak RSS {ours['peak_rss_mb']:.0f} MB"
    )
    print(
        f"bare FTS5 baseline  {base['mb_per_s']:6.2f} MB/s  {base['seconds']:6.2f} s  "
        f"{int(base['pieces'])} pieces  peak RSS {base['peak_rss_mb']:.0f} MB"
    )
    print(
        f"bare FTS5, our chunk texts {same['mb_per_s']:6.2f} MB/s  {same['seconds']:6.2f} s  "
        f"{int(same['pieces'])} pieces"
    )
    print(
        f"ratio (ours / baseline) wall {ratio:.2f}, CPU {base['cpu_s'] / ours['cpu_s']:.2f} "
        f"(CPU s: ours {ours['cpu_s']:.2f}, baseline {base['cpu_s']:.2f}); against our chunk texts: "
        f"wall {ours['mb_per_s'] / same['mb_per_s']:.2f}, CPU {same['cpu_s'] / ours['cpu_s']:.2f}"
    )
    if search is None:
        return
    print(
        f"BM25 over {int(search['queries'])} queries: p50 {search['p50_ms']:.2f} ms, "
        f"p95 {search['p95_ms']:.2f} ms, max {search['max_ms']:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--path", type=Path, help="a directory or file to load (default: the Gutenberg books)"
    )
    parser.add_argument("--queries", type=int, default=200, help="0: no search phase")
    parser.add_argument("--no-startup", action="store_true")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        path, db = Path(args.rest[0]), Path(args.rest[1])
        result = {
            "load": lambda: phase_load(path, db),
            "baseline": lambda: phase_baseline(path, db),
            "search": lambda: phase_search(path, db, int(args.rest[2])),
            "chunks": lambda: phase_chunk_baseline(path, db, Path(args.rest[2])),
        }[args.phase]()
        print(json.dumps(result))
        return
    if args.path:
        compare(str(args.path), args.path.resolve(), args.queries)
    else:
        if not DEFAULT_DATA.is_dir():
            sys.exit(f"no data at {DEFAULT_DATA}; pass --path to a directory or file of your own")
        compare("Gutenberg, 40 books", DEFAULT_DATA, args.queries)
        compare("War and Peace", DEFAULT_DATA / "war-and-peace.txt", args.queries)
    if args.no_startup:
        return
    startup = phase_startup(5)
    print(
        f"\nserver start-up to first answer: median {startup['median_s']:.2f} s, "
        f"max {startup['max_s']:.2f} s "
        f"over {int(startup['runs'])} runs (Claude Code's limit: 30 s)"
    )


if __name__ == "__main__":
    main()
