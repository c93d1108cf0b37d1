"""Queries for reusing analysts' work across jobs (work keys on tasks) and for pruning old jobs (gc).

Callers hold the transaction. Rows cross this seam as the dataclasses below.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from .connection import Connection
from .postgres import reuse as pg
from .postgres.adapter import is_postgres
from .sql import json_array


@dataclass(frozen=True, slots=True)
class ChunkKeyRow:
    """What of a chunk determines an analyst's work on it: its text (hash), context and record numbers."""

    chunk_id: int
    content_hash: str
    context: str
    start_row: int | None
    end_row: int | None


@dataclass(frozen=True, slots=True)
class ReuseSource:
    """A done task whose work a new task with the same key reuses."""

    task_id: int
    job_id: int
    work_key: str


@dataclass(frozen=True, slots=True)
class SourceChunk:
    """A chunk a source task covered, by position (reused findings cite the new task's chunk there)."""

    task_id: int
    position: int
    chunk_id: int
    document_id: int


@dataclass(frozen=True, slots=True)
class ReusedFrom:
    """How many of a job's tasks were reused from one earlier job."""

    job_id: int
    tasks: int


@dataclass(frozen=True, slots=True)
class PrunableJob:
    """A job gc may remove: finished, old enough, and reused by no other job."""

    job_id: int
    query: str
    created_at: float
    tasks: int
    findings: int
    labels: int


def chunk_key_rows(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, ChunkKeyRow]:
    rows = conn.execute(
        "SELECT id, content_hash, context, start_row, end_row FROM chunks "
        "WHERE id IN (SELECT value FROM json_each(?))",
        (json_array(chunk_ids),),
    )
    return {int(r[0]): ChunkKeyRow(int(r[0]), str(r[1]), str(r[2] or ""), r[3], r[4]) for r in rows}


def hold_sources(conn: Connection) -> None:
    """Before a create_job reads the work it reuses: no gc deletes it until this transaction ends
    (SQLite: write transactions already take turns; Postgres: the reuse lock, shared)."""
    if is_postgres(conn):
        pg.lock_reuse(conn, exclusive=False)


def done_tasks_by_key(conn: Connection, keys: Sequence[str]) -> dict[str, ReuseSource]:
    """The newest done level-0 task for each work key that has one."""
    rows = conn.execute(
        "SELECT id, job_id, work_key FROM tasks WHERE state = 'done' AND level = 0 "
        "AND work_key IN (SELECT value FROM json_each(?)) ORDER BY id",
        (json_array(keys),),
    )
    return {str(r[2]): ReuseSource(int(r[0]), int(r[1]), str(r[2])) for r in rows}  # the newest wins


def mark_reused(conn: Connection, task_id: int, source_task_id: int, now: float) -> None:
    """Complete a task with the summary, relevance, counts, stats and follow-ups of its source."""
    conn.execute(
        "UPDATE tasks SET state = 'done', worker = 'reused', completed_at = ?, summary = s.summary, "
        "relevance = s.relevance, counts = s.counts, stats = s.stats, follow_up = s.follow_up, "
        "submission_hash = s.submission_hash, reused_from_task = s.id, reused_from_job = s.job_id "
        "FROM (SELECT id, job_id, summary, relevance, counts, stats, follow_up, submission_hash "
        "FROM tasks WHERE id = ?) AS s WHERE tasks.id = ?",
        (now, source_task_id, task_id),
    )


def source_chunks(conn: Connection, task_ids: Sequence[int]) -> list[SourceChunk]:
    rows = conn.execute(
        "SELECT task_id, position, chunk_id, document_id FROM task_chunks "
        "WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY task_id, position",
        (json_array(task_ids),),
    )
    return [SourceChunk(*r) for r in rows]


def reused_from(conn: Connection, job_id: int) -> list[ReusedFrom]:
    """The earlier jobs a job's tasks were reused from, the one it reused most first."""
    rows = conn.execute(
        "SELECT reused_from_job, count(*) FROM tasks WHERE job_id = ? AND reused_from_job IS NOT NULL "
        "GROUP BY reused_from_job ORDER BY count(*) DESC, reused_from_job",
        (job_id,),
    )
    return [ReusedFrom(int(r[0]), int(r[1])) for r in rows]


def reused_task_ids(conn: Connection, job_id: int) -> dict[int, int]:
    """{task id: the job it was reused from} of a job's reused tasks."""
    rows = conn.execute(
        "SELECT id, reused_from_job FROM tasks WHERE job_id = ? AND reused_from_job IS NOT NULL", (job_id,)
    )
    return {int(r[0]): int(r[1]) for r in rows}


# ---------------------------------------------------------------- gc


def hold_pruning(conn: Connection) -> None:
    """Before a gc picks what to delete: every create_job that reuses work has committed or waits
    (SQLite: write transactions already take turns; Postgres: the reuse lock, exclusive)."""
    if is_postgres(conn):
        pg.lock_reuse(conn, exclusive=True)


def prunable_jobs(conn: Connection, before: float) -> list[PrunableJob]:
    """Jobs created before `before` with no pending or claimed task whose work no other job reused."""
    rows = conn.execute(
        "SELECT j.id, j.query, j.created_at, "
        "(SELECT count(*) FROM tasks t WHERE t.job_id = j.id), "
        "(SELECT count(*) FROM findings f WHERE f.job_id = j.id), "
        "(SELECT count(*) FROM labels l WHERE l.job_id = j.id) FROM jobs j "
        "WHERE j.created_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.job_id = j.id AND t.state IN ('pending', 'claimed')) "
        "AND NOT EXISTS (SELECT 1 FROM tasks r WHERE r.reused_from_job = j.id AND r.job_id != j.id) "
        "ORDER BY j.id",
        (before,),
    )
    return [PrunableJob(int(r[0]), str(r[1]), float(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]


def delete_jobs(conn: Connection, job_ids: Sequence[int]) -> int:
    """Delete jobs with their tasks, chunks lists, records, findings and labels (foreign keys cascade)."""
    return int(
        conn.execute(
            "DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (json_array(job_ids),)
        ).rowcount
    )
