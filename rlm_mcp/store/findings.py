"""Queries for findings: what submissions store and synthesis reads. Callers hold the transaction."""

from collections.abc import Iterable, Sequence
from typing import Any

from .connection import Connection
from .rows import (
    Finding,
    NewFinding,
    RatedFinding,
    UnverifiedFinding,
    ids_from_json,
    tags_from_json,
    to_json,
)
from .sql import json_array, placeholders

FINDING_COLUMNS = """id, job_id, task_id, level, position, chunk_id, title, detail, evidence, verified,
    evidence_chunk_id, line, kind, severity, tags, citations"""


def _finding(r: Any) -> Finding:
    return Finding(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], r[11], r[12],
                   r[13], tags_from_json(r[14]), ids_from_json(r[15]))  # fmt: skip


# ---------------------------------------------------------------- submissions


def insert_findings(conn: Connection, rows: Iterable[NewFinding]) -> None:
    conn.executemany(
        "INSERT INTO findings (job_id, task_id, level, position, chunk_id, title, detail, evidence, "
        "verified, evidence_chunk_id, line, kind, severity, tags, citations) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (f.job_id, f.task_id, f.level, f.position, f.chunk_id, f.title, f.detail, f.evidence,
             int(f.verified), f.evidence_chunk_id, f.line, f.kind, f.severity, to_json(list(f.tags)),
             to_json(list(f.citations)))
            for f in rows
        ],
    )  # fmt: skip


def findings_of_tasks(conn: Connection, task_ids: Sequence[int]) -> list[Finding]:
    """The findings of these tasks, in task and position order (reusing a job's work copies them)."""
    rows = conn.execute(
        f"SELECT {FINDING_COLUMNS} FROM findings WHERE task_id IN (SELECT value FROM json_each(?)) "
        "ORDER BY task_id, position",
        (json_array(task_ids),),
    )
    return [_finding(r) for r in rows]


def finding_rows_by_id(conn: Connection, finding_ids: Sequence[int]) -> list[Finding]:
    rows = conn.execute(
        f"SELECT {FINDING_COLUMNS} FROM findings WHERE id IN ({placeholders(len(finding_ids))}) ORDER BY id",
        list(finding_ids),
    )
    return [_finding(r) for r in rows]


def task_finding_tally(conn: Connection, task_id: int) -> tuple[int, int]:
    """(findings, unverified) stored for a task."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE verified = 0) FROM findings WHERE task_id = ?", (task_id,)
    ).fetchone()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------- synthesis inputs


def finding_rows(conn: Connection, job_id: int, level: int) -> list[RatedFinding]:
    rows = conn.execute(
        "SELECT f.id, f.task_id, f.chunk_id, f.title, f.detail, f.evidence, f.verified, f.line, "
        "f.kind, f.severity, f.tags, f.citations, t.relevance FROM findings f "
        "JOIN tasks t ON t.id = f.task_id WHERE f.job_id = ? AND f.level = ? ORDER BY f.id",
        (job_id, level),
    )
    return [
        RatedFinding(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8], r[9], tags_from_json(r[10]),
                     ids_from_json(r[11]), r[12])
        for r in rows
    ]  # fmt: skip


def unverified_rows(conn: Connection, job_id: int) -> list[UnverifiedFinding]:
    rows = conn.execute(
        "SELECT id, task_id, level, chunk_id, title, evidence FROM findings "
        "WHERE job_id = ? AND verified = 0 ORDER BY level, chunk_id, title, evidence, id",
        (job_id,),
    )
    return [UnverifiedFinding(*r) for r in rows]


def findings_signature(conn: Connection, job_id: int, level: int) -> tuple[int, int]:
    """(count, last id) of a level's findings: findings are never updated, so this names the set."""
    row = conn.execute(
        "SELECT count(*), coalesce(max(id), 0) FROM findings WHERE job_id = ? AND level >= ? AND level <= ?",
        (job_id, max(0, level - 1), level),
    ).fetchone()
    return int(row[0]), int(row[1])
