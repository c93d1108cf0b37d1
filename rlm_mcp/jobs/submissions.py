"""submit_findings: validate, check evidence, store and complete a task, all or nothing; idempotent.

One `BEGIN IMMEDIATE` transaction per submission: a task is completed once, whoever submits first
while it is open; a later, different submission is answered clearly and never counted twice.
"""

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..answers import shorten
from ..errors import Conflict, InvalidInput, NotFound
from ..ids import format_id, parse_id
from ..store import Connection, Store
from ..store import findings as findings_db
from ..store import labels as labels_db
from ..store import records as records_db
from ..store import tasks as tasks_db
from ..store.labels import LabelRow
from ..store.rows import Job, NewFinding, Task, TaskCompletion
from . import dimensions
from . import records as projected
from .content import (
    Copies,
    check_worker,
    chunk_problem,
    chunk_records,
    copies_for,
    reduce_items,
    task_content,
)
from .dimensions import TaskRecordSet
from .evidence import EvidenceIndex, Source
from .findings import Submission, parse_submission
from .planning import token_density
from .plans import Clock, job_or_raise

if TYPE_CHECKING:
    from ..config import Settings

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


@dataclass(frozen=True, slots=True)
class _Seen:
    """What the analyst saw: sources for the evidence check, citations per reduce item, the chunk ids
    it may cite, the numbered records it holds (if any), and how a record maps to its chunk."""

    sources: list[Source]
    cites: dict[int, tuple[int, ...]]
    allowed: set[int]
    records: TaskRecordSet | None = None
    owner: Callable[[int], int | None] | None = None
    lines: bool = False  # the records are a text's lines (a record's number is its line)


def _seen(conn: Connection, task: Task, job: Job, copies: Copies) -> _Seen:
    if task.level > 0:
        items = reduce_items(conn, task.inputs)
        sources = [Source(item.chunk_id, item.text, None, item.context) for item, _ in items]
        cites = {i: cited for i, (_, cited) in enumerate(items)}
        return _Seen(sources, cites, {c for _, cited in items for c in cited})
    refused = f"Task {format_id('t', task.id)} cannot be completed: {{}}. Nothing stored."
    if records_db.task_records(conn, task.id) is not None:
        content = task_content(conn, task, job, copies)
        if content.records is None:
            raise Conflict(refused.format(content.problem))
        groups = projected.lines_by_chunk(content.records, content.states)
        sources = [
            Source(chunk_id, "\n".join(line for _, line in lines), None, content.records.header)
            for chunk_id, lines in groups
        ]
        states = content.states
        return _Seen(sources, {}, {s.chunk_id for s in states}, content.record_set,
                     lambda record: projected.record_chunk(states, record),
                     content.records.key == "line")  # fmt: skip
    rows = tasks_db.task_chunk_rows(conn, task.id)
    problem = chunk_problem(rows)
    if problem:
        raise Conflict(refused.format(problem))
    sources = [Source(r.chunk_id, r.text or "", r.start_line, r.context or "") for r in rows]

    def owner(record: int) -> int | None:
        return next((r.chunk_id for r in rows if r.start_row is not None and r.end_row is not None
                     and r.start_row <= record <= r.end_row), None)  # fmt: skip

    return _Seen(sources, {}, {r.chunk_id for r in rows}, chunk_records(rows), owner)


def _resolve_chunks(task: Task, submission: Submission, seen: _Seen) -> list[int]:
    """The chunk each finding cites: its chunk_id, or the chunk that owns the record it names."""
    resolved, errors = [], []
    for i, f in enumerate(submission.findings):
        chunk_id = f.chunk_id
        if chunk_id is None and f.record is not None:
            inside = seen.records is not None and any(
                seen.records.contains(d, f.record) for d in seen.records.runs
            )
            chunk_id = seen.owner(f.record) if inside and seen.owner else None
            if chunk_id is None:
                held = seen.records.describe() if seen.records else "no numbered records"
                errors.append(
                    f"findings[{i}].record {f.record} is not in task {format_id('t', task.id)} ({held})"
                )
                continue
        resolved.append(int(chunk_id or 0))
    if errors:
        raise InvalidInput(
            f"Submission refused, nothing stored: {'; '.join(errors[:8])}. Cite a record of this task."
        )
    return resolved


