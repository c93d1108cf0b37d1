"""Projected tasks: only some columns of the records a predicate selects, each record with its number.

Planning reads the records from the columnar copy (`data.copy_records`, the sandbox query_data uses),
renders one line per record (`r1042 | open | EU | …`) and groups consecutive lines into tasks that
fit the token budget. `task_records` keeps each task's records (as runs of numbers) and a digest of
its text; a claim renders the same records again and hands them out only while the digest matches,
so a reloaded document fails the task with its reason instead of showing other records.

Record numbers are the copy's (`record` of a table, `line` of a text) and the chunks'
(`start_row`…`end_row`, `start_line`…`end_line`): each record belongs to the chunk that owns it,
which is what findings cite and coverage counts.
"""

import bisect
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..errors import InvalidInput, NotFound
from ..ids import format_id
from ..store import Connection
from ..store import copies as copies_db
from ..store import records as records_db
from ..store.rows import CopyRow, Job, JobDocument, PlanChunk
from .planning import CHUNK_OVERHEAD_TOKENS, PlannedRecords, PlannedTask, token_density

if TYPE_CHECKING:  # the data room brings DuckDB: imported when a job reads records
    from ..data import DataCopy

T = TypeVar("T")

MAX_CELL_CHARS = 1000  # one value of a projected record; longer values are cut (and end in '…')
DENSITY_SAMPLE = 200  # records rendered before the token density of a document's lines is fixed
MAX_PROJECTED_COLUMNS = 200


@dataclass(frozen=True, slots=True)
class Projection:
    """What a projected job shows: these columns (None: all) of the records `where` selects."""

    columns: tuple[str, ...] | None
    where: str | None


def check_projection(columns: Any, where: Any) -> Projection | None:
    """The projection create_job asked for, or None for a job over whole chunks."""
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",")]
    if columns is not None:
        if not isinstance(columns, list | tuple) or not all(
            isinstance(c, str) and c.strip() for c in columns
        ):
            raise InvalidInput("columns must be a list of column names, e.g. ['status', 'note'].")
        if not columns:
            raise InvalidInput("columns is empty: name the columns the analysts need, or omit it for all.")
        if len(columns) > MAX_PROJECTED_COLUMNS:
            raise InvalidInput(f"columns names {len(columns)} columns; at most {MAX_PROJECTED_COLUMNS}.")
        columns = tuple(dict.fromkeys(c.strip() for c in columns))
    if where is not None and not isinstance(where, str):
        raise InvalidInput("where must be a SQL condition as text, e.g. \"status = 'open'\".")
    where = where.strip() if where and where.strip() else None
    if columns is None and where is None:
        return None
    return Projection(columns, where)


def key_of(row: CopyRow) -> str:
    return "line" if row.kind == "lines" else "record"


def view_of(row: CopyRow) -> str:
    name = format_id("d", row.document_id)
    return f"{name}_lines" if row.kind == "lines" else name


def header(row: CopyRow, names: Sequence[str], where: str | None) -> str:
    """The line a projected task starts with: what each record line holds."""
    key = key_of(row)
    chosen = f" where {where}" if where else ""
    return f"{view_of(row)}: one line per {key}{chosen}, as r<{key}> | {' | '.join(names)}"


def render(number: int, values: dict[str, Any], names: Sequence[str]) -> str:
    from .. import data

    cells = [data.cell_text(values[n], MAX_CELL_CHARS) for n in names]
    if len(cells) > 1:  # a value's own '|' must not read as a column break
        cells = [c.replace("|", "\\|") for c in cells]
    return f"r{number} | {' | '.join(cells)}"


