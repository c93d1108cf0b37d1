"""`rlm-mcp analyze PATH QUESTION`: a whole rlm job without an interactive session (CI, scripts).

Python orchestrates, `claude -p` does the reading: the path is loaded and a job planned here; each
round starts analysts as separate `claude -p` processes (the analyst agent's prompt appended, only the
rlm tools allowed by `--allowedTools`, the rlm server given by `--mcp-config`, stdin closed because an
inherited stdin hangs `-p`, a wall-clock bound per process); expired leases go back to the queue
between rounds; a synthesizer process writes the report, which is saved to `.rlm/reports/<job>.md`.
`--allowedTools` is what makes this work in CI: `claude -p` ignores a project's allow rules until
the workspace is trusted. A budget in dollars caps the spend, from the `total_cost_usd` each
process reports.
"""

import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import jobs
from ..config import Settings
from ..errors import InvalidInput
from ..ids import format_id
from ..jobs.planning import MAX_PARALLEL_AGENTS, TASKS_PER_AGENT
from ..loading.loader import load_document
from ..store import Store
from ..store import tasks as tasks_db
from ..synthesis import merge as synthesis
from .shipped import plugin_files

SERVER = "rlm"
ANALYST_TOOLS = ("claim_task", "submit_findings", "get_chunk", "job_status")
SYNTHESIZER_TOOLS = ("synthesize", "get_chunk", "search_chunks", "job_status", "list_documents")
DENIED = ("Bash", "Edit", "Write", "NotebookEdit", "WebFetch", "WebSearch", "Agent", "Task")
SYNTHESIZER = "rlm-synthesizer"
REPORTS_DIRNAME = "reports"
FRONTMATTER = re.compile(r"\A---\n.*?\n---\n", re.S)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Options:
    claude: str
    model_analyst: str = "haiku"
    model_synthesizer: str = "sonnet"
    parallel: int = 4
    max_rounds: int | None = None  # default: the plan's rounds plus two for retries
    agent_timeout: float = 900.0
    budget_usd: float | None = None
    report: Path | None = None
    server_command: tuple[str, ...] = ()


@dataclass
class Outcome:
    job_id: int
    report_path: Path
    coverage: jobs.Coverage
    rounds: int
    processes: int
    cost_usd: float
    failures: list[str] = field(default_factory=list)
    synthesized_by_model: bool = True

    @property
    def complete(self) -> bool:
        return self.coverage.ratio >= 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": format_id("j", self.job_id),
            "report": str(self.report_path),
            "coverage": self.coverage.to_json(),
            "rounds": self.rounds,
            "processes": self.processes,
            "cost_usd": round(self.cost_usd, 4),
            "failures": self.failures[:20],
            "synthesized_by_model": self.synthesized_by_model,
        }

    def to_text(self) -> str:
        c = self.coverage
        lines = [
            f"Job {format_id('j', self.job_id)}: coverage {c.done}/{c.total} chunks ({c.ratio:.1%}) after "
            f"{self.rounds} round(s), {self.processes} claude process(es), ${self.cost_usd:.2f} reported.",
            f"Report: {self.report_path}",
        ]
        if not self.synthesized_by_model:
            lines.append(
                "The synthesizer gave no answer: the report is the server's deterministic synthesis."
            )
        lines += [f"Problem: {f}" for f in self.failures[:10]]
        return "\n".join(lines)


def agent_prompt(name: str) -> str:
    """An agent file's body (its system prompt), without the frontmatter."""
    text = plugin_files().get(f"agents/{name}.md")
    if text is None:
        raise InvalidInput(f"No agent file for {name}; reinstall rlm-mcp.")
    return FRONTMATTER.sub("", text, count=1)


def mcp_config(settings: Settings, server_command: Sequence[str]) -> dict[str, Any]:
    command = list(server_command) or [str(Path(sys.executable).parent / "rlm-mcp")]
    return {
        "mcpServers": {
            SERVER: {
                "type": "stdio",
                "command": command[0],
                "args": [*command[1:], "serve"],
                "env": {
                    # the analysts' servers share this run's store: the file, or the team's server (the DSN
                    # may hold a password: the config file is written 0600 inside the 0700 store folder)
                    "RLM_DB": settings.db_url or str(settings.db_path),
                    "RLM_PROJECT": settings.project_key,
                    "CLAUDE_PROJECT_DIR": str(settings.project_dir),
                },
            }
        }
    }


def claude_command(options: Options, config: Path, prompt: str, agent: str, tools: Sequence[str],
                   model: str, budget: float | None) -> list[str]:  # fmt: skip
    words = [
        options.claude, "-p", prompt, "--mcp-config", str(config), "--strict-mcp-config",
        "--allowedTools", ",".join(f"mcp__{SERVER}__{t}" for t in tools),
        "--disallowedTools", ",".join(DENIED), "--append-system-prompt", agent_prompt(agent),
        "--model", model, "--output-format", "json", "--no-session-persistence",
    ]  # fmt: skip
    if budget is not None:
        words += ["--max-budget-usd", f"{budget:.4f}"]
    return words


@dataclass
class _Run:
    name: str
    process: subprocess.Popen[str]
    started: float


def _result(stdout: str) -> tuple[str, float]:
    """(result text, dollars) from `claude -p --output-format json`; plain text counts as the result."""
    try:
        data = json.loads(stdout)
    except ValueError:
        return stdout.strip(), 0.0
    if not isinstance(data, dict):
        return stdout.strip(), 0.0
    cost = data.get("total_cost_usd") or data.get("cost_usd") or 0.0
    return str(data.get("result") or ""), float(cost) if isinstance(cost, int | float) else 0.0


