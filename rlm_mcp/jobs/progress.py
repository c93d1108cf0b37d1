"""How far a job has come: tasks by state, coverage, cost so far, who is waiting on whose lease, and the
list of jobs (job_status, list_jobs)."""

import time
from dataclasses import dataclass, field
from typing import Any

from ..answers import shorten
from ..errors import InvalidInput
from ..ids import format_id, parse_id
from ..store import Connection, Store
from ..store import jobs as db
from ..store import records as records_db
from ..store import tasks as tasks_db
from ..store.rows import Job, MissingChunk
from .plans import MIN_DONE_FOR_RATE, MIN_RATE_SECONDS, Clock, iso_utc, job_or_raise


@dataclass(frozen=True, slots=True)
class Coverage:
    done: int
    total: int
    gone: int = 0  # planned chunks whose document was removed, or reloaded with other text
    records_done: int | None = None  # a projected job: records of done tasks, of all its records
    records_total: int | None = None

    @property
    def ratio(self) -> float:
        return round(self.done / self.total, 4) if self.total else 1.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"done": self.done, "total": self.total, "ratio": self.ratio}
        if self.gone:
            data["gone"] = self.gone
        if self.records_total is not None:
            data["records"] = {"done": self.records_done, "total": self.records_total}
        return data

    def records_text(self) -> str:
        """' · 1,200/2,000 records' for a projected job, else ''."""
        if self.records_total is None:
            return ""
        return f" · {self.records_done or 0:,}/{self.records_total:,} records"


def coverage_of(conn: Connection, job: Job, gone: int = 0) -> Coverage:
    """Chunks of done level-0 tasks of all the job planned; records too, for a projected job."""
    done = db.done_chunk_count(conn, job.id)
    if not job.projected:
        return Coverage(done, job.chunks, gone)
    records_done, records_total = records_db.record_totals(conn, job.id)
    return Coverage(done, job.chunks, gone, records_done, records_total)


STATES = ("pending", "claimed", "done", "failed")
MAX_JOBS_LISTED = 100


@dataclass(frozen=True, slots=True)
class CostTotals:
    """What a job's tasks cost so far, as the server sees it (no model billing is visible to it)."""

    served_chars: int
    served_tokens: int
    received_chars: int
    received_tokens: int
    claims: int
    task_seconds: float
    wall_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "served_chars": self.served_chars,
            "served_tokens": self.served_tokens,
            "received_chars": self.received_chars,
            "received_tokens": self.received_tokens,
            "claims": self.claims,
            "task_seconds": round(self.task_seconds, 1),
            "wall_seconds": round(self.wall_seconds, 1),
        }

    def to_text(self) -> str:
        return (
            f"Cost so far: {self.served_chars:,} characters (~{self.served_tokens:,} tokens) handed out over "
            f"{self.claims} claim(s), {self.received_chars:,} (~{self.received_tokens:,} tokens) received; "
            f"{self.task_seconds:,.0f} s of task time, {self.wall_seconds:,.0f} s wall."
        )


def cost_totals(conn: Any, job_id: int) -> CostTotals:
    row = db.cost_totals(conn, job_id)
    wall = (row.last_done - row.first_claim) if row.first_claim and row.last_done else 0.0
    return CostTotals(
        int(row.served_chars),
        int(row.served_tokens),
        int(row.received_chars),
        int(row.received_tokens),
        int(row.attempts),
        float(row.task_seconds),
        max(0.0, float(wall)),
    )


@dataclass(frozen=True, slots=True)
class Waiting:
    """Only claimed tasks are left: nothing to spawn for, nothing to synthesize in full yet."""

    claimed: int
    lease_ends: float

    def to_json(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "leases_end_by": iso_utc(self.lease_ends)}

    def message(self, job: str) -> str:
        return (
            f"Only claimed tasks remain: {self.claimed} task(s) held by analysts still at work, leases "
            f"ending by {iso_utc(self.lease_ends)}. Wait for those analysts to return, then call "
            f"synthesize(job_id={job!r}); if they do not, job_status(job_id={job!r}) after that time puts "
            "the expired tasks back in the queue for fresh analysts."
        )


