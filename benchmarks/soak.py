"""Soak: many analysts on several real `rlm-mcp serve` processes over stdio, killed at random, until a
big job is done; then every task must be done exactly once and the counts must be exact.

    python benchmarks/soak.py                    # 10,000 tasks, 32 analysts on 4 servers, kills
    python benchmarks/soak.py --smoke            # 200 tasks, 4 analysts on 2 servers (the tests run it)
    python benchmarks/soak.py --tasks 2000 --analysts 16 --servers 2 --server-kills 3 --seed 7

Each server process is spawned over stdio and serves `analysts / servers` analyst slots. An analyst
loops claim_task → submit_findings (one finding quoting its chunk, counts {"soak": {"tasks": 1}})
and retires after `--max-tasks` tasks, when a fresh one takes its slot. Kills, from a seeded
schedule: an analyst dies after a claim (its lease expires and the task is requeued) or in the
middle of a submit (the call is cancelled: the submission went through or it did not); a server is
sent SIGKILL when the job passes random progress marks, taking its analysts and their leases with
it, and is restarted with fresh analysts. The run ends when no task is pending or claimed.

Checks (exit status 1 when one fails): every task done once (done = tasks; one finding per done
task and no task with two), the merged counts equal the done tasks exactly, nothing still claimed,
and no unexpected error. Printed: wall time, tasks/s, requeues (claims beyond the first), kills of
analysts and servers, restarts, submits answered and submits whose answer was lost; and, unless
`--no-baseline` or `--smoke`, the same run without kills first and the ratio of tasks/s to it.
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rlm_mcp import jobs  # noqa: E402
from rlm_mcp.config import load_settings  # noqa: E402
from rlm_mcp.store import findings as findings_db  # noqa: E402
from rlm_mcp.store import open_store  # noqa: E402
from rlm_mcp.store import tasks as tasks_db  # noqa: E402
from rlm_mcp.synthesis import merge as synthesis  # noqa: E402

CALL_SECONDS = 60.0  # no tool call may take longer: a hang fails the run
# The server command: write its own pid (for the killer), then become `rlm-mcp serve` (same pid).
SERVE_WITH_PIDFILE = (
    "import os, sys; open(sys.argv[1], 'w').write(str(os.getpid())); "
    "os.execv(sys.executable, [sys.executable, '-m', 'rlm_mcp', 'serve'])"
)


def _bench_jobs() -> Any:
    """benchmarks/jobs.py (its synthetic job), imported by path: `jobs` is also rlm_mcp's package."""
    spec = importlib.util.spec_from_file_location("bench_jobs", REPO / "benchmarks" / "jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(db: Path, tasks: int, lease: int) -> int:
    """A fresh store with one job (j1) of `tasks` one-chunk tasks whose leases last `lease` seconds."""
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(db.parent), "RLM_DB": str(db)})
    store = open_store(settings.db_path)
    _bench_jobs().make_synthetic(store, tasks)
    plan = jobs.create_job(
        store, dataclasses.replace(settings, lease_seconds=lease), "storm warnings?", task_tokens=500
    )
    store.close()
    return plan.tasks


@dataclasses.dataclass
class Run:
    args: argparse.Namespace
    db: Path
    total: int
    rng: random.Random
    finished: anyio.Event = dataclasses.field(default_factory=anyio.Event)
    figures: Counter[str] = dataclasses.field(default_factory=Counter)
    errors: list[str] = dataclasses.field(default_factory=list)
    pids: dict[int, int] = dataclasses.field(default_factory=dict)  # server index -> pid
    killed: set[int] = dataclasses.field(default_factory=set)  # servers killed on purpose, not restarted yet
    names: int = 0

    def env(self) -> dict[str, str]:
        return {
            "RLM_DB": str(self.db),
            "CLAUDE_PROJECT_DIR": str(self.db.parent),
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.db.parent)),
            "RLM_EMBED_BACKGROUND": "0",
        }

    def name(self, server: int) -> str:
        self.names += 1
        return f"s{server}-a{self.names}"


async def _call(client: Any, tool: str, arguments: dict[str, Any]) -> Any:
    with anyio.fail_after(CALL_SECONDS):
        return await client.call_tool(tool, {**arguments, "response_format": "json"})


