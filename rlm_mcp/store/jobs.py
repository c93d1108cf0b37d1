"""Queries for jobs, tasks, task chunks and findings. Callers hold the transaction."""

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .connection import Connection

Row = Any  # sqlean.Row: indexable by column name

# ---------------------------------------------------------------- documents and chunks, as a job sees them


def ready_documents(conn: Connection, document_ids: Sequence[int] | None) -> list[Row]:
    """(id, name, content_type) of ready documents, all of them or the ones asked for, by id."""
    if document_ids is None:
        return list(
            conn.execute("SELECT id, name, content_type FROM documents WHERE state = 'ready' ORDER BY id")
        )
    marks = ",".join("?" * len(document_ids))
    return list(
        conn.execute(
            f"SELECT id, name, content_type FROM documents WHERE state = 'ready' AND id IN ({marks}) "
            "ORDER BY id",
            list(document_ids),
        )
    )


def chunk_plan_rows(conn: Connection, document_id: int) -> list[Row]:
    """Every chunk of a document, in order, with its size: what planning a task needs."""
    return list(
        conn.execute(
            "SELECT id, document_id, ordinal, length(text) + length(context) AS size, content_hash "
            "FROM chunks WHERE document_id = ? ORDER BY ordinal",
            (document_id,),
        )
    )


def chunk_sample(conn: Connection, document_id: int, n: int) -> list[str]:
    """The text and context of up to `n` chunks spread evenly over a document."""
    (total,) = conn.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()
    step = max(1, total // n)
    rows = conn.execute(
        "SELECT context || text FROM chunks WHERE document_id = ? AND ordinal % ? = 0 "
        "ORDER BY ordinal LIMIT ?",
        (document_id, step, n),
    )
    return [r[0] for r in rows]


def chunk_plan_rows_by_id(conn: Connection, chunk_ids: Sequence[int]) -> list[Row]:
    marks = ",".join("?" * len(chunk_ids))
    return list(
        conn.execute(
            "SELECT c.id, c.document_id, c.ordinal, length(c.text) + length(c.context) AS size, "
            "c.content_hash FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE d.state = 'ready' AND c.id IN ({marks}) ORDER BY c.document_id, c.ordinal",
            list(chunk_ids),
        )
    )


# ---------------------------------------------------------------- planning


def insert_job(
    conn: Connection,
    query: str,
    scope: dict[str, Any],
    task_tokens: int,
    lease_seconds: int,
    max_attempts: int,
    chunks: int,
    now: float,
) -> int:
    cursor = conn.execute(
        "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (query, json.dumps(scope), task_tokens, lease_seconds, max_attempts, chunks, now),
    )
    return int(cursor.lastrowid)


def insert_task(
    conn: Connection, job_id: int, level: int, ordinal: int, analyst: str, tokens: int, inputs: str | None
) -> int:
    cursor = conn.execute(
        "INSERT INTO tasks (job_id, level, ordinal, analyst, tokens, inputs) VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, level, ordinal, analyst, tokens, inputs),
    )
    return int(cursor.lastrowid)


def insert_task_chunks(conn: Connection, task_id: int, chunks: Sequence[Row]) -> None:
    conn.executemany(
        "INSERT INTO task_chunks (task_id, position, chunk_id, document_id, ordinal, content_hash) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (task_id, i, c["id"], c["document_id"], c["ordinal"], c["content_hash"])
            for i, c in enumerate(chunks)
        ],
    )


# ---------------------------------------------------------------- jobs


def job_row(conn: Connection, job_id: int) -> Row | None:
    return conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()


def list_job_rows(conn: Connection, limit: int, offset: int) -> list[Row]:
    return list(
        conn.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset)).fetchall()
    )


def count_jobs(conn: Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])


def task_state_counts(conn: Connection, job_id: int) -> dict[tuple[int, str], int]:
    """{(level, state): n} for a job."""
    rows = conn.execute(
        "SELECT level, state, count(*) FROM tasks WHERE job_id = ? GROUP BY level, state", (job_id,)
    )
    return {(int(r[0]), str(r[1])): int(r[2]) for r in rows}


