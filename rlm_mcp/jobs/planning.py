"""Planning a job: how many tokens a chunk costs, how chunks group into tasks, how many agents to start.

Tasks must each fit one tool result, so a chunk's cost is estimated from its document's token
density (CSV and JSON take about twice as many tokens per character as prose).
"""

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..store import Connection
from ..store import jobs as db
from ..store.rows import JobDocument, PlanChunk
from . import analysts

MAX_TASK_TOKENS = 8000  # chunk text of one task; with instructions it stays under a tool result's ~10k
MIN_TASK_TOKENS = 500
CHUNK_OVERHEAD_TOKENS = 20  # the header line each chunk gets in a claimed task
CHARS_PER_TOKEN = 4
TOKEN_PIECE = re.compile(r"\d{1,3}|[^\W\d_]{1,6}|[^\w\s]{1,2}|_|\n")
DENSITY_SAMPLE = 12  # a document's first chunks, read to estimate its token density
# Content-defined task boundaries: once a task holds CUT_FILL of its budget, it also ends after any
# chunk whose content hash is a cut point (1 in CUT_ONE_IN). An edit that changes a chunk's size then
# moves the boundaries of its own task only: the next cut point is the same in both versions, and the
# tasks after it are the same tasks (same work key), so their work is reused (jobs.reuse).
CUT_FILL = 0.6
SPAN_TASKS = 2  # a document longer than this many tasks gets its last chunk in a task of its own
CUT_ONE_IN = 4
TASKS_PER_AGENT = 8  # an analyst stops after this many tasks, so its context stays small
MAX_PARALLEL_AGENTS = 8


def chunk_tokens(size_chars: int, density: float = 1 / CHARS_PER_TOKEN) -> int:
    return math.ceil(size_chars * density) + CHUNK_OVERHEAD_TOKENS


def token_density(texts: Sequence[str]) -> float:
    """Tokens per character of a sample: prose is ~1/4, CSV and numbers much denser (~1/2).

    Counted as digit runs of up to 3, letter runs of up to 6, punctuation in pairs, and line
    breaks — close to what a BPE tokenizer does with such text, and never below the prose ratio.
    """
    chars = sum(len(t) for t in texts)
    if not chars:
        return 1 / CHARS_PER_TOKEN
    pieces = sum(len(TOKEN_PIECE.findall(t)) for t in texts)
    return max(1 / CHARS_PER_TOKEN, pieces / chars)


@dataclass(frozen=True, slots=True)
class PlannedRecords:
    """The records a projected task holds: runs of consecutive numbers, how many, their text's digest."""

    document_id: int
    first: int
    last: int
    runs: tuple[tuple[int, int], ...]
    count: int
    digest: str


@dataclass(frozen=True, slots=True)
class PlannedTask:
    analyst: str
    chunks: tuple[PlanChunk, ...]
    tokens: int
    records: PlannedRecords | None = None  # a projected task: the records it shows (chunks: their owners)


def group_chunks(docs: Sequence[tuple[str, float, list[PlanChunk]]], budget: int) -> list[PlannedTask]:
    """Consecutive chunks into tasks of at most `budget` tokens; small documents of one analyst share a task.

    A document that does not fit in the room left starts a new task, so a large document's tasks
    each cover consecutive chunks of that document alone (a long one's last chunk in a task of its
    own). Past CUT_FILL of the budget a task also ends at a content-defined cut point (see CUT_FILL).
    """
    tasks: list[PlannedTask] = []
    current: list[PlanChunk] = []
    used, current_analyst = 0, ""

    def flush() -> None:
        nonlocal current, used
        if current:
            tasks.append(PlannedTask(current_analyst, tuple(current), used))
        current, used = [], 0

    for analyst, density, rows in docs:
        doc_tokens = sum(chunk_tokens(r.size, density) for r in rows)
        if analyst != current_analyst or used + doc_tokens > budget:
            flush()
            current_analyst = analyst
        spans = doc_tokens > SPAN_TASKS * budget
        for i, row in enumerate(rows):
            size = chunk_tokens(row.size, density)
            # The last chunk of a document that spans tasks starts a task of its own: it is the chunk
            # an append changes, and the task before it stays the same task (and is reused).
            if current and (used + size > budget or (spans and i == len(rows) - 1)):
                flush()
            current.append(row)
            used += size
            if used >= budget * CUT_FILL and is_cut_point(row.content_hash):
                flush()
    flush()
    return tasks


def is_cut_point(content_hash: str) -> bool:
    """Whether a chunk ends a task past CUT_FILL: by its content hash (any text: hex, or a test's own)."""
    return zlib.crc32(content_hash.encode("utf-8", "surrogatepass")) % CUT_ONE_IN == 0


