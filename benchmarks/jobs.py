"""The RLM loop's throughput: claim+submit cycles per second, and synthesize time over many findings.

    python benchmarks/jobs.py                          # synthetic 1,000-task job; 1, 8, 32 clients
    python benchmarks/jobs.py --path my/docs           # plan the job over your own file or directory
    python benchmarks/jobs.py --clients 8 --mode processes --findings 10000

Cycles: each client loops claim_task → submit_findings (one finding quoting its chunk, one counts
entry) until the queue is empty, through the core on a real SQLite file in WAL mode. `threads` is
one server process serving many analysts (MCP runs sync tools in worker threads); `processes` is
several server processes on one database. Every run checks that each task was completed exactly
once and that the merged counts equal what was submitted.

Synthesize: a job whose tasks are done with N findings (titles from a vocabulary so some fold,
tags from a few themes), then the time of synthesize(job) — the first page, coverage, exact sums,
folding, themes, and planning a reduce level when the findings do not fit.
"""

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlm_mcp import jobs  # noqa: E402
from rlm_mcp.config import load_settings  # noqa: E402
from rlm_mcp.jobs import claiming as tasks  # noqa: E402
from rlm_mcp.loading.loader import load_document  # noqa: E402
from rlm_mcp.store import SqliteStore, Store, open_store  # noqa: E402
from rlm_mcp.store import documents as documents_db  # noqa: E402
from rlm_mcp.store.rows import NewChunk  # noqa: E402
from rlm_mcp.synthesis import merge as synthesis  # noqa: E402

LINE = "Ship {i} entered the harbour at dawn with cargo, a crew of {c} and a storm warning. "
WORDS = ["storm", "cargo", "crew", "harbour", "pier", "dock", "tide", "wind", "fog", "engine", "hull", "sail"]


def make_synthetic(store: Store, chunks: int) -> None:
    """One document of `chunks` chunks of ~1.8k characters (one task each at task_tokens=500)."""
    rows = []
    for i in range(chunks):
        text = "".join(LINE.format(i=i * 100 + k, c=k) for k in range(22))[:1800]
        rows.append(NewChunk(i, text, "", "", f"h{i}", i * 22 + 1, i * 22 + 22, None, None))
    with store.write() as conn:
        doc = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES ('harbour.log', '/bench/harbour.log', 'log', ?, 'bench', ?)",
            (chunks * 1800, time.time()),
        ).lastrowid
        documents_db.insert_chunks(conn, doc, rows)


def prepare(db: Path, path: Path | None, chunks: int) -> int:
    """A fresh database with one job; returns its number of tasks."""
    base = path if path is None or path.is_dir() else path.parent
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(base or db.parent), "RLM_DB": str(db)})
    store = open_store(settings.db_path)
    if path is None:
        make_synthetic(store, chunks)
        plan = jobs.create_job(store, settings, "storm warnings?", task_tokens=500)
    else:
        load_document(store, settings, str(path))
        plan = jobs.create_job(store, settings, "what stands out?")
    store.close()
    return plan.tasks


def analyst(db: str, name: str, sent: Any, shared: Store | None = None) -> None:
    """Claim and submit until the queue is empty; count what was submitted."""
    store = shared or SqliteStore(Path(db))
    done = 0
    while (claim := tasks.claim_task(store, 1, name)).task_id is not None:
        chunk = claim.chunks[0]
        finding = {
            "title": f"Storm warning {claim.task_id}",
            "detail": "seen",
            "evidence": chunk.text[:50],
            "chunk_id": chunk.chunk_id,
            "tags": ["storms"],
        }
        tasks.submit_findings(store, claim.task_id, name, [finding], counts={"ships": {"tasks": 1}})
        done += 1
    if shared is None:
        store.close()
    sent.append(done)


def run_clients(db: Path, clients: int, mode: str, servers: int = 2) -> float:
    sent: Any
    shared = open_store(db)  # threads: one server process, a connection per thread
    if mode == "mcp":
        import anyio

        sent = []
        seconds = anyio.run(_mcp_clients, db, clients, min(clients, servers), sent)
        shared.close()
        check(db, sum(sent))
        return seconds
    if mode == "threads":
        sent = []
        workers: list[Any] = [
            threading.Thread(target=analyst, args=(str(db), f"w{i}", sent, shared)) for i in range(clients)
        ]
    else:
        sent = multiprocessing.Manager().list()
        workers = [
            multiprocessing.Process(target=analyst, args=(str(db), f"w{i}", sent)) for i in range(clients)
        ]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    seconds = time.perf_counter() - start
    shared.close()
    check(db, sum(sent))
    return seconds


