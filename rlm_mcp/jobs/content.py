"""What a task shows its analyst: its chunks (or, for a reduce task, the findings it merges).

Shared by claiming (which hands the content out) and submitting (which checks evidence against it).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from ..ids import format_id
from ..store import Connection
from ..store import copies as copies_db
from ..store import findings as findings_db
from ..store import records as records_db
from ..store import tasks as tasks_db
from ..store.rows import CoveredChunk, Job, Task
from .dimensions import TaskRecordSet, record_set
from .records import RecordLines, task_lines

if TYPE_CHECKING:  # the data room brings DuckDB: imported when a task holds records
    from ..config import Settings
    from ..data import DataCopy
    from ..store import Store

Copies = Callable[[], "DataCopy"]  # opens the columnar copies only when a task needs them


def copies_for(store: "Store", settings: "Settings | None" = None) -> Copies:
    def open_copies() -> "DataCopy":
        from .. import data

        return data.open_copy(settings, store)

    return open_copies


RECORD_TYPES = ("csv", "tsv", "json", "jsonl")  # chunks of these hold numbered records (rows, elements)

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
        rows = findings_db.finding_rows_by_id(conn, group)
        cited = sorted({c for r in rows for c in r.citations or (r.chunk_id,)})
        head = rows[0]
        text = f"{head.title}\n{head.detail}\nevidence: {head.evidence}".strip()
        extra = [f"evidence: {r.evidence}" for r in rows[1:4] if r.evidence != head.evidence]
        text = "\n".join([text, *extra])
        cites = ", ".join(format_id("c", c) for c in cited[:20])
        context = f"finding cited by {len(rows)} analyst(s); cites {cites}"
        items.append((TaskChunk(cited[0], f"{len(rows)} finding(s)", context, text), tuple(cited)))
    return items


@dataclass(frozen=True, slots=True)
class Content:
    """What a task shows: chunks, or (a projected task) the lines of its records; or why it cannot."""

    chunks: tuple[TaskChunk, ...] = ()
    records: RecordLines | None = None
    states: tuple[records_db.ChunkState, ...] = ()  # a projected task: its chunks and their records
    record_set: TaskRecordSet | None = None  # the numbered records the task holds, if any
    problem: str | None = None


def task_content(conn: Connection, task: Task, job: Job, copies: Copies) -> Content:
    if task.level > 0:
        return Content(tuple(item for item, _ in reduce_items(conn, task.inputs)))
    planned = records_db.task_records(conn, task.id)
    if planned is not None:
        return _projected_content(conn, task, job, copies, planned)
    rows = tasks_db.task_chunk_rows(conn, task.id)
    problem = chunk_problem(rows)
    if problem:
        return Content(problem=problem)
    chunks = tuple(TaskChunk(r.chunk_id, location(r), r.context or "", r.text or "") for r in rows)
    return Content(chunks, record_set=chunk_records(rows))


def _projected_content(
    conn: Connection, task: Task, job: Job, copies: Copies, planned: records_db.TaskRecords
) -> Content:
    row = copies_db.get_copy(conn, planned.document_id)
    kind = row.kind if row is not None else None
    states = records_db.task_chunk_states(conn, task.id, kind == "lines")
    gone = [s for s in states if s.current_hash != s.planned_hash]
    if gone or kind is None:
        ids = ", ".join(format_id("c", s.chunk_id) for s in gone[:6])
        return Content(
            problem=f"chunks {ids or 'of the document'} were changed or removed after the job was planned "
            f"(document {format_id('d', planned.document_id)} reloaded or removed); create_job again to "
            "analyse the current version"
        )
    lines, problem = task_lines(conn, copies(), job, planned)
    if lines is None:
        return Content(problem=problem)
    return Content(
        records=lines, states=tuple(states), record_set=record_set({planned.document_id: planned.runs})
    )


def chunk_records(rows: list[CoveredChunk]) -> TaskRecordSet | None:
    """The rows (or elements) a task of table chunks holds, by document; None for other content."""
    runs: dict[int, list[tuple[int, int]]] = {}
    for r in rows:
        if r.content_type in RECORD_TYPES and r.start_row is not None and r.end_row is not None:
            runs.setdefault(r.document_id, []).append((r.start_row, r.end_row))
    return record_set(runs) if runs else None


def check_worker(worker: str) -> str:
    if not isinstance(worker, str) or not worker.strip() or len(worker) > MAX_WORKER_CHARS:
        raise InvalidInput(
            f"worker must be a short name (1–{MAX_WORKER_CHARS} characters) unique to each analyst, "
            "e.g. 'data-1'."
        )
    return worker.strip()