async def analyst(run: Run, client: Any, name: str) -> str:
    """Claim and submit until retired, killed or the job is done; says which."""
    args, rng = run.args, run.rng
    for _ in range(args.max_tasks):
        claim_result = await _call(client, "claim_task", {"job_id": "j1", "worker": name})
        if claim_result.is_error:
            run.errors.append(f"claim_task: {claim_result.content[0].text}")
            return "error"
        claim = json.loads(claim_result.content[0].text)
        if not claim["task_id"]:
            if run.finished.is_set():
                return "finished"
            await anyio.sleep(0.2)  # the rest is leased to others (some dead): wait for expiry
            continue
        run.figures["claims"] += 1
        if rng.random() < args.analyst_kill_rate:
            run.figures["analysts killed after a claim"] += 1
            return "killed"
        chunk = claim["chunks"][0]
        finding = {
            "title": f"Soak {claim['task_id']}",
            "evidence": chunk["text"][:40],
            "chunk_id": chunk["chunk_id"],
        }
        submit = {"task_id": claim["task_id"], "worker": name, "findings": [finding]}
        submit["counts"] = {"soak": {"tasks": 1}}
        answer = None
        if rng.random() < args.analyst_kill_rate:
            with anyio.move_on_after(rng.uniform(0, 0.01)):  # dies at a random moment of the call
                answer = await _call(client, "submit_findings", submit)
            if answer is None:
                run.figures["analysts killed during a submit"] += 1
                return "killed"
        else:
            answer = await _call(client, "submit_findings", submit)
        if answer.is_error:
            run.figures["submits refused"] += 1  # a lease lost to expiry: clear answer, nothing stored
        else:
            run.figures["submits answered"] += 1
    run.figures["analysts retired"] += 1
    return "retired"


async def slot(run: Run, client: Any, server: int) -> None:
    """One analyst at a time: a fresh one replaces each retired or killed one."""
    while not run.finished.is_set():
        if await analyst(run, client, run.name(server)) in ("finished", "error"):
            return


async def server_host(run: Run, server: int, slots: int, pidfile: Path) -> None:
    """Keep server `server` running with its analysts; restart both after a kill."""
    from mcp import Client, StdioServerParameters

    while not run.finished.is_set():
        params = StdioServerParameters(
            command=sys.executable, args=["-c", SERVE_WITH_PIDFILE, str(pidfile)], env=run.env()
        )
        try:
            async with Client(params) as client:
                run.pids[server] = int(pidfile.read_text())
                async with anyio.create_task_group() as group:
                    for _ in range(slots):
                        group.start_soon(slot, run, client, server)
        except Exception as error:  # what a client sees when its server dies under it
            if server not in run.killed:
                run.errors.append(f"server {server}: {type(error).__name__}: {error}")
                return
        if server in run.killed:
            run.killed.discard(server)
            run.figures["server restarts"] += 1


def _progress(run: Run) -> tuple[int, int, int]:
    """(done, failed, pending + claimed) of j1."""
    store = open_store(run.db)
    try:
        tasks = jobs.job_status(store, 1).tasks
    finally:
        store.close()
    return tasks["done"], tasks.get("failed", 0), tasks["pending"] + tasks["claimed"]


async def monitor(run: Run) -> None:
    """Ends the run when nothing is left, and kills servers as the job passes random marks."""
    marks = sorted(run.rng.uniform(0.05, 0.9) for _ in range(run.args.server_kills))
    while True:
        done, _failed, left = await anyio.to_thread.run_sync(_progress, run)
        if left == 0:
            run.finished.set()
            return
        while marks and done >= marks[0] * run.total:
            marks.pop(0)
            alive = [s for s in run.pids if s not in run.killed]
            if alive:
                victim = run.rng.choice(alive)
                run.killed.add(victim)
                os.kill(run.pids.pop(victim), signal.SIGKILL)
                run.figures["servers killed"] += 1
        await anyio.sleep(0.25)