def digest(lines: Iterable[str]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def copy_or_raise(conn: Connection, doc: JobDocument) -> CopyRow:
    row = copies_db.get_copy(conn, doc.id)
    if row is None:
        raise InvalidInput(
            f"{format_id('d', doc.id)} {doc.name} ({doc.content_type}) has no columnar copy, so columns= "
            "and where= cannot select its records (tables, JSON, JSONL and texts have one; reload the "
            "document to make it). Omit columns and where to plan over its chunks."
        )
    return row


# ---------------------------------------------------------------- planning


class _Owners(Generic[T]):
    """Which chunk owns a record: of (first record, chunk) pairs, the last that starts at or before it
    (`fallback` when no chunk has a first record)."""

    def __init__(self, pairs: Iterable[tuple[int | None, T]], fallback: T) -> None:
        ranged = sorted(((first, owner) for first, owner in pairs if first is not None), key=lambda p: p[0])
        self._starts = [first for first, _ in ranged]
        self._owners = [owner for _, owner in ranged]
        self._fallback = fallback

    def __call__(self, record: int) -> T:
        if not self._owners:
            return self._fallback
        return self._owners[max(0, bisect.bisect_right(self._starts, record) - 1)]


class _TaskBuilder:
    def __init__(self, document_id: int, analyst: str, head_tokens: int) -> None:
        self.document_id, self.analyst, self.head_tokens = document_id, analyst, head_tokens
        self.lines: list[str] = []
        self.runs: list[list[int]] = []
        self.chunks: dict[int, PlanChunk] = {}
        self.tokens = head_tokens

    def add(self, record: int, line: str, tokens: int, chunk: PlanChunk | None) -> None:
        self.lines.append(line)
        self.tokens += tokens
        if self.runs and self.runs[-1][1] == record - 1:
            self.runs[-1][1] = record
        else:
            self.runs.append([record, record])
        if chunk is not None:
            self.chunks.setdefault(chunk.id, chunk)

    def task(self) -> PlannedTask:
        runs = tuple((a, b) for a, b in self.runs)
        records = PlannedRecords(
            self.document_id, runs[0][0], runs[-1][1], runs, len(self.lines), digest(self.lines)
        )
        return PlannedTask(self.analyst, tuple(self.chunks.values()), self.tokens, records)


def plan_projected(
    copy: "DataCopy",
    doc: JobDocument,
    row: CopyRow,
    chunks: Sequence[records_db.RangedChunk],
    projection: Projection,
    analyst: str,
    budget: int,
    only_chunks: set[int] | None = None,
) -> list[PlannedTask]:
    """Tasks over the projected records of one document (only those owned by `only_chunks` when a
    search chose the chunks), consecutive records up to `budget` tokens each."""
    from .. import data

    names = data.check_columns(row, projection.columns)
    owner = _Owners(((c.first, c.chunk) for c in chunks), chunks[0].chunk if chunks else None)
    head = header(row, names, projection.where)
    head_tokens = math.ceil(len(head) / 4) + CHUNK_OVERHEAD_TOKENS
    tasks: list[PlannedTask] = []
    current = _TaskBuilder(doc.id, analyst, head_tokens)
    density: float | None = None
    sample: list[tuple[int, str, PlanChunk | None]] = []

    def place(record: int, line: str, chunk: PlanChunk | None) -> None:
        nonlocal current
        tokens = math.ceil(len(line) * (density or 0.25)) + 1
        if current.lines and current.tokens + tokens > budget:
            tasks.append(current.task())
            current = _TaskBuilder(doc.id, analyst, head_tokens)
        current.add(record, line, tokens, chunk)

    for record, values in data.copy_records(copy, row, names, projection.where):
        chunk = owner(record)
        if only_chunks is not None and (chunk is None or chunk.id not in only_chunks):
            continue
        line = render(record, values, names)
        if density is None:
            sample.append((record, line, chunk))
            if len(sample) < DENSITY_SAMPLE:
                continue
            density = token_density([s[1] for s in sample])
            for item in sample:
                place(*item)
            continue
        place(record, line, chunk)
    if density is None and sample:
        density = token_density([s[1] for s in sample])
        for item in sample:
            place(*item)
    if current.lines:
        tasks.append(current.task())
    return tasks


# ---------------------------------------------------------------- serving


@dataclass(frozen=True, slots=True)
class RecordLines:
    """A projected task's records as its analyst reads them."""

    document_id: int
    view: str
    key: str
    header: str
    lines: tuple[tuple[int, str], ...]  # (record, its line)

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def numbers(self) -> Iterator[int]:
        return (n for n, _ in self.lines)


def _in_runs(runs: Sequence[tuple[int, int]]) -> Any:
    starts = [a for a, _ in runs]

    def contains(n: int) -> bool:
        i = bisect.bisect_right(starts, n) - 1
        return i >= 0 and runs[i][0] <= n <= runs[i][1]

    return contains


def task_lines(
    conn: Connection, copy: "DataCopy", job: Job, planned: records_db.TaskRecords
) -> tuple[RecordLines | None, str | None]:
    """The task's records rendered again from the current copy, or why they cannot be any more."""
    doc = format_id("d", planned.document_id)
    row = copies_db.get_copy(conn, planned.document_id)
    if row is None:
        return None, (
            f"document {doc} was removed or reloaded without its columnar copy after the job was planned; "
            "create_job again to analyse the current version"
        )
    from .. import data

    names = data.check_columns(row, job.columns)
    contains = _in_runs(planned.runs)
    span = (planned.first, planned.last)
    lines = tuple(
        (n, render(n, values, names))
        for n, values in data.copy_records(copy, row, names, job.where, span)
        if contains(n)
    )
    if len(lines) != planned.records or digest(line for _, line in lines) != planned.digest:
        return None, (
            f"the records of {doc} changed after the job was planned (document reloaded); create_job again "
            "to analyse the current version"
        )
    return RecordLines(
        planned.document_id, view_of(row), key_of(row), header(row, names, job.where), lines
    ), None


def lines_by_chunk(
    lines: RecordLines, states: Sequence[records_db.ChunkState]
) -> list[tuple[int, list[tuple[int, str]]]]:
    """(chunk id, its records' lines) for the chunks a projected task covers, in order."""
    owner = _Owners(((s.first, s.chunk_id) for s in states), states[0].chunk_id)
    grouped: dict[int, list[tuple[int, str]]] = {s.chunk_id: [] for s in states}
    for number, line in lines.lines:
        grouped.setdefault(owner(number), []).append((number, line))
    return [(chunk_id, items) for chunk_id, items in grouped.items() if items]


def record_chunk(states: Sequence[records_db.ChunkState], record: int) -> int:
    """The chunk of a projected task that owns one of its records: the last that starts at or before it."""
    return _Owners(((s.first, s.chunk_id) for s in states), states[0].chunk_id)(record)


def no_records(doc: JobDocument | None, projection: Projection) -> NotFound:
    where = f" where {projection.where}" if projection.where else ""
    what = f"{format_id('d', doc.id)} {doc.name}" if doc else "the documents"
    from .. import data

    view = format_id("d", doc.id) if doc else "d3"
    return NotFound(
        f"No record of {what} matches{where}, so there is nothing to analyse; check the condition with "
        f"{data.count_hint(view, projection.where)}."
    )
