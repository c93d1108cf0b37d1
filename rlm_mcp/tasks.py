"""Claiming and completing tasks: leases, the task's content inline, submissions stored exactly once.

Each claim and each submission is one `BEGIN IMMEDIATE` transaction, so several threads and several
server processes on one database file never hand a task to two live workers nor store it twice.
"""

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from . import analysts
from . import jobs as _jobs
from .answers import shorten
from .errors import Conflict, InvalidInput, NotFound
from .findings import EvidenceIndex, Source, Submission, parse_submission
from .ids import format_id, parse_id
from .jobs import clock, job_or_raise
from .store import Store
from .store import jobs as db

log = logging.getLogger(__name__)
MAX_WORKER_CHARS = 100


@dataclass(frozen=True, slots=True)
class TaskChunk:
    chunk_id: int
    location: str
    context: str
    text: str


@dataclass(frozen=True, slots=True)
class TaskClaim:
    job_id: int
    worker: str
    task_id: int | None
    analyst: str | None
    query: str
    level: int = 0
    instructions: str = ""
    chunks: tuple[TaskChunk, ...] = ()
    lease_expires_at: float | None = None
    attempt: int = 0
    remaining: int = 0
    claimed_by_others: int = 0
    skipped: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": format_id("j", self.job_id),
            "task_id": format_id("t", self.task_id) if self.task_id else None,
            "analyst": self.analyst,
            "query": self.query,
            "level": self.level,
            "instructions": self.instructions,
            "chunks": [
                {
                    "chunk_id": format_id("c", c.chunk_id),
                    "location": c.location,
                    "context": c.context,
                    "text": c.text,
                }
                for c in self.chunks
            ],
            "lease_expires_at": clock(self.lease_expires_at) if self.lease_expires_at else None,
            "attempt": self.attempt,
            "remaining": self.remaining,
            "in_progress": self.claimed_by_others,
            "skipped": list(self.skipped),
        }

    def to_text(self) -> str:
        job = format_id("j", self.job_id)
        skipped = "".join(f"Skipped {s}\n" for s in self.skipped)
        if self.task_id is None:
            wait = (
                f"{self.claimed_by_others} task(s) are still claimed by other workers (their leases may "
                "expire)"
                if self.claimed_by_others
                else "every task is done or failed"
            )
            return (
                f"{skipped}No task left to claim in {job}: {wait}. Stop here and report that you are done "
                f"(the orchestrator calls job_status(job_id={job!r}) and synthesize)."
            )
        task = format_id("t", self.task_id)
        parts = [
            f"{skipped}Task {task} of job {job} · analyst {self.analyst} · lease until "
            f"{clock(self.lease_expires_at or 0)} · attempt {self.attempt} · "
            f"{self.remaining} task(s) pending",
            f"QUESTION: {self.query}",
            f"INSTRUCTIONS: {self.instructions}",
        ]
        for c in self.chunks:
            context = f"[context, not part of the chunk]\n{c.context}\n[text]\n" if c.context else ""
            parts.append(f"=== chunk {format_id('c', c.chunk_id)} · {c.location} ===\n{context}{c.text}")
        parts.append(
            f"=== end of task {task} ===\nNext: submit_findings(task_id={task!r}, worker={self.worker!r}, "
            "findings=[...], summary=..., relevance=...), then claim_task again."
        )
        return "\n".join(parts)


def _location(row: Any) -> str:
    lines = f"lines {row['start_line']}-{row['end_line']}"
    section = f"{row['section']} · " if row["section"] else ""
    rows = ""
    if row["start_row"] is not None and not section.startswith("rows"):  # CSV sections name their rows
        rows = f"rows {row['start_row']}-{row['end_row']}, "
    return f"{format_id('d', row['document_id'])} {row['document_name']} · {section}{rows}{lines}"