def spawn_plan(per_analyst: Counter[str]) -> dict[str, int]:
    """How many agents of each kind to start at once: enough for the work, bounded in total."""
    wanted = {a: math.ceil(n / TASKS_PER_AGENT) for a, n in per_analyst.items() if n}
    total = sum(wanted.values())
    if total <= MAX_PARALLEL_AGENTS:
        return dict(sorted(wanted.items()))
    shares = {a: max(1, math.floor(MAX_PARALLEL_AGENTS * w / total)) for a, w in wanted.items()}
    for a in sorted(wanted, key=lambda a: -wanted[a]):
        if sum(shares.values()) >= MAX_PARALLEL_AGENTS:
            break
        shares[a] += 1
    return dict(sorted(shares.items()))


def plan_tasks(
    conn: Connection, per_doc: Sequence[tuple[JobDocument, list[PlanChunk]]], analyst: str | None, budget: int
) -> list[PlannedTask]:
    """Tasks over (document, its chunk rows) pairs: the analyst by content type unless one is forced."""
    plan = [
        (analyst or analysts.analyst_for(doc.content_type), _density(conn, doc.id), rows)
        for doc, rows in per_doc
        if rows
    ]
    return group_chunks(plan, budget)


def _density(conn: Connection, document_id: int) -> float:
    return token_density(db.chunk_sample(conn, document_id, DENSITY_SAMPLE))


# ---------------------------------------------------------------- what a plan costs

# What an analyst reads before its first task: its agent prompt (~1.5k tokens), the rlm tools' schemas
# (~4k) and Claude Code's subagent preamble with CLAUDE.md and the delegation message (~3k).
# tests/test_jobs_cost.py keeps it above the shipped agent files plus the tool list.
ANALYST_FIXED_TOKENS = 9000
TASK_FRAME_TOKENS = 400  # a claimed task's header, question and instructions around its chunks
SUBMIT_TOKENS = 600  # the findings an analyst writes, and the answer it reads back
CONSENT_TASKS = 50  # above this, the orchestrator shows the plan and waits for the user's yes


@dataclass(frozen=True, slots=True)
class PlanCost:
    """Analysts, rounds and analyst input tokens of a plan: every analyst rereads its whole context
    at each turn, so its input grows with every task it takes, up to `max_tasks`."""

    tasks: int
    analysts: int
    rounds: int
    max_tasks: int
    fixed_tokens: int
    input_tokens: int
    largest_context: int

    def to_json(self) -> dict[str, int]:
        return {
            "tasks": self.tasks,
            "analysts": self.analysts,
            "rounds": self.rounds,
            "parallel": MAX_PARALLEL_AGENTS,
            "max_tasks": self.max_tasks,
            "analyst_fixed_tokens": self.fixed_tokens,
            "input_tokens": self.input_tokens,
            "largest_context_tokens": self.largest_context,
        }

    def to_text(self) -> str:
        return (
            f"Cost: {self.tasks} tasks → {self.analysts} analyst run(s) of up to {self.max_tasks} tasks, "
            f"in {self.rounds} round(s) of at most {MAX_PARALLEL_AGENTS} in parallel; ~{self.input_tokens:,} "
            f"analyst input tokens (each starts at ~{self.fixed_tokens:,} tokens of fixed context and grows "
            f"to ~{self.largest_context:,} by its last task)."
        )


def _analyst_input(task_tokens: Sequence[int]) -> tuple[int, int]:
    """(input tokens over all turns, context at the end) of one analyst taking these tasks in turn."""
    context = ANALYST_FIXED_TOKENS
    total = context  # the first turn: read the prompt, call claim_task
    for tokens in task_tokens:
        context += tokens + TASK_FRAME_TOKENS
        total += context  # read the task, call submit_findings
        context += SUBMIT_TOKENS
        total += context  # read the answer, call claim_task again (or stop)
    return total, context


def plan_cost(tasks: Sequence[PlannedTask], max_tasks: int = TASKS_PER_AGENT) -> PlanCost:
    by_analyst: dict[str, list[int]] = {}
    for task in tasks:
        by_analyst.setdefault(task.analyst, []).append(task.tokens)
    runs = [ts[i : i + max_tasks] for ts in by_analyst.values() for i in range(0, len(ts), max_tasks)]
    spent = [_analyst_input(run) for run in runs]
    return PlanCost(
        len(tasks),
        len(runs),
        math.ceil(len(runs) / MAX_PARALLEL_AGENTS),
        max_tasks,
        ANALYST_FIXED_TOKENS,
        sum(total for total, _ in spent),
        max((context for _, context in spent), default=ANALYST_FIXED_TOKENS),
    )
