"""What a task shows its analyst: its chunks (or, for a reduce task, the findings it merges).

Shared by claiming (which hands the content out) and submitting (which checks evidence against it).
"""

from dataclasses import dataclass

from ..errors import InvalidInput
from ..ids import format_id
from ..store import Connection
from ..store import jobs as db
from ..store.rows import CoveredChunk, Task

MAX_WORKER_CHARS = 100


@dataclass(frozen=True, slots=True)
class TaskChunk:
    chunk_id: int
    location: str
    context: str
    text: str


def location(row: CoveredChunk) -> str:
    lines = f"lines {row.start_line}-{row.end_line}"
    section = f"{row.section} · " if row.section else ""
    rows = ""
    if row.start_row is not None and not section.startswith("rows"):  # CSV sections name their rows
        rows = f"rows {row.start_row}-{row.end_row}, "
    return f"{format_id('d', row.document_id)} {row.document_name} · {section}{rows}{lines}"


def chunk_problem(rows: list[CoveredChunk]) -> str | None:
    """Why a task's planned chunks cannot be analysed any more, or None when they all still exist."""
    gone = [format_id("c", r.chunk_id) for r in rows if r.current_hash is None]
    changed = [format_id("c", r.chunk_id) for r in rows if r.current_hash not in (None, r.planned_hash)]
    if not gone and not changed:
        return None
    docs = ", ".join(sorted({format_id("d", r.document_id) for r in rows}))
    what = f"chunks {', '.join((gone + changed)[:6])}{'…' if len(gone + changed) > 6 else ''}"
    return (
        f"{what} were {'removed' if gone else 'changed'} after the job was planned (document {docs} reloaded "
        "or removed); create_job again to analyse the current version"
    )


def reduce_items(conn: Connection, inputs: list[list[int]] | None) -> list[tuple[TaskChunk, tuple[int, ...]]]:
    """A reduce task's items: each a folded group of findings, shown as one chunk-like block."""
    items = []
    for group in inputs or []:
        rows = db.finding_rows_by_id(conn, group)
        cited = sorted({c for r in rows for c in r.citations or (r.chunk_id,)})
        head = rows[0]
        text = f"{head.title}\n{head.detail}\nevidence: {head.evidence}".strip()
        extra = [f"evidence: {r.evidence}" for r in rows[1:4] if r.evidence != head.evidence]
        text = "\n".join([text, *extra])
        cites = ", ".join(format_id("c", c) for c in cited[:20])
        context = f"finding cited by {len(rows)} analyst(s); cites {cites}"
        items.append((TaskChunk(cited[0], f"{len(rows)} finding(s)", context, text), tuple(cited)))
    return items


def task_content(conn: Connection, task: Task) -> tuple[list[TaskChunk], str | None]:
    if task.level > 0:
        return [item for item, _ in reduce_items(conn, task.inputs)], None
    rows = db.task_chunk_rows(conn, task.id)
    problem = chunk_problem(rows)
    if problem:
        return [], problem
    return [TaskChunk(r.chunk_id, location(r), r.context or "", r.text or "") for r in rows], None


def check_worker(worker: str) -> str:
    if not isinstance(worker, str) or not worker.strip() or len(worker) > MAX_WORKER_CHARS:
        raise InvalidInput(
            f"worker must be a short name (1–{MAX_WORKER_CHARS} characters) unique to each analyst, "
            "e.g. 'data-1'."
        )
    return worker.strip()
