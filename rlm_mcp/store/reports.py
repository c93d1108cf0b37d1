"""What a job's HTML report reads: every task, finding and planned chunk of a job, the chunks it cites,
and the shape of the documents it covers. Read-only; callers hold the transaction (`store.read()`).
Rows cross this seam as frozen dataclasses with JSON columns decoded."""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .connection import Connection

IN_BATCH = 900  # parameters per `IN (…)`: under SQLite's default limit on old builds


@dataclass(frozen=True, slots=True)
class ReportTask:
    id: int
    level: int
    ordinal: int
    analyst: str
    state: str
    worker: str | None
    attempts: int
    error: str | None
    claimed_at: float | None
    completed_at: float | None
    lease_expires_at: float | None
    planned_tokens: int
    chars_in: int  # text and context of the task's chunks as stored now (0 for reduce tasks)
    summary: str | None
    relevance: str | None
    counts: dict[str, dict[str, int]] | None
    stats: dict[str, dict[str, Any]] | None
    follow_up: list[str]
    inputs: list[list[int]]  # reduce tasks: groups of finding ids of the level below
    # What the server handed out and received (migration 0008), summed over attempts; 0 before it.
    served_chars: int = 0
    served_tokens: int = 0
    received_chars: int = 0
    received_tokens: int = 0
    first_claimed_at: float | None = None


@dataclass(frozen=True, slots=True)
class ReportFinding:
    id: int
    task_id: int
    level: int
    chunk_id: int
    title: str
    detail: str
    evidence: str
    verified: bool
    evidence_chunk_id: int | None
    line: int | None
    kind: str | None
    severity: str | None
    tags: list[str]
    citations: list[int]


@dataclass(frozen=True, slots=True)
class PlannedChunk:
    """A chunk a level-0 task covers, as planned (the chunk itself may be gone since)."""

    task_id: int
    chunk_id: int
    document_id: int
    ordinal: int


@dataclass(frozen=True, slots=True)
class ReportDocument:
    id: int
    name: str
    path: str
    content_type: str
    chunks: int


@dataclass(frozen=True, slots=True)
class ChunkExtent:
    """Where a chunk sits in its document: what a coverage strip needs, without the text."""

    id: int
    document_id: int
    ordinal: int
    start_line: int
    end_line: int
    start_row: int | None
    end_row: int | None


@dataclass(frozen=True, slots=True)
class ChunkText:
    id: int
    document_id: int
    ordinal: int
    text: str
    context: str
    section: str
    start_line: int
    end_line: int
    start_row: int | None
    end_row: int | None
    document_name: str
    document_path: str


def _json(raw: str | None, default: Any) -> Any:
    return json.loads(raw) if raw else default


def report_tasks(conn: Connection, job_id: int) -> list[ReportTask]:
    rows = conn.execute(
        "SELECT t.*, (SELECT coalesce(sum(length(c.text) + length(c.context)), 0) FROM task_chunks tc "
        "JOIN chunks c ON c.id = tc.chunk_id WHERE tc.task_id = t.id) AS chars_in "
        "FROM tasks t WHERE t.job_id = ? ORDER BY t.level, t.ordinal",
        (job_id,),
    )
    return [
        ReportTask(
            r["id"],
            r["level"],
            r["ordinal"],
            r["analyst"],
            r["state"],
            r["worker"],
            r["attempts"],
            r["error"],
            r["claimed_at"],
            r["completed_at"],
            r["lease_expires_at"],
            r["tokens"],
            r["chars_in"],
            r["summary"],
            r["relevance"],
            _json(r["counts"], None),
            _json(r["stats"], None),
            _json(r["follow_up"], []),
            _json(r["inputs"], []),
            r["served_chars"],
            r["served_tokens"],
            r["received_chars"],
            r["received_tokens"],
            r["first_claimed_at"],
        )
        for r in rows
    ]