async def soak(run: Run) -> float:
    servers = run.args.servers
    per_server = [run.args.analysts // servers + (i < run.args.analysts % servers) for i in range(servers)]
    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        group.start_soon(monitor, run)
        for i, slots in enumerate(per_server):
            group.start_soon(server_host, run, i, slots, run.db.parent / f"server{i}.pid")
    return time.perf_counter() - started


def check(run: Run) -> dict[str, Any]:
    """What the store says after the run, and whether it is exact."""
    store = open_store(run.db)
    try:
        status = jobs.job_status(store, 1)
        conn = store.conn()
        tasks = [tasks_db.task_row(conn, i) for i in range(1, run.total + 1)]
        findings = findings_db.finding_rows(conn, 1, 0)
        result = synthesis.synthesize(store, 1)
    finally:
        store.close()
    per_task = Counter(f.task_id for f in findings)
    done = status.tasks["done"]
    facts = {
        "tasks": run.total,
        "done": done,
        "failed": status.tasks.get("failed", 0),
        "claimed": status.tasks["claimed"],
        "requeues": sum(t.attempts - 1 for t in tasks if t is not None),
        "findings": len(findings),
        "tasks with two findings": sum(1 for n in per_task.values() if n > 1),
        "merged count": result.counts_totals.get("soak", 0),
    }
    problems = []
    if done != run.total:
        problems.append(f"{run.total - done} tasks not done")
    if facts["tasks with two findings"] or len(per_task) != done or len(findings) != done:
        problems.append("findings are not one per done task")
    if facts["merged count"] != done:
        problems.append(f"merged count {facts['merged count']} != done {done}")
    if facts["claimed"]:
        problems.append("tasks still claimed")
    facts["problems"] = problems + run.errors[:10]
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--analysts", type=int, default=32)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--server-kills", type=int, default=8)
    parser.add_argument("--analyst-kill-rate", type=float, default=0.01, help="per claim and per submit")
    parser.add_argument("--max-tasks", type=int, default=40, help="tasks an analyst does before it retires")
    parser.add_argument("--lease", type=int, default=3, help="lease seconds of the job's tasks")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--smoke", action="store_true", help="200 tasks, 4 analysts, 2 servers, 2 kills")
    parser.add_argument("--work", type=Path, help="folder for the store (default: a temporary one)")
    parser.add_argument(
        "--no-baseline", dest="baseline", action="store_false", help="skip the same run without kills first"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.tasks, args.analysts, args.servers, args.server_kills = 200, 4, 2, 2
        args.analyst_kill_rate, args.max_tasks, args.lease = 0.05, 25, 1
    baseline = None
    if args.baseline and not args.smoke:  # the same run without kills, in this invocation
        calm = argparse.Namespace(**{**vars(args), "server_kills": 0, "analyst_kill_rate": 0.0})
        baseline, calm_problems = soak_once(calm)
        print("baseline (no kills): " + json.dumps(baseline), flush=True)
        if calm_problems:
            print("NOT EXACT (baseline): " + "; ".join(calm_problems), file=sys.stderr)
            return 1
    figures, problems = soak_once(args)
    if baseline:
        figures["tasks_per_s_vs_no_kills"] = round(figures["tasks_per_s"] / baseline["tasks_per_s"], 2)
    print(json.dumps(figures), flush=True)
    for key, value in figures.items():
        print(f"{key:>36}: {value}")
    if problems:
        print("NOT EXACT: " + "; ".join(problems), file=sys.stderr)
        return 1
    print("exact: every task done once, one finding each, merged count = tasks")
    return 0


def soak_once(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """One soak on a fresh store: its figures, and what was not exact."""
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        db = Path(tmp) / "rlm.db"
        total = prepare(db, args.tasks, args.lease)
        run = Run(args, db, total, random.Random(args.seed))
        seconds = anyio.run(soak, run)
        facts = check(run)
    problems = facts.pop("problems")
    figures = {
        "tasks": total,
        "analysts": args.analysts,
        "servers": args.servers,
        "seconds": round(seconds, 1),
        "tasks_per_s": round(facts["done"] / seconds, 1),
        **{k.replace(" ", "_"): v for k, v in sorted(run.figures.items())},
        **{k.replace(" ", "_"): v for k, v in facts.items()},
    }
    figures["submits_whose_answer_was_lost"] = facts["done"] - run.figures["submits answered"]
    return figures, problems


if __name__ == "__main__":
    sys.exit(main())
