"""claim_task: lease the next task of a job and hand it out whole, in one transaction.

Each claim is one `BEGIN IMMEDIATE` transaction, so several threads and several server processes
on one database file never hand a task to two live workers. Expired leases go back to the queue
first; a task whose chunks changed since planning fails with its reason instead of being handed out.
Submitting is in `submissions` (re-exported here).
"""

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..ids import format_id, parse_id
from ..store import Store
from ..store import tasks as tasks_db
from . import analysts, planning
from .content import TaskChunk, check_worker, copies_for, task_content
from .dimensions import Dimensions, describe
from .dimensions import to_json as dimensions_json
from .plans import Clock, iso_utc, job_or_raise
from .progress import Waiting, waiting
from .records import RecordLines
from .submissions import SubmitResult, submit_findings

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["SubmitResult", "TaskChunk", "TaskClaim", "claim_task", "submit_findings"]


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
    waiting: Waiting | None = None
    records: RecordLines | None = None  # a projected task: its records, one line each
    dimensions: Dimensions | None = None
    record_count: int | None = None  # records the task holds (projected, or rows of table chunks)

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
            "lease_expires_at": iso_utc(self.lease_expires_at) if self.lease_expires_at else None,
            "attempt": self.attempt,
            "remaining": self.remaining,
            "in_progress": self.claimed_by_others,
            "waiting": self.waiting.to_json() if self.waiting else None,
            "skipped": list(self.skipped),
            "records": self._records_json(),
            "record_count": self.record_count,
            "dimensions": dimensions_json(self.dimensions) if self.dimensions else None,
        }

    def _records_json(self) -> dict[str, Any] | None:
        if self.records is None:
            return None
        numbers = list(self.records.numbers())
        return {
            "document_id": format_id("d", self.records.document_id),
            "view": self.records.view,
            "context": self.records.header,
            "first": numbers[0] if numbers else None,
            "last": numbers[-1] if numbers else None,
            "count": len(numbers),
            "text": self.records.text,
        }

    def to_text(self) -> str:
        job = format_id("j", self.job_id)
        skipped = "".join(f"Skipped {s}\n" for s in self.skipped)
        if self.task_id is None:
            wait = (
                f"{self.claimed_by_others} task(s) are still claimed by other workers, leases ending by "
                f"{iso_utc(self.waiting.lease_ends)}"
                if self.waiting
                else "every task is done or failed"
            )
            return (
                f"{skipped}No task left to claim in {job}: {wait}. Stop here and report that you are done "
                f"(the orchestrator calls job_status(job_id={job!r}) and synthesize)."
            )
        task = format_id("t", self.task_id)
        parts = [
            f"{skipped}Task {task} of job {job} · analyst {self.analyst} · lease until "
            f"{iso_utc(self.lease_expires_at or 0)} · attempt {self.attempt} · "
            f"{self.remaining} task(s) pending",
            f"QUESTION: {self.query}",
            f"INSTRUCTIONS: {self.instructions}",
        ]
        if self.dimensions:
            parts.append(analysts.dimension_rules(describe(self.dimensions), self.record_count))
        for c in self.chunks:
            context = f"[context, not part of the chunk]\n{c.context}\n[text]\n" if c.context else ""
            parts.append(f"=== chunk {format_id('c', c.chunk_id)} · {c.location} ===\n{context}{c.text}")
        if self.records is not None:
            numbers = list(self.records.numbers())
            parts.append(
                f"=== {len(numbers)} records of {format_id('d', self.records.document_id)} "
                f"(r{numbers[0]}-r{numbers[-1]}) ===\n[context, not part of the records]\n"
                f"{self.records.header}\n[records]\n{self.records.text}"
            )
        labels = "labels={...}, " if self.records is not None or self.dimensions else ""
        parts.append(
            f"=== end of task {task} ===\nNext: submit_findings(task_id={task!r}, worker={self.worker!r}, "
            f"{labels}findings=[...], summary=..., relevance=...), then claim_task again."
        )
        return "\n".join(parts)


def claim_task(
    store: Store,
    job_id: str | int,
    worker: str,
    analyst: str | None = None,
    clock: Clock = time.time,
    settings: "Settings | None" = None,
) -> TaskClaim:
    """Lease the next pending task to `worker` and return it whole; task_id None when none is left."""
    number = parse_id(job_id, "j")
    worker = check_worker(worker)
    analysts.check_analyst(analyst)
    copies = copies_for(store, settings)
    skipped: list[str] = []
    with store.write() as conn:
        job = job_or_raise(conn, number)
        stamp = clock()
        tasks_db.requeue_expired(conn, number, stamp)
        while (task := tasks_db.next_pending(conn, number, analyst)) is not None:
            content = task_content(conn, task, job, copies)
            if content.problem is None:
                break
            # Trigger: the document changed under the job. Why: analysing other text than planned would
            # corrupt counts. Outcome: the task fails with its reason; the job reports it in coverage.
            tasks_db.mark_failed(conn, task.id, content.problem)
            skipped.append(f"{format_id('t', task.id)}: {content.problem}.")
        if task is None:
            wait = waiting(conn, number)
            return TaskClaim(number, worker, None, None, job.query, skipped=tuple(skipped),
                             claimed_by_others=wait.claimed if wait else 0, waiting=wait)  # fmt: skip
        expires = stamp + job.lease_seconds
        tasks_db.mark_claimed(conn, task.id, worker, stamp, expires)
        remaining = tasks_db.count_pending(conn, number)
        instructions = analysts.instructions_for(task.analyst, task.level, content.records is not None)
        holds = content.record_set.total if content.record_set is not None else None
        claim = TaskClaim(number, worker, task.id, task.analyst, job.query, task.level,
                          instructions, content.chunks, expires, task.attempts + 1, remaining,
                          skipped=tuple(skipped), records=content.records,
                          dimensions=job.dimensions if task.level == 0 else None,
                          record_count=holds)  # fmt: skip
        text = claim.to_text()
        tasks_db.add_served(conn, task.id, len(text), estimate_tokens(text))
    return claim


def estimate_tokens(text: str) -> int:
    """Tokens of a text as the planner counts them (its token density times its length)."""
    return round(len(text) * planning.token_density([text]))