def done_chunk_count(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
            "WHERE t.job_id = ? AND t.level = 0 AND t.state = 'done'",
            (job_id,),
        ).fetchone()[0]
    )


def timing(conn: Connection, job_id: int) -> Row:
    """First claim, last completion and done count of level-0 and reduce tasks alike."""
    return conn.execute(
        "SELECT min(claimed_at) AS first_claim, max(completed_at) AS last_done, "
        "count(completed_at) AS done FROM tasks WHERE job_id = ? AND state = 'done'",
        (job_id,),
    ).fetchone()


def missing_chunks(conn: Connection, job_id: int) -> list[Row]:
    """Chunks of level-0 tasks not done, with their task's state and error, in document order."""
    return list(
        conn.execute(
            "SELECT tc.document_id, tc.ordinal, tc.chunk_id, t.id AS task_id, t.state, t.error "
            "FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
            "WHERE t.job_id = ? AND t.level = 0 AND t.state != 'done' ORDER BY tc.document_id, tc.ordinal",
            (job_id,),
        )
    )


# ---------------------------------------------------------------- leases


def requeue_expired(conn: Connection, job_id: int, now: float) -> tuple[int, int]:
    """Expired leases: back to the queue, or `failed` once the attempts are spent. (requeued, failed)."""
    failed = conn.execute(
        "UPDATE tasks SET state = 'failed', worker = NULL, lease_expires_at = NULL, "
        "error = 'lease expired ' || attempts || ' times (last worker ' || coalesce(worker, '?') || ')' "
        "WHERE job_id = ? AND state = 'claimed' AND lease_expires_at < ? "
        "AND attempts >= (SELECT max_attempts FROM jobs WHERE id = ?)",
        (job_id, now, job_id),
    ).rowcount
    requeued = conn.execute(
        "UPDATE tasks SET state = 'pending', lease_expires_at = NULL, "
        "error = 'lease of ' || coalesce(worker, '?') || ' expired', worker = NULL "
        "WHERE job_id = ? AND state = 'claimed' AND lease_expires_at < ?",
        (job_id, now),
    ).rowcount
    return int(requeued), int(failed)


def next_pending(conn: Connection, job_id: int, analyst: str | None) -> Row | None:
    """The oldest pending task (lowest level first); one of `analyst`'s kind when there is one."""
    if analyst is not None:
        row = conn.execute(
            "SELECT * FROM tasks WHERE job_id = ? AND state = 'pending' AND analyst = ? "
            "ORDER BY level, ordinal LIMIT 1",
            (job_id, analyst),
        ).fetchone()
        if row is not None:
            return row
    return conn.execute(
        "SELECT * FROM tasks WHERE job_id = ? AND state = 'pending' ORDER BY level, ordinal LIMIT 1",
        (job_id,),
    ).fetchone()


def count_pending(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM tasks WHERE job_id = ? AND state = 'pending'", (job_id,)
        ).fetchone()[0]
    )


def mark_claimed(conn: Connection, task_id: int, worker: str, now: float, expires: float) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'claimed', worker = ?, claimed_at = ?, lease_expires_at = ?, "
        "attempts = attempts + 1 WHERE id = ?",
        (worker, now, expires, task_id),
    )


def mark_failed(conn: Connection, task_id: int, error: str) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'failed', worker = NULL, lease_expires_at = NULL, error = ? WHERE id = ?",
        (error, task_id),
    )


# ---------------------------------------------------------------- tasks and their content


def task_row(conn: Connection, task_id: int) -> Row | None:
    return conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,)).fetchone()


def task_chunk_rows(conn: Connection, task_id: int) -> list[Row]:
    """The chunks a task covers, with their current text (NULL when deleted since planning)."""
    return list(
        conn.execute(
            "SELECT tc.chunk_id, tc.document_id, tc.ordinal, tc.content_hash AS planned_hash, "
            "c.content_hash AS current_hash, c.text, c.context, c.section, c.start_line, c.end_line, "
            "c.start_row, c.end_row, d.name AS document_name, d.content_type "
            "FROM task_chunks tc LEFT JOIN chunks c ON c.id = tc.chunk_id "
            "LEFT JOIN documents d ON d.id = c.document_id "
            "WHERE tc.task_id = ? ORDER BY tc.position",
            (task_id,),
        )
    )


