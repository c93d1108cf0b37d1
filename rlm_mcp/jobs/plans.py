"""Analysis jobs: plan the tasks that cover a question's chunks, and report how far a job has come.

A job groups consecutive chunks into tasks that fit one tool result, picks an analyst per task by
content type, and tells the orchestrator which subagents to spawn. Claiming and submitting tasks is
in `tasks`; merging the results is in `synthesis`.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..answers import shorten
from ..config import Settings
from ..errors import InvalidInput, NotFound
from ..ids import format_id, parse_id
from ..search.scope import resolve_scope
from ..store import Connection, Store
from ..store import jobs as db
from ..store.rows import Job, JobDocument, MissingChunk, PlanChunk
from . import analysts, planning
from .planning import (
    CONSENT_TASKS,
    MAX_TASK_TOKENS,
    MIN_TASK_TOKENS,
    TASKS_PER_AGENT,
    PlanCost,
    PlannedTask,
    spawn_plan,
)

if TYPE_CHECKING:  # search brings the embedding layer (numpy): imported when a job searches
    from ..embedding.model import Embedder
    from ..search.quantized import BitIndexCache

DEFAULT_TOP_K = 50
MAX_TOP_K = 2000
SEARCH_PAGE = 50  # search_chunks' page size
MAX_QUERY_CHARS = 4000
MAX_ATTEMPTS = 3  # claims of one task before it ends as failed
MIN_DONE_FOR_RATE = 2  # throughput and ETA need a few completed tasks to mean anything
MIN_RATE_SECONDS = 1.0


Clock = Callable[[], float]  # seconds since the epoch: time.time, or a test's fake clock it advances


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class JobPlan:
    job_id: int
    query: str
    tasks: int
    chunks: int
    documents: int
    tokens: int
    analysts: dict[str, int]
    spawn: dict[str, int]
    cost: PlanCost
    search: str | None = None
    path: str | None = None

    @property
    def needs_consent(self) -> bool:
        return self.tasks > CONSENT_TASKS

    def to_json(self) -> dict[str, Any]:
        job = format_id("j", self.job_id)
        return {
            "job_id": job,
            "tasks": self.tasks,
            "analysts": self.analysts,
            "chunks": self.chunks,
            "documents": self.documents,
            "tokens": self.tokens,
            "search": self.search,
            "path": self.path,
            "spawn": [{"agent": a, "count": n, "job_id": job} for a, n in self.spawn.items()],
            "tasks_per_agent": TASKS_PER_AGENT,
            "cost": self.cost.to_json(),
            "needs_consent": self.needs_consent,
        }

    def to_text(self) -> str:
        job = format_id("j", self.job_id)
        scope = f"the chunks search {self.search!r} found" if self.search else "full coverage"
        if self.path:
            scope += f" of the documents under {self.path!r}"
        kinds = ", ".join(f"{a} {n}" for a, n in self.analysts.items())
        agents = " and ".join(f"{n} {a}" for a, n in self.spawn.items())
        consent = (
            f"LARGE JOB ({self.tasks} tasks > {CONSENT_TASKS}): show the user this plan and its cost and "
            "wait for their yes before spawning anyone. Cheaper first: query_data for what code can count, "
            "a projected job (fewer columns or records), or a scoped job (path=, document_ids=, search=).\n"
            if self.needs_consent
            else ""
        )
        return (
            f"Job {job} planned: {self.tasks} tasks over {self.chunks} chunks of {self.documents} "
            f"document(s), {scope}, ~{self.tokens:,} tokens. Question: {shorten(self.query, 200)}\n"
            f"Tasks per analyst: {kinds}.\n{self.cost.to_text()}\n{consent}"
            f"Next: {'once the user agrees, ' * self.needs_consent}spawn {agents} agent(s) in parallel, "
            f"each told job_id={job!r} and a unique worker "
            f"name; each loops claim_task → submit_findings for up to {TASKS_PER_AGENT} tasks. When they "
            f"return, call job_status(job_id={job!r}) and spawn fresh analysts while tasks remain; then "
            f"call synthesize(job_id={job!r})."
        )


def _check_plan_args(query: str, analyst: str | None, task_tokens: int | None, settings: Settings) -> int:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query is empty: say what the analysts should look for.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is {len(query)} characters; at most {MAX_QUERY_CHARS}.")
    analysts.check_analyst(analyst)
    budget = settings.task_tokens if task_tokens is None else task_tokens
    if not MIN_TASK_TOKENS <= budget <= MAX_TASK_TOKENS:
        raise InvalidInput(f"task_tokens={budget} is out of range; use {MIN_TASK_TOKENS}–{MAX_TASK_TOKENS}.")
    return budget


def _search_chunk_ids(
    store: Store,
    settings: Settings,
    search: str,
    document_ids: list[int] | None,
    top_k: int,
    embedder: "Embedder | None",
    bit_indexes: "BitIndexCache | None",
) -> list[int]:
    """The ids of the best `top_k` chunks for `search` (hybrid, which degrades to BM25), page by page."""
    from ..search import modes as search_module  # imported here: search pulls in the embedding layer

    found: list[int] = []
    while len(found) < top_k:
        page = min(SEARCH_PAGE, top_k - len(found))
        result = search_module.search_chunks(
            store, settings, search, "hybrid", document_ids, page, len(found), embedder, bit_indexes
        )
        found += [hit.chunk_id for hit in result.hits]
        if len(result.hits) < page:
            break
    return list(dict.fromkeys(found))


def create_job(
    store: Store,
    settings: Settings,
    query: str,
    document_ids: list[str | int] | str | int | None = None,
    search: str | None = None,
    top_k: int | None = None,
    analyst: str | None = None,
    task_tokens: int | None = None,
    embedder: "Embedder | None" = None,
    bit_indexes: "BitIndexCache | None" = None,
    clock: Clock = time.time,
    path: str | None = None,
) -> JobPlan:
    """Plan tasks over every chunk of the documents (all, by id, or under `path`), or over the chunks
    `search` finds among them (hybrid with `embedder`, BM25 without)."""
    budget = _check_plan_args(query, analyst, task_tokens, settings)
    path = path.strip() if isinstance(path, str) and path.strip() else None
    doc_ids = resolve_scope(store.conn(), settings, document_ids, path)
    search = search.strip() if isinstance(search, str) and search.strip() else None
    k = _check_top_k(top_k)
    hit_ids = (
        _search_chunk_ids(store, settings, search, doc_ids, k, embedder, bit_indexes) if search else None
    )
    with store.write() as conn:
        docs = db.ready_documents(conn, doc_ids)
        _check_documents(docs, doc_ids)
        per_doc = _scoped_rows(conn, docs, hit_ids, search)
        tasks = planning.plan_tasks(conn, per_doc, analyst, budget)
        if not tasks:
            raise NotFound("The documents have no chunks; load_document them again.")
        scope = {"document_ids": doc_ids, "path": path, "search": search, "top_k": k if search else None}
        job_id = _insert_job(
            conn, settings, query.strip(), {**scope, "analyst": analyst}, budget, tasks, clock()
        )
    return _job_plan(job_id, query.strip(), tasks, search, path)


def _job_plan(
    job_id: int, query: str, tasks: list[PlannedTask], search: str | None, path: str | None = None
) -> JobPlan:
    per_analyst = Counter(t.analyst for t in tasks)
    return JobPlan(
        job_id,
        query,
        len(tasks),
        sum(len(t.chunks) for t in tasks),
        len({r.document_id for t in tasks for r in t.chunks}),
        sum(t.tokens for t in tasks),
        dict(sorted(per_analyst.items())),
        spawn_plan(per_analyst),
        planning.plan_cost(tasks),
        search,
        path,
    )


def _check_top_k(top_k: int | None) -> int:
    k = DEFAULT_TOP_K if top_k is None else top_k
    if not 1 <= k <= MAX_TOP_K:
        raise InvalidInput(f"top_k={k} is out of range; use 1–{MAX_TOP_K}.")
    return k


def _scoped_rows(
    conn: Connection, docs: list[JobDocument], hit_ids: list[int] | None, search: str | None
) -> list[tuple[JobDocument, list[PlanChunk]]]:
    """(document, chunk rows) to plan: every chunk, or the search hits grouped by document in order."""
    if hit_ids is None:
        return [(d, db.chunk_plan_rows(conn, d.id)) for d in docs]
    rows = db.chunk_plan_rows_by_id(conn, hit_ids) if hit_ids else []
    if not rows:
        raise NotFound(
            f"search {search!r} found no chunks; try other words, or omit search for full coverage."
        )
    by_doc = {d.id: d for d in docs}
    grouped: dict[int, list[PlanChunk]] = {}
    for r in rows:
        grouped.setdefault(r.document_id, []).append(r)
    return [(by_doc[d], grouped[d]) for d in sorted(grouped) if d in by_doc]


def _insert_job(
    conn: Connection,
    settings: Settings,
    query: str,
    scope: dict[str, Any],
    budget: int,
    tasks: list[PlannedTask],
    created_at: float,
) -> int:
    chunks = sum(len(t.chunks) for t in tasks)
    job_id = db.insert_job(
        conn, query, scope, budget, settings.lease_seconds, MAX_ATTEMPTS, chunks, created_at
    )
    for ordinal, task in enumerate(tasks):
        task_id = db.insert_task(conn, job_id, 0, ordinal, task.analyst, task.tokens, None)
        db.insert_task_chunks(conn, task_id, task.chunks)
    return job_id


def _check_documents(docs: list[JobDocument], doc_ids: list[int] | None) -> None:
    if doc_ids is not None:
        missing = sorted(set(doc_ids) - {d.id for d in docs})
        if missing:
            names = ", ".join(format_id("d", m) for m in missing)
            raise NotFound(f"No document {names}; list_documents gives valid document ids.")
    if not docs:
        raise NotFound("No documents are loaded; call load_document first.")


def job_or_raise(conn: Connection, job_id: int) -> Job:
    row = db.job_row(conn, job_id)
    if row is None:
        raise NotFound(
            f"No job {format_id('j', job_id)}; list_jobs lists the store's jobs, create_job plans a new one."
        )
    return row


# ---------------------------------------------------------------- status


@dataclass(frozen=True, slots=True)
class Coverage:
    done: int
    total: int
    gone: int = 0  # planned chunks whose document was removed, or reloaded with other text

    @property
    def ratio(self) -> float:
        return round(self.done / self.total, 4) if self.total else 1.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"done": self.done, "total": self.total, "ratio": self.ratio}
        if self.gone:
            data["gone"] = self.gone
        return data


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
    if db.count_pending(conn, job_id):
        return None
    claimed, _, last = db.claimed_leases(conn, job_id)
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
        requeued, failed = db.requeue_expired(conn, number, clock())
        by_state = db.task_state_counts(conn, number)
        done_chunks = db.done_chunk_count(conn, number)
        gone = db.gone_chunk_count(conn, number)
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
        Coverage(done_chunks, job.chunks, gone),
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
            coverage = Coverage(db.done_chunk_count(conn, r.id), r.chunks)
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
