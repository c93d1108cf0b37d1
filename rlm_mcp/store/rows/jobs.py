"""Jobs, tasks and findings, with the per-task telemetry, as the store takes and returns them."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JobDocument:
    """A ready document as a job plans over it."""

    id: int
    name: str
    content_type: str


@dataclass(frozen=True, slots=True)
class PlanChunk:
    """A chunk as planning sees it: its place, its size in characters (text and context), its hash."""

    id: int
    document_id: int
    ordinal: int
    size: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    query: str
    scope: dict[str, Any]  # document_ids, search, top_k, analyst
    task_tokens: int
    lease_seconds: int
    max_attempts: int
    chunks: int  # chunks covered by level-0 tasks
    created_at: float
    columns: tuple[str, ...] | None = None  # a projected job: the columns analysts see
    where: str | None = None  # a projected job: the predicate that selects its records
    dimensions: dict[str, tuple[str, ...] | None] | None = None  # fixed keys: name -> vocabulary or open

    @property
    def projected(self) -> bool:
        return self.columns is not None or self.where is not None


@dataclass(frozen=True, slots=True)
class Task:
    """A task row; `inputs` (reduce tasks: groups of finding ids), counts, stats and follow_up decoded."""

    id: int
    job_id: int
    level: int
    ordinal: int
    analyst: str
    tokens: int
    inputs: list[list[int]] | None
    state: str
    worker: str | None
    lease_expires_at: float | None
    attempts: int
    error: str | None
    claimed_at: float | None
    completed_at: float | None
    summary: str | None
    relevance: str | None
    counts: dict[str, dict[str, int]] | None
    stats: dict[str, dict[str, Any]] | None
    follow_up: list[str] | None
    submission_hash: str | None


@dataclass(frozen=True, slots=True)
class TaskCompletion:
    """What a submission stores on its task; None for what it did not send."""

    summary: str | None
    relevance: str | None
    counts: dict[str, dict[str, int]] | None
    stats: dict[str, dict[str, Any]] | None
    follow_up: list[str] | None
    submission_hash: str


@dataclass(frozen=True, slots=True)
class JobTiming:
    """First claim and last completion of a job's done tasks (None before any), and how many are done."""

    first_claim: float | None
    last_done: float | None
    done: int


@dataclass(frozen=True, slots=True)
class MissingChunk:
    """A chunk of a level-0 task that is not done, with its task's state and error."""

    document_id: int
    ordinal: int
    chunk_id: int
    task_id: int
    state: str
    error: str | None


@dataclass(frozen=True, slots=True)
class CoveredChunk:
    """A chunk a task covers, as planned, with its current text (None when deleted since planning)."""

    chunk_id: int
    document_id: int
    ordinal: int
    planned_hash: str
    current_hash: str | None
    text: str | None
    context: str | None
    section: str | None
    start_line: int | None
    end_line: int | None
    start_row: int | None
    end_row: int | None
    document_name: str | None
    content_type: str | None


@dataclass(frozen=True, slots=True)
class NewFinding:
    """A finding as a submission stores it."""

    job_id: int
    task_id: int
    level: int
    position: int
    chunk_id: int
    title: str
    detail: str
    evidence: str
    verified: bool
    evidence_chunk_id: int | None
    line: int | None
    kind: str | None
    severity: str | None
    tags: tuple[str, ...]
    citations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """A stored finding; `tags` and `citations` decoded."""

    id: int
    job_id: int
    task_id: int
    level: int
    position: int
    chunk_id: int
    title: str
    detail: str
    evidence: str
    verified: bool
    evidence_chunk_id: int | None
    line: int | None
    kind: str | None
    severity: str | None
    tags: tuple[str, ...]
    citations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RatedFinding:
    """A finding with its task's relevance: what synthesis folds."""

    id: int
    task_id: int
    chunk_id: int
    title: str
    detail: str
    evidence: str
    verified: bool
    line: int | None
    kind: str | None
    severity: str | None
    tags: tuple[str, ...]
    citations: tuple[int, ...]
    relevance: str | None


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A done task's own results (counts, stats and follow-ups decoded)."""

    id: int
    relevance: str | None
    summary: str | None
    counts: dict[str, dict[str, int]] | None
    stats: dict[str, dict[str, Any]] | None
    follow_up: list[str] | None


@dataclass(frozen=True, slots=True)
class UnverifiedFinding:
    id: int
    task_id: int
    level: int
    chunk_id: int
    title: str
    evidence: str


@dataclass(frozen=True, slots=True)
class ReduceTask:
    """A reduce task: its state, the groups of finding ids it merges, and how many findings it stored."""

    id: int
    state: str
    inputs: list[list[int]]
    findings: int


# per-task telemetry (migration 0008)


@dataclass(frozen=True, slots=True)
class CostSums:
    """A job's task telemetry summed: what the server handed out and received, claims, task time."""

    served_chars: int
    served_tokens: int
    received_chars: int
    received_tokens: int
    attempts: int
    tasks: int
    task_seconds: float
    first_claim: float | None
    last_done: float | None


@dataclass(frozen=True, slots=True)
class TaskCost:
    """One task's telemetry, for a report."""

    id: int
    level: int
    ordinal: int
    analyst: str
    state: str
    worker: str | None
    attempts: int
    planned_tokens: int
    served_chars: int
    served_tokens: int
    received_chars: int
    received_tokens: int
    first_claimed_at: float | None
    claimed_at: float | None
    completed_at: float | None


@dataclass(frozen=True, slots=True)
class OpenJob:
    """A job with pending or claimed tasks, and its task counts."""

    id: int
    query: str
    chunks: int
    pending: int
    claimed: int
    done: int
    tasks: int