def finding_rows_by_id(conn: Connection, finding_ids: Sequence[int]) -> list[Row]:
    marks = ",".join("?" * len(finding_ids))
    return list(conn.execute(f"SELECT * FROM findings WHERE id IN ({marks}) ORDER BY id", list(finding_ids)))


def complete_task(
    conn: Connection, task_id: int, worker: str, now: float, fields: dict[str, str | None]
) -> None:
    conn.execute(
        "UPDATE tasks SET state = 'done', worker = ?, completed_at = ?, lease_expires_at = NULL, "
        "error = NULL, summary = ?, relevance = ?, counts = ?, stats = ?, follow_up = ?, "
        "submission_hash = ? WHERE id = ?",
        (
            worker,
            now,
            fields["summary"],
            fields["relevance"],
            fields["counts"],
            fields["stats"],
            fields["follow_up"],
            fields["submission_hash"],
            task_id,
        ),
    )


def insert_findings(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Rows of (job_id, task_id, level, position, chunk_id, title, detail, evidence, verified,
    evidence_chunk_id, line, kind, severity, tags, citations)."""
    conn.executemany(
        "INSERT INTO findings (job_id, task_id, level, position, chunk_id, title, detail, evidence, "
        "verified, evidence_chunk_id, line, kind, severity, tags, citations) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        list(rows),
    )


def task_finding_tally(conn: Connection, task_id: int) -> tuple[int, int]:
    """(findings, unverified) stored for a task."""
    row = conn.execute(
        "SELECT count(*), coalesce(sum(verified = 0), 0) FROM findings WHERE task_id = ?", (task_id,)
    ).fetchone()
    return int(row[0]), int(row[1])


# ---------------------------------------------------------------- synthesis inputs


def done_task_results(conn: Connection, job_id: int, level: int) -> list[Row]:
    return list(
        conn.execute(
            "SELECT id, relevance, summary, counts, stats, follow_up FROM tasks "
            "WHERE job_id = ? AND level = ? AND state = 'done' ORDER BY ordinal",
            (job_id, level),
        )
    )


def finding_rows(conn: Connection, job_id: int, level: int) -> list[Row]:
    return list(
        conn.execute(
            "SELECT f.id, f.task_id, f.chunk_id, f.title, f.detail, f.evidence, f.verified, f.line, "
            "f.kind, f.severity, f.tags, f.citations, t.relevance FROM findings f "
            "JOIN tasks t ON t.id = f.task_id WHERE f.job_id = ? AND f.level = ? ORDER BY f.id",
            (job_id, level),
        )
    )


def unverified_rows(conn: Connection, job_id: int) -> list[Row]:
    return list(
        conn.execute(
            "SELECT id, task_id, level, chunk_id, title, evidence FROM findings "
            "WHERE job_id = ? AND verified = 0 ORDER BY level, chunk_id, title, evidence, id",
            (job_id,),
        )
    )


def max_level(conn: Connection, job_id: int) -> int:
    return int(
        conn.execute("SELECT coalesce(max(level), 0) FROM tasks WHERE job_id = ?", (job_id,)).fetchone()[0]
    )


def reduce_tasks(conn: Connection, job_id: int, level: int) -> list[Row]:
    """A level's tasks with their inputs and how many findings each stored."""
    return list(
        conn.execute(
            "SELECT t.id, t.state, t.inputs, (SELECT count(*) FROM findings f WHERE f.task_id = t.id) AS n "
            "FROM tasks t WHERE t.job_id = ? AND t.level = ? ORDER BY t.ordinal",
            (job_id, level),
        )
    )


def findings_signature(conn: Connection, job_id: int, level: int) -> tuple[int, int]:
    """(count, last id) of a level's findings: findings are never updated, so this names the set."""
    row = conn.execute(
        "SELECT count(*), coalesce(max(id), 0) FROM findings WHERE job_id = ? AND level >= ? AND level <= ?",
        (job_id, max(0, level - 1), level),
    ).fetchone()
    return int(row[0]), int(row[1])