def report_findings(conn: Connection, job_id: int) -> list[ReportFinding]:
    rows = conn.execute(
        "SELECT * FROM findings WHERE job_id = ? ORDER BY level, task_id, position", (job_id,)
    )
    return [
        ReportFinding(
            r["id"],
            r["task_id"],
            r["level"],
            r["chunk_id"],
            r["title"],
            r["detail"],
            r["evidence"],
            bool(r["verified"]),
            r["evidence_chunk_id"],
            r["line"],
            r["kind"],
            r["severity"],
            _json(r["tags"], []),
            _json(r["citations"], []),
        )
        for r in rows
    ]


def planned_chunks(conn: Connection, job_id: int) -> list[PlannedChunk]:
    rows = conn.execute(
        "SELECT tc.task_id, tc.chunk_id, tc.document_id, tc.ordinal FROM task_chunks tc "
        "JOIN tasks t ON t.id = tc.task_id WHERE t.job_id = ? AND t.level = 0 "
        "ORDER BY tc.document_id, tc.ordinal",
        (job_id,),
    )
    return [PlannedChunk(r[0], r[1], r[2], r[3]) for r in rows]


def report_documents(conn: Connection, document_ids: Sequence[int]) -> list[ReportDocument]:
    """The documents still in the store among `document_ids`, with their chunk counts, by id."""
    found: list[ReportDocument] = []
    for start in range(0, len(document_ids), IN_BATCH):
        part = list(document_ids[start : start + IN_BATCH])
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            "SELECT d.id, d.name, d.path, d.content_type, "
            "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS n "
            f"FROM documents d WHERE d.state = 'ready' AND d.id IN ({marks})",
            part,
        )
        found += [ReportDocument(r[0], r[1], r[2], r[3], r[4]) for r in rows]
    return sorted(found, key=lambda d: d.id)


def chunk_extents(conn: Connection, document_id: int) -> list[ChunkExtent]:
    rows = conn.execute(
        "SELECT id, document_id, ordinal, start_line, end_line, start_row, end_row FROM chunks "
        "WHERE document_id = ? ORDER BY ordinal",
        (document_id,),
    )
    return [ChunkExtent(*r) for r in rows]


def chunk_texts(conn: Connection, chunk_ids: Sequence[int]) -> list[ChunkText]:
    """The chunks among `chunk_ids` that still exist, with their documents' names and paths, by id."""
    ids = sorted(set(chunk_ids))
    found: list[ChunkText] = []
    for start in range(0, len(ids), IN_BATCH):
        part = ids[start : start + IN_BATCH]
        marks = ",".join("?" * len(part))
        rows = conn.execute(
            "SELECT c.id, c.document_id, c.ordinal, c.text, c.context, c.section, c.start_line, c.end_line, "
            "c.start_row, c.end_row, d.name, d.path FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({marks}) ORDER BY c.id",
            part,
        )
        found += [ChunkText(*r) for r in rows]
    return found


def report_fingerprint(conn: Connection, job_id: int) -> str:
    """Changes whenever anything a report shows about the job's work changes (states, claims, findings)."""
    row = conn.execute(
        "SELECT (SELECT group_concat(state || attempts || coalesce(worker, ''), ',') FROM "
        "(SELECT state, attempts, worker FROM tasks WHERE job_id = ? ORDER BY id)), "
        "(SELECT max(claimed_at) || ':' || max(completed_at) FROM tasks WHERE job_id = ?), "
        "(SELECT count(*) || ':' || coalesce(max(id), 0) FROM findings WHERE job_id = ?)",
        (job_id, job_id, job_id),
    ).fetchone()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class LabelCount:
    dimension: str
    value: str
    records: int


def label_counts(conn: Connection, job_id: int) -> list[LabelCount]:
    """Records per label value and dimension of a job (its per-record labels), exact."""
    rows = conn.execute(
        "SELECT dimension, value, count(*) FROM labels WHERE job_id = ? GROUP BY dimension, value "
        "ORDER BY dimension, count(*) DESC, value",
        (job_id,),
    )
    return [LabelCount(r[0], r[1], r[2]) for r in rows]