def _chunk_problem(rows: list[Any]) -> str | None:
    """Why a task's planned chunks cannot be analysed any more, or None when they all still exist."""
    gone = [format_id("c", r["chunk_id"]) for r in rows if r["current_hash"] is None]
    changed = [
        format_id("c", r["chunk_id"]) for r in rows if r["current_hash"] not in (None, r["planned_hash"])
    ]
    if not gone and not changed:
        return None
    docs = ", ".join(sorted({format_id("d", r["document_id"]) for r in rows}))
    what = f"chunks {', '.join((gone + changed)[:6])}{'…' if len(gone + changed) > 6 else ''}"
    return (
        f"{what} were {'removed' if gone else 'changed'} after the job was planned (document {docs} reloaded "
        "or removed); create_job again to analyse the current version"
    )


def _reduce_items(conn: Any, inputs: str) -> list[tuple[TaskChunk, tuple[int, ...]]]:
    """A reduce task's items: each a folded group of findings, shown as one chunk-like block."""
    items = []
    for group in json.loads(inputs):
        rows = db.finding_rows_by_id(conn, group)
        cited = sorted({c for r in rows for c in json.loads(r["citations"]) or [r["chunk_id"]]})
        head = rows[0]
        text = f"{head['title']}\n{head['detail']}\nevidence: {head['evidence']}".strip()
        extra = [f"evidence: {r['evidence']}" for r in rows[1:4] if r["evidence"] != head["evidence"]]
        text = "\n".join([text, *extra])
        cites = ", ".join(format_id("c", c) for c in cited[:20])
        context = f"finding cited by {len(rows)} analyst(s); cites {cites}"
        items.append((TaskChunk(cited[0], f"{len(rows)} finding(s)", context, text), tuple(cited)))
    return items


def _task_content(conn: Any, task: Any) -> tuple[list[TaskChunk], str | None]:
    if task["level"] > 0:
        return [item for item, _ in _reduce_items(conn, task["inputs"])], None
    rows = db.task_chunk_rows(conn, task["id"])
    problem = _chunk_problem(rows)
    if problem:
        return [], problem
    return [TaskChunk(r["chunk_id"], _location(r), r["context"], r["text"]) for r in rows], None


def _check_worker(worker: str) -> str:
    if not isinstance(worker, str) or not worker.strip() or len(worker) > MAX_WORKER_CHARS:
        raise InvalidInput(
            f"worker must be a short name (1–{MAX_WORKER_CHARS} characters) unique to each analyst, "
            "e.g. 'data-1'."
        )
    return worker.strip()


def claim_task(store: Store, job_id: str | int, worker: str, analyst: str | None = None) -> TaskClaim:
    """Lease the next pending task to `worker` and return it whole; task_id None when none is left."""
    number = parse_id(job_id, "j")
    worker = _check_worker(worker)
    if analyst is not None and analyst not in analysts.ANALYSTS:
        raise InvalidInput(f"analyst {analyst!r} is not known; use one of: {', '.join(analysts.ANALYSTS)}.")
    skipped: list[str] = []
    with store.write() as conn:
        job = job_or_raise(conn, number)
        stamp = _jobs.now()
        db.requeue_expired(conn, number, stamp)
        while (task := db.next_pending(conn, number, analyst)) is not None:
            chunks, problem = _task_content(conn, task)
            if problem is None:
                break
            # Trigger: the document changed under the job. Why: analysing other text than planned would
            # corrupt counts. Outcome: the task fails with its reason; the job reports it in coverage.
            db.mark_failed(conn, task["id"], problem)
            skipped.append(f"{format_id('t', task['id'])}: {problem}.")
        if task is None:
            busy = db.task_state_counts(conn, number)
            claimed = sum(n for (_, state), n in busy.items() if state == "claimed")
            return TaskClaim(
                number, worker, None, None, job["query"], claimed_by_others=claimed, skipped=tuple(skipped)
            )
        expires = stamp + job["lease_seconds"]
        db.mark_claimed(conn, task["id"], worker, stamp, expires)
        remaining = db.count_pending(conn, number)
    return TaskClaim(
        number,
        worker,
        task["id"],
        task["analyst"],
        job["query"],
        task["level"],
        analysts.instructions_for(task["analyst"], task["level"]),
        tuple(chunks),
        expires,
        task["attempts"] + 1,
        remaining,
        skipped=tuple(skipped),
    )