def waiting(conn: Any, job_id: int) -> Waiting | None:
    """Set when no task is pending and some are claimed."""
    if tasks_db.count_pending(conn, job_id):
        return None
    claimed, _, last = tasks_db.claimed_leases(conn, job_id)
    return Waiting(claimed, float(last)) if claimed and last is not None else None


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: int
    query: str
    tasks: dict[str, int]
    levels: dict[int, dict[str, int]]
    coverage: Coverage
    requeued: int
    failed_now: int
    tasks_per_minute: float | None
    eta_seconds: int | None
    cost: CostTotals
    waiting: Waiting | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": format_id("j", self.job_id),
            "query": self.query,
            "tasks": self.tasks,
            "levels": {str(k): v for k, v in self.levels.items()},
            "coverage": self.coverage.to_json(),
            "requeued": self.requeued,
            "failed_now": self.failed_now,
            "throughput": {"tasks_per_minute": self.tasks_per_minute},
            "eta_seconds": self.eta_seconds,
            "cost": self.cost.to_json(),
            "waiting": self.waiting.to_json() if self.waiting else None,
            "failures": self.failures,
        }

    def to_text(self) -> str:
        job = format_id("j", self.job_id)
        t = self.tasks
        lines = [
            f"Job {job}: {t['done']} done, {t['claimed']} claimed, {t['pending']} pending, "
            f"{t['failed']} failed"
            f" · coverage {self.coverage.done}/{self.coverage.total} chunks ({self.coverage.ratio:.1%})"
            f"{self.coverage.records_text()}"
            f" · question: {shorten(self.query, 120)}"
        ]
        if self.coverage.gone:
            lines.append(
                f"{self.coverage.gone} of the job's {self.coverage.total} chunks are gone (their documents "
                "were removed, or reloaded with other text): findings citing them are kept, but they no "
                "longer describe the store. create_job again to cover the current documents."
            )
        if len(self.levels) > 1:
            lines += [
                f"{'Chunks' if lv == 0 else f'Reduce level {lv}'}: "
                + ", ".join(f"{n} {state}" for state, n in counts.items() if n)
                for lv, counts in self.levels.items()
            ]
        if self.requeued or self.failed_now:
            lines.append(
                f"Expired leases: {self.requeued} task(s) back in the queue, {self.failed_now} failed."
            )
        if self.tasks_per_minute:
            eta = f", ETA {self.eta_seconds // 60} min {self.eta_seconds % 60} s" if self.eta_seconds else ""
            lines.append(f"Throughput {self.tasks_per_minute:.1f} tasks/min{eta}.")
        lines += [f"Failed {f['task_id']}: {f['error']}" for f in self.failures]
        if self.cost.claims:
            lines.append(self.cost.to_text())
        if t["pending"]:
            lines.append(
                f"Next: spawn analysts on job_id={job!r} (claim_task) for the {t['pending']} pending tasks."
            )
        elif self.waiting:
            lines.append(f"Next: {self.waiting.message(job)}")
        else:
            lines.append(f"Next: synthesize(job_id={job!r}).")
        return "\n".join(lines)


def job_status(store: Store, job_id: str | int, clock: Clock = time.time) -> JobStatus:
    number = parse_id(job_id, "j")
    with store.write() as conn:
        job = job_or_raise(conn, number)
        requeued, failed = tasks_db.requeue_expired(conn, number, clock())
        by_state = db.task_state_counts(conn, number)
        coverage = coverage_of(conn, job, db.gone_chunk_count(conn, number))
        timing = db.timing(conn, number)
        failures = [
            {"task_id": format_id("t", r.task_id), "error": r.error}
            for r in _failed_tasks(db.missing_chunks(conn, number))
        ]
        cost = cost_totals(conn, number)
        wait = waiting(conn, number)
    tasks = {s: sum(n for (_, state), n in by_state.items() if state == s) for s in STATES}
    levels: dict[int, dict[str, int]] = {}
    for (level, state), n in sorted(by_state.items()):
        levels.setdefault(level, dict.fromkeys(STATES, 0))[state] = n
    rate = eta = None
    first, last = timing.first_claim, timing.last_done
    if timing.done >= MIN_DONE_FOR_RATE and first is not None and last is not None:
        elapsed = max(last - first, MIN_RATE_SECONDS)
        rate = timing.done / (elapsed / 60)
        remaining = tasks["pending"] + tasks["claimed"]
        eta = round(remaining / rate * 60) if remaining else 0
    return JobStatus(
        number,
        job.query,
        tasks,
        levels,
        coverage,
        requeued,
        failed,
        round(rate, 2) if rate else None,
        eta,
        cost,
        wait,
        failures[:10],
    )


def _failed_tasks(missing: list[MissingChunk]) -> list[MissingChunk]:
    seen: dict[int, MissingChunk] = {}
    for r in missing:
        if r.state == "failed" and r.task_id not in seen:
            seen[r.task_id] = r
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class JobList:
    jobs: list[dict[str, Any]]
    total: int
    offset: int

    def to_json(self) -> dict[str, Any]:
        return {"jobs": self.jobs, "total": self.total, "offset": self.offset}

    def to_text(self) -> str:
        if not self.jobs:
            return (
                "No jobs yet; create_job plans one."
                if not self.total
                else f"No jobs past offset {self.offset}."
            )
        lines = [f"{self.total} job(s), newest first:"] + [
            f"{j['job_id']} · {j['tasks']['done']}/{sum(j['tasks'].values())} tasks done · coverage "
            f"{j['coverage']['ratio']:.1%} · {j['created_at']} · {shorten(j['query'], 80)}"
            for j in self.jobs
        ]
        shown = self.offset + len(self.jobs)
        if shown < self.total:
            lines.append(f"… {self.total - shown} more; call list_jobs with offset={shown}")
        lines.append("Next: job_status(job_id) for one job's progress, synthesize(job_id) for its result.")
        return "\n".join(lines)


def list_jobs(store: Store, limit: int = 50, offset: int = 0) -> JobList:
    if not 1 <= limit <= MAX_JOBS_LISTED:
        raise InvalidInput(f"limit={limit} is out of range; use 1–{MAX_JOBS_LISTED}.")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more (got {offset}).")
    with store.read() as conn:
        rows = db.list_job_rows(conn, limit, offset)
        total = db.count_jobs(conn)
        jobs = []
        for r in rows:
            by_state = db.task_state_counts(conn, r.id)
            tasks = {s: sum(n for (_, st), n in by_state.items() if st == s) for s in STATES}
            coverage = coverage_of(conn, r)
            jobs.append(
                {
                    "job_id": format_id("j", r.id),
                    "query": r.query,
                    "tasks": tasks,
                    "coverage": coverage.to_json(),
                    "created_at": iso_utc(r.created_at),
                }
            )
    return JobList(jobs, total, offset)
