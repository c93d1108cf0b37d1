"""submit_findings: validate, check evidence, store and complete a task, all or nothing; idempotent.

One `BEGIN IMMEDIATE` transaction per submission: a task is completed once, whoever submits first
while it is open; a later, different submission is answered clearly and never counted twice.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ..answers import shorten
from ..errors import Conflict, InvalidInput, NotFound
from ..ids import format_id, parse_id
from ..store import Connection, Store
from ..store import jobs as db
from ..store.rows import NewFinding, Task, TaskCompletion
from .content import check_worker, chunk_problem, reduce_items
from .findings import EvidenceIndex, Source, Submission, parse_submission
from .planning import token_density
from .plans import Clock

log = logging.getLogger(__name__)


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


def _sources(conn: Connection, task: Task) -> tuple[list[Source], dict[int, tuple[int, ...]], set[int]]:
    """What the analyst saw: sources for the evidence check, citations per item, the allowed chunk ids."""
    if task.level > 0:
        items = reduce_items(conn, task.inputs)
        sources = [Source(item.chunk_id, item.text, None, item.context) for item, _ in items]
        cites = {i: cited for i, (_, cited) in enumerate(items)}
        return sources, cites, {c for _, cited in items for c in cited}
    rows = db.task_chunk_rows(conn, task.id)
    problem = chunk_problem(rows)
    if problem:
        raise Conflict(f"Task {format_id('t', task.id)} cannot be completed: {problem}. Nothing stored.")
    sources = [Source(r.chunk_id, r.text or "", r.start_line, r.context or "") for r in rows]
    return sources, {}, {r.chunk_id for r in rows}


def _finding_rows(
    task: Task, submission: Submission, sources: list[Source], cites: dict[int, tuple[int, ...]]
) -> list[NewFinding]:
    index = EvidenceIndex(sources)
    rows = []
    for position, f in enumerate(submission.findings):
        match = index.locate(f.evidence, f.chunk_id)
        citations = {f.chunk_id}
        if task.level > 0:
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
            NewFinding(task.job_id, task.id, task.level, position, f.chunk_id, f.title, f.detail, f.evidence,
                       match is not None, match.chunk_id if match else None, line, f.kind, f.severity,
                       tuple(f.tags), tuple(sorted(citations)))
        )  # fmt: skip
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
    clock: Clock = time.time,
) -> SubmitResult:
    """Validate, check evidence, store and complete the task, all or nothing; idempotent."""
    number = parse_id(task_id, "t")
    worker = check_worker(worker)
    submission = parse_submission(findings, summary, relevance, counts, stats, follow_up)
    digest = submission.digest()
    received = json.dumps([findings, summary, relevance, counts, stats, follow_up], default=str)
    with store.write() as conn:
        task = db.task_row(conn, number)
        if task is None:
            raise NotFound(
                f"No task {format_id('t', number)}; claim_task(job_id) gives you a task and its id."
            )
        if task.state == "done":
            return _already_done(conn, task, worker, digest)
        sources, cites, allowed = _sources(conn, task)
        _check_chunk_ids(task, submission, allowed)
        rows = _finding_rows(task, submission, sources, cites)
        db.insert_findings(conn, rows)
        db.complete_task(conn, number, worker, clock(), _task_fields(submission, digest))
        db.set_received(conn, number, len(received), round(len(received) * token_density([received])))
        remaining = db.count_pending(conn, task.job_id)
    notes = _notes(task, worker, submission)
    unverified = [r.title for r in rows if not r.verified]
    return SubmitResult(number, task.job_id, worker, True, len(rows), len(unverified), "done",
                        unverified_titles=tuple(unverified), notes=notes, remaining=remaining)  # fmt: skip


def _task_fields(submission: Submission, digest: str) -> TaskCompletion:
    stats = {m: {"n": s.n, "sum": s.sum, "min": s.min, "max": s.max} for m, s in submission.stats.items()}
    return TaskCompletion(
        submission.summary,
        submission.relevance,
        dict(submission.counts) if submission.counts else None,
        stats or None,
        list(submission.follow_up) or None,
        digest,
    )


def _check_chunk_ids(task: Task, submission: Submission, allowed: set[int]) -> None:
    wrong = [(i, f.chunk_id) for i, f in enumerate(submission.findings) if f.chunk_id not in allowed]
    if wrong:
        listed = ", ".join(f"findings[{i}].chunk_id c{c}" for i, c in wrong[:5])
        valid = ", ".join(format_id("c", c) for c in sorted(allowed)[:30])
        raise InvalidInput(
            f"Submission refused, nothing stored: {listed} not in task {format_id('t', task.id)}. "
            f"Cite only this task's chunks: {valid}."
        )
    if task.level > 0 and (submission.counts or submission.stats):
        raise InvalidInput(
            "Submission refused, nothing stored: a reduce task takes findings only; counts and stats are "
            "summed by the server from the first level. Send the same call without counts and stats."
        )


def _notes(task: Task, worker: str, submission: Submission) -> tuple[str, ...]:
    notes = []
    if task.worker and task.worker != worker:
        notes.append(
            f"(The lease was held by {task.worker}; your submission was accepted because the task was "
            "still open, and it counts once.)"
        )
    if submission.ignored_keys:
        notes.append(f"Ignored unknown finding fields: {', '.join(submission.ignored_keys)}.")
    return tuple(notes)


def _already_done(conn: Connection, task: Task, worker: str, digest: str) -> SubmitResult:
    stored, unverified = db.task_finding_tally(conn, task.id)
    remaining = db.count_pending(conn, task.job_id)
    if task.submission_hash == digest:
        return SubmitResult(
            task.id,
            task.job_id,
            worker,
            True,
            stored,
            unverified,
            "done",
            duplicate=True,
            remaining=remaining,
        )
    by = "you" if task.worker == worker else task.worker
    note = (
        f"task {format_id('t', task.id)} was already completed by {by} with other findings; they are "
        "kept, and yours are not counted twice. Move on to the next task."
    )
    log.info("late submission for %s by %s ignored", task.id, worker)
    return SubmitResult(
        task.id,
        task.job_id,
        worker,
        False,
        stored,
        unverified,
        "done",
        notes=(note,),
        remaining=remaining,
    )