class Headless:
    def __init__(self, store: Store, settings: Settings, options: Options, log: Log, clock: jobs.Clock):
        self.store, self.settings, self.options, self.log, self.clock = store, settings, options, log, clock
        self.cost = 0.0
        self.processes = 0
        self.failures: list[str] = []
        folder = settings.db_path.parent / "headless"
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mcp.json"
        with os.fdopen(os.open(self.config, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(mcp_config(settings, options.server_command), indent=2))
        os.chmod(self.config, 0o600)  # a file left by an older version may have been 0644

    def _budget_left(self) -> float | None:
        return None if self.options.budget_usd is None else self.options.budget_usd - self.cost

    def _start(self, name: str, words: list[str]) -> _Run:
        process = subprocess.Popen(
            words, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=self.settings.project_dir,
        )  # fmt: skip
        self.processes += 1
        return _Run(name, process, time.monotonic())

    def _finish(self, runs: list[_Run]) -> list[str]:
        """Wait for every process, each within its bound; a process past it is killed (its lease expires)."""
        results = []
        for run in runs:
            left = max(1.0, self.options.agent_timeout - (time.monotonic() - run.started))
            try:
                out, err = run.process.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                run.process.kill()
                out, err = run.process.communicate()
                self.failures.append(f"{run.name} stopped after {self.options.agent_timeout:.0f} s")
            text, cost = _result(out or "")
            self.cost += cost
            if run.process.returncode not in (0, None) and not text:
                self.failures.append(
                    f"{run.name} exited {run.process.returncode}: {(err or '').strip()[:300]}"
                )
            results.append(text)
            self.log(f"  {run.name}: {text.strip().splitlines()[0] if text.strip() else '(no answer)'}")
        return results

    def _pending(self, job: int) -> dict[str, int]:
        with self.store.read() as conn:
            return tasks_db.pending_by_analyst(conn, job)

    def round(self, job: int, number: int) -> int:
        pending = self._pending(job)
        wanted = {a: math.ceil(n / TASKS_PER_AGENT) for a, n in pending.items() if n}
        slots = min(self.options.parallel, MAX_PARALLEL_AGENTS)
        kinds = [a for a, n in sorted(wanted.items(), key=lambda kv: -kv[1]) for _ in range(n)][:slots]
        left = self._budget_left()
        share = None if left is None else left / max(1, len(kinds))
        runs = []
        for i, analyst in enumerate(kinds, 1):
            worker = f"{analyst.removeprefix('rlm-').removesuffix('-analyzer')}-r{number}-{i}"
            prompt = (
                f"job_id={format_id('j', job)!r} worker={worker!r} max_tasks={TASKS_PER_AGENT}. Work through "
                "the job as your instructions say (claim_task, submit_findings) and end with your one line."
            )
            words = claude_command(self.options, self.config, prompt, analyst, ANALYST_TOOLS,
                                   self.options.model_analyst, share)  # fmt: skip
            runs.append(self._start(worker, words))
        self._finish(runs)
        return len(runs)

    def synthesize(self, job: int, query: str) -> str | None:
        left = self._budget_left()
        if left is not None and left <= 0:
            self.failures.append("budget spent before synthesis")
            return None
        prompt = (
            f"job_id={format_id('j', job)!r}. The user's question: {query}\nWrite the cited report as your "
            "instructions say; your whole answer is the report, in Markdown."
        )
        words = claude_command(self.options, self.config, prompt, SYNTHESIZER, SYNTHESIZER_TOOLS,
                               self.options.model_synthesizer, left)  # fmt: skip
        (text,) = self._finish([self._start("synthesizer", words)])
        return text.strip() or None


def analyze(
    store: Store, settings: Settings, path: str, question: str, options: Options, log: Log,
    clock: jobs.Clock = time.time,
) -> Outcome:  # fmt: skip
    """Load, plan, run rounds of analysts until the job is covered (or rounds or budget run out),
    synthesize, write the report."""
    loaded = load_document(store, settings, path)
    ids: list[str | int] = [d.id for d in loaded.documents]
    if not ids:
        raise InvalidInput(f"Nothing was loaded from {path}; give a file, folder or glob with text files.")
    plan = jobs.create_job(store, settings, question, document_ids=ids, clock=clock)
    log(f"Job {format_id('j', plan.job_id)}: {plan.tasks} tasks over {plan.chunks} chunks.")
    log(plan.cost.to_text())
    runner = Headless(store, settings, options, log, clock)
    max_rounds = options.max_rounds or plan.cost.rounds + 2
    rounds = 0
    while rounds < max_rounds:
        status = jobs.job_status(store, plan.job_id, clock)  # expired leases go back to the queue
        if not status.tasks["pending"]:
            break
        left = runner._budget_left()
        if left is not None and left <= 0:
            runner.failures.append(f"budget ${options.budget_usd:.2f} spent after {rounds} round(s)")
            break
        rounds += 1
        log(f"Round {rounds}: {status.tasks['pending']} task(s) pending")
        if runner.round(plan.job_id, rounds) == 0:
            break
    report = runner.synthesize(plan.job_id, question)
    final = synthesis.synthesize(store, plan.job_id)
    target = options.report or settings.db_path.parent / REPORTS_DIRNAME / f"{format_id('j', plan.job_id)}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = report or f"# {question}\n\n```\n{final.to_text()}\n```\n"
    target.write_text(body.rstrip() + "\n", encoding="utf-8")
    return Outcome(plan.job_id, target, final.coverage, rounds, runner.processes, runner.cost,
                   runner.failures, report is not None)  # fmt: skip