# ---------------------------------------------------------------- submissions


@dataclass(frozen=True, slots=True)
class SubmitResult:
    task_id: int
    job_id: int
    worker: str
    accepted: bool
    findings: int
    unverified: int
    task_state: str
    duplicate: bool = False
    unverified_titles: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    remaining: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": format_id("t", self.task_id),
            "job_id": format_id("j", self.job_id),
            "accepted": self.accepted,
            "findings": self.findings,
            "unverified": self.unverified,
            "task_state": self.task_state,
            "duplicate": self.duplicate,
            "unverified_titles": list(self.unverified_titles),
            "notes": list(self.notes),
            "remaining": self.remaining,
        }

    def to_text(self) -> str:
        task, job = format_id("t", self.task_id), format_id("j", self.job_id)
        if not self.accepted:
            head = f"Not stored: {' '.join(self.notes)}"
        elif self.duplicate:
            head = (
                f"Already stored: this exact submission for {task} was recorded before "
                f"({self.findings} findings)."
            )
        else:
            head = f"Stored {self.findings} finding(s) for {task}; task {self.task_state}."
            if self.unverified:
                titles = "; ".join(shorten(t, 60) for t in self.unverified_titles[:5])
                head += (
                    f" {self.unverified} unverified (evidence not found verbatim in the task's text: "
                    f"{titles}); "
                    "quote the chunk exactly next time."
                )
            if self.notes:
                head += " " + " ".join(self.notes)
        return f"{head}\nNext: claim_task(job_id={job!r}, worker={self.worker!r}) ({self.remaining} pending)."


def _sources(conn: Any, task: Any) -> tuple[list[Source], dict[int, tuple[int, ...]], set[int]]:
    """What the analyst saw: sources for the evidence check, citations per item, the allowed chunk ids."""
    if task["level"] > 0:
        items = _reduce_items(conn, task["inputs"])
        sources = [Source(item.chunk_id, item.text, None, item.context) for item, _ in items]
        cites = {i: cited for i, (_, cited) in enumerate(items)}
        return sources, cites, {c for _, cited in items for c in cited}
    rows = db.task_chunk_rows(conn, task["id"])
    problem = _chunk_problem(rows)
    if problem:
        raise Conflict(f"Task {format_id('t', task['id'])} cannot be completed: {problem}. Nothing stored.")
    sources = [Source(r["chunk_id"], r["text"], r["start_line"], r["context"]) for r in rows]
    return sources, {}, {r["chunk_id"] for r in rows}


def _finding_rows(
    task: Any, submission: Submission, sources: list[Source], cites: dict[int, tuple[int, ...]]
) -> list[tuple[Any, ...]]:
    index = EvidenceIndex(sources)
    rows = []
    for position, f in enumerate(submission.findings):
        match = index.locate(f.evidence, f.chunk_id)
        citations = {f.chunk_id}
        if task["level"] > 0:
            citations.update(
                c
                for i, src in enumerate(sources)
                if f.evidence.strip() and _quotes(src, f.evidence)
                for c in cites[i]
            )
        elif match is not None:
            citations.add(match.chunk_id)
        line = match.line if match is not None and match.line is not None else f.line
        rows.append(
            (
                task["job_id"],
                task["id"],
                task["level"],
                position,
                f.chunk_id,
                f.title,
                f.detail,
                f.evidence,
                int(match is not None),
                match.chunk_id if match else None,
                line,
                f.kind,
                f.severity,
                json.dumps(list(f.tags)),
                json.dumps(sorted(citations)),
            )
        )
    return rows


def _quotes(source: Source, evidence: str) -> bool:
    return EvidenceIndex([source]).locate(evidence, source.chunk_id) is not None