async def _mcp_clients(db: Path, clients: int, servers: int, sent: list[int]) -> float:
    """`clients` concurrent analysts over stdio, spread across `servers` `rlm-mcp serve` processes."""
    import anyio
    from mcp import Client, StdioServerParameters

    env = {
        "RLM_DB": str(db),
        "CLAUDE_PROJECT_DIR": str(db.parent),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(db.parent)),
        "RLM_EMBED_BACKGROUND": "0",
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=env, cwd=REPO)

    async def analyst_over(client: Any, name: str) -> None:
        done = 0
        while True:
            claim = json.loads(
                (
                    await client.call_tool(
                        "claim_task", {"job_id": "j1", "worker": name, "response_format": "json"}
                    )
                )
                .content[0]
                .text
            )
            if not claim["task_id"]:
                break
            chunk = claim["chunks"][0]
            finding = {
                "title": f"Storm warning {claim['task_id']}",
                "detail": "seen",
                "evidence": chunk["text"][:50],
                "chunk_id": chunk["chunk_id"],
                "tags": ["storms"],
            }
            await client.call_tool(
                "submit_findings",
                {
                    "task_id": claim["task_id"],
                    "worker": name,
                    "findings": [finding],
                    "counts": {"ships": {"tasks": 1}},
                },
            )
            done += 1
        sent.append(done)

    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(Client(params)) for _ in range(servers)]
        start = time.perf_counter()  # servers are up: measure the loop, not their start
        async with anyio.create_task_group() as group:
            for i in range(clients):
                group.start_soon(analyst_over, sessions[i % servers], f"w{i}")
        return time.perf_counter() - start


def check(db: Path, submitted: int) -> None:
    store = open_store(db)
    status = jobs.job_status(store, 1)
    result = synthesis.synthesize(store, 1)
    store.close()
    assert status.tasks["done"] == submitted, (status, submitted)
    assert status.tasks["pending"] == status.tasks["claimed"] == 0, status
    assert result.counts_totals.get("ships", 0) == submitted, (result.counts_totals, submitted)


def bench_cycles(args: argparse.Namespace) -> list[dict[str, Any]]:
    figures = []
    for clients in args.clients:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "rlm.db"
            n = prepare(db, args.path, args.tasks)
            seconds = run_clients(db, clients, args.mode, args.servers)
            figures.append(
                {
                    "clients": clients,
                    "mode": args.mode,
                    "tasks": n,
                    "seconds": round(seconds, 2),
                    "cycles_per_s": round(n / seconds, 1),
                }
            )
            print(json.dumps(figures[-1]), flush=True)
    return figures


def fill_findings(db: Path, findings: int, per_task: int) -> None:
    """A finished job with `findings` findings, written straight into the tables (setup, not measured)."""
    rng = random.Random(7)
    prepare(db, None, max(1, findings // per_task))
    store = open_store(db)
    with store.write() as conn:
        task_ids = [r[0] for r in conn.execute("SELECT id FROM tasks WHERE job_id = 1 ORDER BY id")]
        chunk_of = dict(conn.execute("SELECT task_id, chunk_id FROM task_chunks").fetchall())
        conn.execute(
            "UPDATE tasks SET state = 'done', relevance = 'high', completed_at = 1, claimed_at = 0, "
            'counts = \'{"ships": {"seen": 22}}\', stats = \'{"crew": {"n": 22, "sum": 231, "min": 0, '
            '"max": 21}}\' WHERE job_id = 1'
        )
        rows = []
        for i in range(findings):
            task = task_ids[i % len(task_ids)]
            words = rng.sample(WORDS, 3)
            title = f"{' '.join(words)} near pier {rng.randrange(400)}"
            rows.append(
                (
                    1,
                    task,
                    0,
                    i // len(task_ids),
                    chunk_of[task],
                    title,
                    "detail " * 10,
                    f"storm warning {i}",
                    1,
                    chunk_of[task],
                    None,
                    None,
                    None,
                    json.dumps([words[0]]),
                    json.dumps([chunk_of[task]]),
                )
            )
        conn.executemany(
            "INSERT INTO findings (job_id, task_id, level, position, chunk_id, title, detail, evidence, "
            "verified, evidence_chunk_id, line, kind, severity, tags, citations) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    store.close()


def bench_synthesize(args: argparse.Namespace) -> list[dict[str, Any]]:
    figures = []
    for n in args.findings:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "rlm.db"
            fill_findings(db, n, per_task=10)
            store = open_store(db)
            start, cpu = time.perf_counter(), time.process_time()
            result = synthesis.synthesize(store, 1)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            again = time.perf_counter()
            synthesis.synthesize(store, 1, offset=result.page.end)
            paged = time.perf_counter() - again
            store.close()
            figures.append(
                {
                    "findings": n,
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "next_page_seconds": round(paged, 2),
                    "folded": result.page.total_items,
                    "themes": result.page.total_themes,
                    "next": (result.next or {}).get("action"),
                    "answer_chars": len(result.to_text()),
                }
            )
            print(json.dumps(figures[-1]), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--path", type=Path, help="plan the cycle benchmark's job over this file or directory"
    )
    parser.add_argument("--tasks", type=int, default=1000, help="tasks of the synthetic job (default 1000)")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument(
        "--mode",
        choices=["threads", "processes", "mcp"],
        default="threads",
        help="threads: one process; processes: one store per process; mcp: real stdio servers",
    )
    parser.add_argument("--servers", type=int, default=2, help="mcp mode: server processes (default 2)")
    parser.add_argument(
        "--findings", type=lambda s: [int(x) for x in s.split(",") if x], default=[10_000, 100_000]
    )
    parser.add_argument("--skip-cycles", action="store_true")
    args = parser.parse_args()
    if args.path is not None:
        args.path = args.path.resolve()
    if not args.skip_cycles:
        bench_cycles(args)
    bench_synthesize(args)


if __name__ == "__main__":
    main()
