"""Reuse of analysts' work across jobs: planning time and tokens avoided when rows are appended.

    pip install tpchgen-cli                 # the TPC-H generator (a Rust binary on PyPI), benchmark only
    python benchmarks/reuse.py              # lineitem at scale 0.01 (60k rows), 1 % appended
    python benchmarks/reuse.py --scale 0.1 --append 0.01
    python benchmarks/reuse.py --smoke      # a small generated lineitem-like table, seconds (tests run it)

The base slice (the first rows of lineitem) is loaded and a job over it is planned and completed by a
scripted analyst that counts l_returnflag in the rows it is given. Then the appended slice (the same
rows plus the next ones) is loaded over it, and the same question is planned twice in the same run:
with reuse="none" (the baseline: every task again) and with the default reuse="exact". Printed:
planning seconds of each (median of --repeat), tasks reused / to run, the analyst input tokens each
plan costs and the tokens avoided, and a check that the reused job's merged counts equal a direct
count of the appended file once its new tasks are done.
"""

import argparse
import csv
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lineitem import make_lineitem  # noqa: E402

from rlm_mcp import jobs  # noqa: E402
from rlm_mcp.config import load_settings  # noqa: E402
from rlm_mcp.loading import load_document  # noqa: E402
from rlm_mcp.store import open_store  # noqa: E402
from rlm_mcp.synthesis import synthesize  # noqa: E402

QUESTION = "How many line items per return flag, and which look anomalous?"
FLAG = "l_returnflag"


def make_smoke(directory: Path, rows: int = 5100) -> Path:
    """Lineitem-like rows (the columns that matter here), deterministic."""
    rng = random.Random(3)
    target = directory / "smoke_lineitem.csv"
    with target.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["l_orderkey", "l_quantity", "l_extendedprice", FLAG, "l_shipmode", "l_comment"])
        for i in range(rows):
            w.writerow([i // 4 + 1, rng.randint(1, 50), f"{rng.randint(90000, 10000000) / 100:.2f}",
                        rng.choice("ANR"), rng.choice(("AIR", "MAIL", "SHIP", "TRUCK")),
                        f"carefully regular deposits {rng.randint(0, 99999)}"])  # fmt: skip
    return target


def write_slice(source: Path, target: Path, rows: int) -> int:
    """The header and the first `rows` data rows of `source`; returns how many were written."""
    written = 0
    with source.open(newline="") as src, target.open("w", newline="") as out:
        out.write(src.readline())
        for line in src:
            if written >= rows:
                break
            out.write(line)
            written += 1
    return written


def count_rows(store: Any, job_id: int) -> int:
    """A scripted data analyst: counts l_returnflag in its chunks' rows. Returns the tasks it ran."""
    ran = 0
    column: int | None = None
    while (claim := jobs.claim_task(store, job_id, "bench")).task_id is not None:
        flags: Counter[str] = Counter()
        for chunk in claim.chunks:
            if column is None:
                column = next(csv.reader([chunk.context.splitlines()[-1]])).index(FLAG)
            for row in csv.reader(chunk.text.splitlines()):
                if len(row) > column:
                    flags[row[column]] += 1
        jobs.submit_findings(store, claim.task_id, "bench", [], relevance="none", counts={FLAG: flags})
        ran += 1
    return ran


def direct_counts(path: Path) -> dict[str, int]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return dict(Counter(row[FLAG] for row in reader))


def timed_plan(store: Any, settings: Any, reuse: str, repeat: int) -> tuple[float, Any]:
    times, plan = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        plan = jobs.create_job(store, settings, QUESTION, reuse=reuse)
        times.append(time.perf_counter() - start)
    return statistics.median(times), plan


def run(source: Path, base_rows: int, append_rows: int, work: Path, repeat: int) -> None:
    project = work / "project"
    if project.exists():
        shutil.rmtree(project)
    project.mkdir(parents=True)
    data = project / "lineitem.csv"
    base = write_slice(source, data, base_rows)
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(project), "RLM_DB": str(project / ".rlm" / "rlm.db"),
                              "RLM_EMBED_BACKGROUND": "0", "RLM_DATA_COPY": "0", "PATH": ""})  # fmt: skip
    store = open_store(settings.db_path)
    start = time.perf_counter()
    load_document(store, settings, str(data))
    load_base = time.perf_counter() - start
    first_seconds, first = timed_plan(store, settings, "none", 1)
    count_rows(store, first.job_id)
    total = write_slice(source, data, base_rows + append_rows)
    start = time.perf_counter()
    load_document(store, settings, str(data))
    reload = time.perf_counter() - start
    none_seconds, none = timed_plan(store, settings, "none", repeat)
    exact_seconds, exact = timed_plan(store, settings, "exact", repeat)
    ran = count_rows(store, exact.job_id)
    merged = synthesize(store, exact.job_id).counts.get(FLAG, {})
    truth = direct_counts(data)
    print(f"lineitem slices: {base:,} rows, then {total:,} rows ({total - base:,} appended) of {source.name}")
    print(f"load base {load_base:.2f} s, reload appended {reload:.2f} s (unchanged chunks kept)")
    print(f"first job: {first.tasks} tasks planned in {first_seconds:.3f} s")
    median = f"(median of {repeat})"
    print(f"plan reuse=none : {none.tasks} tasks to run, {none.tokens:,} chunk tokens, "
          f"{none.cost.input_tokens:,} analyst input tokens, {none_seconds:.3f} s {median}")  # fmt: skip
    tally = exact.reused
    reused = tally.tasks if tally else 0
    print(f"plan reuse=exact: {exact.tasks} tasks, {reused} reused, {exact.to_run} to run, "
          f"{exact.tokens - (tally.tokens if tally else 0):,} chunk tokens to read, "
          f"{exact.cost.input_tokens:,} analyst input tokens, {exact_seconds:.3f} s {median}")  # fmt: skip
    avoided = none.cost.input_tokens - exact.cost.input_tokens
    share = avoided / none.cost.input_tokens if none.cost.input_tokens else 0.0
    print(f"tokens avoided: {avoided:,} analyst input tokens ({share:.1%}); chunk tokens avoided "
          f"{tally.tokens if tally else 0:,}")  # fmt: skip
    print(f"planning time ratio exact / none: {exact_seconds / none_seconds:.2f}")
    print(f"tasks run after the append: {ran}; merged counts equal a direct count: {merged == truth}")
    store.close()
    if merged != truth:
        sys.exit(f"counts differ: merged {merged} vs direct {truth}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor of lineitem")
    parser.add_argument("--append", type=float, default=0.01, help="share of rows appended (default 1 %%)")
    parser.add_argument(
        "--rows", type=int, help="base rows (default: the whole file less the appended share)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a small generated table, no tpchgen-cli")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "rlm-bench-reuse")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        source = make_smoke(args.work)
        run(source, 5000, 100, args.work, 1)
        return
    source = make_lineitem(args.scale, args.work, "pass --smoke")
    with source.open() as f:
        rows = sum(1 for _ in f) - 1
    appended = max(1, round(rows * args.append))
    base = args.rows or rows - appended
    run(source, base, appended, args.work, args.repeat)


if __name__ == "__main__":
    main()