def submit_findings(
    store: Store,
    task_id: str | int,
    worker: str,
    findings: Any,
    summary: Any = None,
    relevance: Any = None,
    counts: Any = None,
    stats: Any = None,
    follow_up: Any = None,
) -> SubmitResult:
    """Validate, check evidence, store and complete the task, all or nothing; idempotent."""
    number = parse_id(task_id, "t")
    worker = _check_worker(worker)
    submission = parse_submission(findings, summary, relevance, counts, stats, follow_up)
    digest = submission.digest()
    with store.write() as conn:
        task = db.task_row(conn, number)
        if task is None:
            raise NotFound(
                f"No task {format_id('t', number)}; claim_task(job_id) gives you a task and its id."
            )
        if task["state"] == "done":
            return _already_done(conn, task, worker, digest)
        sources, cites, allowed = _sources(conn, task)
        _check_chunk_ids(task, submission, allowed)
        rows = _finding_rows(task, submission, sources, cites)
        db.insert_findings(conn, rows)
        db.complete_task(conn, number, worker, _jobs.now(), _task_fields(submission, digest))
        remaining = db.count_pending(conn, task["job_id"])
    notes = _notes(task, worker, submission)
    unverified = [r[5] for r in rows if not r[8]]
    return SubmitResult(
        number,
        task["job_id"],
        worker,
        True,
        len(rows),
        len(unverified),
        "done",
        unverified_titles=tuple(unverified),
        notes=notes,
        remaining=remaining,
    )


def _task_fields(submission: Submission, digest: str) -> dict[str, str | None]:
    stats = {m: {"n": s.n, "sum": s.sum, "min": s.min, "max": s.max} for m, s in submission.stats.items()}
    return {
        "summary": submission.summary,
        "relevance": submission.relevance,
        "counts": json.dumps(submission.counts) if submission.counts else None,
        "stats": json.dumps(stats) if stats else None,
        "follow_up": json.dumps(list(submission.follow_up)) if submission.follow_up else None,
        "submission_hash": digest,
    }


def _check_chunk_ids(task: Any, submission: Submission, allowed: set[int]) -> None:
    wrong = [(i, f.chunk_id) for i, f in enumerate(submission.findings) if f.chunk_id not in allowed]
    if wrong:
        listed = ", ".join(f"findings[{i}].chunk_id c{c}" for i, c in wrong[:5])
        valid = ", ".join(format_id("c", c) for c in sorted(allowed)[:30])
        raise InvalidInput(
            f"Submission refused, nothing stored: {listed} not in task {format_id('t', task['id'])}. "
            f"Cite only this task's chunks: {valid}."
        )
    if task["level"] > 0 and (submission.counts or submission.stats):
        raise InvalidInput(
            "Submission refused, nothing stored: a reduce task takes findings only; counts and stats are "
            "summed by the server from the first level. Send the same call without counts and stats."
        )


def _notes(task: Any, worker: str, submission: Submission) -> tuple[str, ...]:
    notes = []
    if task["worker"] and task["worker"] != worker:
        notes.append(
            f"(The lease was held by {task['worker']}; your submission was accepted because the task was "
            "still open, and it counts once.)"
        )
    if submission.ignored_keys:
        notes.append(f"Ignored unknown finding fields: {', '.join(submission.ignored_keys)}.")
    return tuple(notes)


def _already_done(conn: Any, task: Any, worker: str, digest: str) -> SubmitResult:
    stored, unverified = db.task_finding_tally(conn, task["id"])
    remaining = db.count_pending(conn, task["job_id"])
    if task["submission_hash"] == digest:
        return SubmitResult(
            task["id"],
            task["job_id"],
            worker,
            True,
            stored,
            unverified,
            "done",
            duplicate=True,
            remaining=remaining,
        )
    by = "you" if task["worker"] == worker else task["worker"]
    note = (
        f"task {format_id('t', task['id'])} was already completed by {by} with other findings; they are "
        "kept, and yours are not counted twice. Move on to the next task."
    )
    log.info("late submission for %s by %s ignored", task["id"], worker)
    return SubmitResult(
        task["id"],
        task["job_id"],
        worker,
        False,
        stored,
        unverified,
        "done",
        notes=(note,),
        remaining=remaining,
    )
