"""Queries for projected tasks: which records of a document a task holds, and the chunks they belong to.

Record numbers are the columnar copy's (`record` of a table, `line` of a text) and the chunks'
(`start_row`…`end_row`, or `start_line`…`end_line`). Callers hold the transaction.
"""

import json
from dataclasses import dataclass

from .connection import Connection
from .rows import PlanChunk


@dataclass(frozen=True, slots=True)
class RangedChunk:
    """A chunk with the records it owns: rows of a table, lines of a text (None when it has none)."""

    chunk: PlanChunk
    first: int | None
    last: int | None


@dataclass(frozen=True, slots=True)
class TaskRecords:
    """The records a projected task holds, as planned: runs of consecutive numbers and their digest."""

    task_id: int
    document_id: int
    first: int
    last: int
    records: int
    runs: tuple[tuple[int, int], ...]
    digest: str


@dataclass(frozen=True, slots=True)
class ChunkState:
    """A chunk a task covers: its records and whether it still holds the text the job planned."""

    chunk_id: int
    document_id: int
    first: int | None
    last: int | None
    planned_hash: str
    current_hash: str | None


def ranged_chunks(conn: Connection, document_id: int, by_line: bool) -> list[RangedChunk]:
    """Every chunk of a document in order, with the rows (or lines) it owns."""
    first, last = ("start_line", "end_line") if by_line else ("start_row", "end_row")
    rows = conn.execute(
        f"SELECT id, document_id, ordinal, length(text) + length(context), content_hash, {first}, {last} "
        "FROM chunks WHERE document_id = ? ORDER BY ordinal",
        (document_id,),
    )
    return [RangedChunk(PlanChunk(r[0], r[1], r[2], r[3], r[4]), r[5], r[6]) for r in rows]


def insert_task_records(conn: Connection, row: TaskRecords) -> None:
    conn.execute(
        "INSERT INTO task_records (task_id, document_id, first_record, last_record, records, runs, digest) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row.task_id, row.document_id, row.first, row.last, row.records,
         json.dumps([list(r) for r in row.runs]), row.digest),
    )  # fmt: skip


def task_records(conn: Connection, task_id: int) -> TaskRecords | None:
    row = conn.execute(
        "SELECT task_id, document_id, first_record, last_record, records, runs, digest "
        "FROM task_records WHERE task_id = ?",
        (task_id,),
    ).fetchone()
    if row is None:
        return None
    runs = tuple((int(a), int(b)) for a, b in json.loads(row[5]))
    return TaskRecords(row[0], row[1], row[2], row[3], row[4], runs, row[6])


def task_chunk_states(conn: Connection, task_id: int, by_line: bool) -> list[ChunkState]:
    """The chunks a task covers, with their records and their current hash (None when deleted)."""
    first, last = ("c.start_line", "c.end_line") if by_line else ("c.start_row", "c.end_row")
    rows = conn.execute(
        f"SELECT tc.chunk_id, tc.document_id, {first}, {last}, tc.content_hash, c.content_hash "
        "FROM task_chunks tc LEFT JOIN chunks c ON c.id = tc.chunk_id "
        "WHERE tc.task_id = ? ORDER BY tc.position",
        (task_id,),
    )
    return [ChunkState(*r) for r in rows]


def record_totals(conn: Connection, job_id: int) -> tuple[int, int]:
    """(records in done tasks, records in all tasks) of a projected job's level-0 tasks."""
    row = conn.execute(
        "SELECT coalesce(sum(CASE WHEN t.state = 'done' THEN r.records END), 0), "
        "coalesce(sum(r.records), 0) FROM task_records r JOIN tasks t ON t.id = r.task_id "
        "WHERE t.job_id = ?",
        (job_id,),
    ).fetchone()
    return int(row[0]), int(row[1])