def _finding_rows(task: Task, submission: Submission, chunk_ids: list[int], seen: _Seen) -> list[NewFinding]:
    sources, cites = seen.sources, seen.cites
    index = EvidenceIndex(sources)
    rows = []
    for position, (f, chunk_id) in enumerate(zip(submission.findings, chunk_ids, strict=True)):
        match = index.locate(f.evidence, chunk_id)
        citations = {chunk_id}
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
        if line is None and f.record is not None and seen.lines:
            line = f.record  # a record of a text's lines copy is its line
        rows.append(
            NewFinding(task.job_id, task.id, task.level, position, chunk_id, f.title, f.detail, f.evidence,
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
    labels: Any = None,
    settings: "Settings | None" = None,
) -> SubmitResult:
    """Validate, check evidence, store and complete the task, all or nothing; idempotent."""
    number = parse_id(task_id, "t")
    worker = check_worker(worker)
    submission = parse_submission(findings, summary, relevance, counts, stats, follow_up, labels)
    digest = submission.digest()
    sent = [findings, summary, relevance, counts, stats, follow_up] + ([labels] if labels is not None else [])
    received = json.dumps(sent, default=str)
    copies = copies_for(store, settings)
    with store.write() as conn:
        task = tasks_db.task_row(conn, number, lock=True)
        if task is None:
            raise NotFound(
                f"No task {format_id('t', number)}; claim_task(job_id) gives you a task and its id."
            )
        if task.state == "done":
            return _already_done(conn, task, worker, digest)
        job = job_or_raise(conn, task.job_id)
        seen = _seen(conn, task, job, copies)
        _check_chunk_ids(task, submission, seen.allowed)
        chunk_ids = _resolve_chunks(task, submission, seen)
        new_labels = _checked_labels(task, job, submission, seen)
        all_counts = _checked_counts(task, job, submission, seen) | _label_counts(new_labels)
        rows = _finding_rows(task, submission, chunk_ids, seen)
        findings_db.insert_findings(conn, rows)
        if new_labels:
            labels_db.insert_labels(conn, new_labels)
        tasks_db.complete_task(conn, number, worker, clock(), _task_fields(submission, digest, all_counts))
        tasks_db.set_received(conn, number, len(received), round(len(received) * token_density([received])))
        remaining = tasks_db.count_pending(conn, task.job_id)
    notes = _notes(task, worker, submission, len(new_labels))
    unverified = [r.title for r in rows if not r.verified]
    return SubmitResult(number, task.job_id, worker, True, len(rows), len(unverified), "done",
                        unverified_titles=tuple(unverified), notes=notes, remaining=remaining)  # fmt: skip


def _checked_labels(task: Task, job: Job, submission: Submission, seen: _Seen) -> list[LabelRow]:
    task_name = format_id("t", task.id)
    labels = dimensions.check_labels(submission.labels, seen.records, job.dimensions, task_name)
    return [LabelRow(task.job_id, task.id, b.document_id, b.record, b.dimension, b.value) for b in labels]


def _label_counts(labels: list[LabelRow]) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = {}
    for label in labels:
        counts.setdefault(label.dimension, Counter())[label.value] += 1
    return {d: dict(sorted(c.items())) for d, c in counts.items()}


def _checked_counts(task: Task, job: Job, submission: Submission, seen: _Seen) -> dict[str, dict[str, int]]:
    """The counts to store: those sent (checked against the job's dimensions) and those the labels imply."""
    both = sorted(set(submission.counts) & set(submission.labels))
    if both:
        raise InvalidInput(
            f"Submission refused, nothing stored: {', '.join(map(repr, both))} sent as labels and as counts; "
            "send labels (the server counts them) or counts for a dimension, not both."
        )
    labelled = set(submission.labels)
    dimensions.check_counts(
        submission.counts, labelled, seen.records, job.dimensions, format_id("t", task.id)
    )
    counts = dimensions.normalize_counts(submission.counts, job.dimensions)
    return counts


def _task_fields(submission: Submission, digest: str, counts: dict[str, dict[str, int]]) -> TaskCompletion:
    stats = {m: {"n": s.n, "sum": s.sum, "min": s.min, "max": s.max} for m, s in submission.stats.items()}
    return TaskCompletion(
        submission.summary,
        submission.relevance,
        counts or None,
        stats or None,
        list(submission.follow_up) or None,
        digest,
    )


def _check_chunk_ids(task: Task, submission: Submission, allowed: set[int]) -> None:
    wrong = [
        (i, f.chunk_id)
        for i, f in enumerate(submission.findings)
        if f.chunk_id is not None and f.chunk_id not in allowed
    ]
    if wrong:
        listed = ", ".join(f"findings[{i}].chunk_id c{c}" for i, c in wrong[:5])
        valid = ", ".join(format_id("c", c) for c in sorted(allowed)[:30])
        raise InvalidInput(
            f"Submission refused, nothing stored: {listed} not in task {format_id('t', task.id)}. "
            f"Cite only this task's chunks: {valid}."
        )
    if task.level > 0 and (submission.counts or submission.stats or submission.labels):
        raise InvalidInput(
            "Submission refused, nothing stored: a reduce task takes findings only; counts, stats and "
            "labels come from the first level. Send the same call without them."
        )


def _notes(task: Task, worker: str, submission: Submission, labels: int) -> tuple[str, ...]:
    notes = []
    if labels:
        notes.append(f"Stored {labels} label(s); the server counts them.")
    if task.worker and task.worker != worker:
        notes.append(
            f"(The lease was held by {task.worker}; your submission was accepted because the task was "
            "still open, and it counts once.)"
        )
    if submission.ignored_keys:
        notes.append(f"Ignored unknown finding fields: {', '.join(submission.ignored_keys)}.")
    return tuple(notes)


def _already_done(conn: Connection, task: Task, worker: str, digest: str) -> SubmitResult:
    stored, unverified = findings_db.task_finding_tally(conn, task.id)
    remaining = tasks_db.count_pending(conn, task.job_id)
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
