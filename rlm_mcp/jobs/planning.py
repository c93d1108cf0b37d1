"""Planning a job: how many tokens a chunk costs, how chunks group into tasks, how many agents to start.

Tasks must each fit one tool result, so a chunk's cost is estimated from its document's token
density (CSV and JSON take about twice as many tokens per character as prose).
"""

import math
import re
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
DENSITY_SAMPLE = 12  # chunks per document read to estimate its token density
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
class PlannedTask:
    analyst: str
    chunks: tuple[PlanChunk, ...]
    tokens: int


def group_chunks(docs: Sequence[tuple[str, float, list[PlanChunk]]], budget: int) -> list[PlannedTask]:
    """Consecutive chunks into tasks of at most `budget` tokens; small documents of one analyst share a task.

    A document that does not fit in the room left starts a new task, so a large document's tasks
    each cover consecutive chunks of that document alone.
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
        for row in rows:
            size = chunk_tokens(row.size, density)
            if current and used + size > budget:
                flush()
            current.append(row)
            used += size
    flush()
    return tasks


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
