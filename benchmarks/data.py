"""The columnar copy and query_data: load overhead, query latency against DuckDB itself, job tokens.

    pip install tpchgen-cli                  # the TPC-H generator (a Rust binary on PyPI), benchmark only
    python benchmarks/data.py                # lineitem at scale 0.1 (~75 MB) under /tmp
    python benchmarks/data.py --scale 0.5    # ~380 MB, the issue's size (minutes on a shared 2-core box)
    python benchmarks/data.py --csv my.csv   # your own table
    python benchmarks/data.py --smoke        # a small generated table, seconds (tests run this)

1. Load: the same CSV loaded into a fresh store in a fresh child process, with `RLM_DATA_COPY=0` and
   `=1`, back to back: MB/s, the ratio (target: the copy costs <= 1.3x) and each child's peak RSS
   (target < 300 MB).
2. query_data against DuckDB itself: each SQL run through `data.query` (sandbox, views, paging,
   exact rendering) and by a plain DuckDB connection on the same Parquet file; median of --repeat
   runs; ratio = direct / query_data (target >= 0.8).
3. Tokens planned for a job on a wide CSV (2,000 rows x 2,500 columns): over all columns, and
   projected to the 4 columns the question needs (`create_job(columns=...)`); the ratio of the two.
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lineitem import make_lineitem

REPO = Path(__file__).resolve().parents[1]
QUERIES = {
    "count": "SELECT count(*) FROM {view}",
    "group by 2 keys, 4 sums": (
        "SELECT l_returnflag, l_linestatus, sum(l_quantity), sum(l_extendedprice), "
        "sum(l_extendedprice * (1 - l_discount)), avg(l_discount), count(*) FROM {view} "
        "WHERE l_shipdate <= DATE '1998-09-02' GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "filter + sum": (
        "SELECT sum(l_extendedprice * l_discount) FROM {view} WHERE l_shipdate >= DATE '1994-01-01' "
        "AND l_shipdate < DATE '1995-01-01' AND l_discount BETWEEN 0.05 AND 0.07 AND l_quantity < 24"
    ),
    "top shipmodes": "SELECT l_shipmode, count(*) FROM {view} GROUP BY 1 ORDER BY 2 DESC",
}
PROJECTED_COLUMNS = ["status", "fiscal_year", "priority", "team"]
SMOKE_QUERIES = {
    "count": "SELECT count(*) FROM {view}",
    "group by": "SELECT k, sum(v) FROM {view} GROUP BY 1 ORDER BY 1",  # DuckDB groups in any order
}

CHILD = """
import json, os, resource, sys, time
from rlm_mcp.config import load_settings
from rlm_mcp.loading import load_document
from rlm_mcp.store import open_store
settings = load_settings()
store = open_store(settings.db_path)
start = time.perf_counter()
result = load_document(store, settings, sys.argv[1])
seconds = time.perf_counter() - start
doc = result.documents[0]
print(json.dumps({"seconds": seconds, "chunks": doc.chunks, "warnings": list(doc.warnings),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_smoke(directory: Path, rows: int = 20_000) -> Path:
    rng = random.Random(5)
    target = directory / "smoke.csv"
    lines = ["k,v,w"] + [f"{rng.choice('abcde')},{rng.randint(0, 9999) / 100:.2f},{i}" for i in range(rows)]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def load_in_child(csv_path: Path, project: Path, copy: bool) -> dict[str, Any]:
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    link = project / csv_path.name
    link.symlink_to(csv_path)
    env = {
        **os.environ,
        "CLAUDE_PROJECT_DIR": str(project),
        "RLM_ALLOWED_ROOTS": str(csv_path.parent),
        "RLM_DB": str(project / ".rlm" / "rlm.db"),
        "RLM_EMBED_BACKGROUND": "0",
        "RLM_DATA_COPY": "1" if copy else "0",
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, csv_path.name], cwd=project, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        sys.exit(f"load failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def median_seconds(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def query_latency(project: Path, queries: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    import duckdb

    from rlm_mcp import data
    from rlm_mcp.config import load_settings
    from rlm_mcp.store import open_store

    settings = load_settings({"CLAUDE_PROJECT_DIR": str(project), "RLM_DB": str(project / ".rlm" / "rlm.db")})
    store = open_store(settings.db_path)
    copy = data.open_copy(settings, store)
    info = data.copy_info(copy, 1)
    parquet = str(copy.directory / info.file)
    rows = []
    for name, template in queries.items():
        sql = template.format(view="d1")
        direct_sql = template.format(view=f"read_parquet('{parquet}')")
        ours = data.query(copy, sql)

        def direct(sql: str = direct_sql) -> list[Any]:
            with duckdb.connect() as conn:
                return conn.execute(sql).fetchall()

        assert [tuple(r) for r in direct()] == [tuple(r) for r in ours.rows], name
        t_ours = median_seconds(lambda sql=sql: data.query(copy, sql), repeat)
        t_direct = median_seconds(direct, repeat)
        rows.append({"query": name, "query_data_ms": t_ours * 1000, "duckdb_ms": t_direct * 1000,
                     "ratio": t_direct / t_ours})  # fmt: skip
    store.close()
    return rows


def planned_tokens(directory: Path, columns: int, rows: int) -> dict[str, Any]:
    from rlm_mcp.config import load_settings
    from rlm_mcp.jobs import plans
    from rlm_mcp.loading import load_document
    from rlm_mcp.store import open_store

    project = directory / "wide"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    header = [*PROJECTED_COLUMNS, *(f"field_{i}" for i in range(columns - 4))]
    rng = random.Random(9)
    lines = [",".join(header)] + [
        ",".join([rng.choice(["open", "closed"]), str(2020 + r % 5), rng.choice("abc"), f"t{r % 7}",
                  *(str(rng.randint(0, 99)) for _ in range(columns - 4))])
        for r in range(rows)
    ]  # fmt: skip
    (project / "wide.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(project), "RLM_EMBED_BACKGROUND": "0"})
    store = open_store(settings.db_path)
    load_document(store, settings, "wide.csv")
    question = "How many tickets per status in each fiscal year?"
    full = plans.create_job(store, settings, question, ["d1"])
    projected = plans.create_job(store, settings, question, ["d1"], columns=PROJECTED_COLUMNS)
    result: dict[str, Any] = {
        "unprojected_tasks": full.tasks,
        "unprojected_tokens": full.tokens,
        "projected_tasks": projected.tasks,
        "projected_tokens": projected.tokens,
        "token_ratio": round(full.tokens / max(1, projected.tokens), 1),
    }
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.1, help="TPC-H scale factor (0.1 ~ 75 MB)")
    parser.add_argument("--csv", type=Path, help="your own CSV instead of lineitem")
    parser.add_argument("--smoke", action="store_true", help="a small generated table, no tpchgen-cli")
    parser.add_argument("--repeat", type=int, default=5, help="runs per query (median)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rlm-bench-data")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        source, queries, wide = make_smoke(args.work), SMOKE_QUERIES, (40, 200)
    else:
        source = (
            args.csv.resolve()
            if args.csv
            else make_lineitem(args.scale, args.work, "pass --csv FILE or --smoke")
        )
        queries, wide = (QUERIES if not args.csv else {"count": QUERIES["count"]}), (2500, 2000)
    size_mb = source.stat().st_size / 1e6
    print(f"table: {source} ({size_mb:.1f} MB)")
    without = load_in_child(source, args.work / "without", copy=False)
    with_copy = load_in_child(source, args.work / "with", copy=True)
    for label, run in (("without copy", without), ("with copy", with_copy)):
        print(f"load {label:>12}: {run['seconds']:.2f} s  {size_mb / run['seconds']:.1f} MB/s  "
              f"peak RSS {run['rss_mb']:.0f} MB  {run['chunks']} chunks")  # fmt: skip
    print(f"copy overhead: {with_copy['seconds'] / without['seconds']:.2f}x load time (target <= 1.3x)")
    for row in query_latency(args.work / "with", queries, args.repeat):
        print(f"query {row['query']:<24} query_data {row['query_data_ms']:8.1f} ms  "
              f"duckdb {row['duckdb_ms']:8.1f} ms  ratio {row['ratio']:.2f} (target >= 0.8)")  # fmt: skip
    tokens = planned_tokens(args.work, *wide)
    print(f"wide CSV {wide[1]} rows x {wide[0]} columns: " + json.dumps(tokens))
    full, projected = tokens["unprojected_tokens"], tokens["projected_tokens"]
    print(f"job tokens planned: {full:,} over all columns ({tokens['unprojected_tasks']:,} tasks), "
          f"{projected:,} projected to {len(PROJECTED_COLUMNS)} columns ({tokens['projected_tasks']:,} "
          f"tasks): {tokens['token_ratio']}x fewer")  # fmt: skip
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
