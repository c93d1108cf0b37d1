"""What create_job answers: the plan of a job (its tasks, analysts, cost, reuse) as text and JSON."""

from dataclasses import dataclass
from typing import Any

from ..answers import shorten
from ..ids import format_id
from . import records as projected
from . import reuse as reusing
from .dimensions import Dimensions, describe
from .dimensions import to_json as dimensions_json
from .planning import CONSENT_TASKS, TASKS_PER_AGENT, PlanCost


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
    records: int | None = None  # a projected job: the records its tasks hold
    projection: projected.Projection | None = None
    dimensions: Dimensions | None = None
    skipped: tuple[str, ...] = ()  # documents a projected job over every document left out (no copy)
    reused: reusing.ReuseTally | None = None  # the tasks born done with earlier jobs' work
    reuse_mode: str = "exact"

    @property
    def to_run(self) -> int:
        return self.tasks - (self.reused.tasks if self.reused else 0)

    @property
    def needs_consent(self) -> bool:
        return self.to_run > CONSENT_TASKS

    def reuse_json(self) -> dict[str, Any]:
        tally = self.reused or reusing.ReuseTally()
        return {
            "mode": self.reuse_mode,
            "tasks": tally.tasks,
            "from": {format_id("j", j): n for j, n in sorted(tally.from_jobs.items())},
            "to_run": self.to_run,
            "tokens_avoided": tally.tokens,
            "findings": tally.findings,
            "unverified": tally.unverified,
            "labels": tally.labels,
        }

    def reuse_text(self) -> str:
        """'412 tasks: 398 reused from j7, 14 to run' (or just '412 tasks' when nothing was reused)."""
        tally = self.reused
        if tally is None or not tally.tasks:
            return f"{self.tasks} tasks"
        sources = ", ".join(f"{n} from {format_id('j', j)}" for j, n in sorted(tally.from_jobs.items()))
        if len(tally.from_jobs) == 1:
            sources = f"from {format_id('j', next(iter(tally.from_jobs)))}"
        text = f"{self.tasks} tasks: {tally.tasks} reused {sources}, {self.to_run} to run"
        return text

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
            "records": self.records,
            "columns": list(self.projection.columns) if self.projection and self.projection.columns else None,
            "where": self.projection.where if self.projection else None,
            "dimensions": dimensions_json(self.dimensions) if self.dimensions else None,
            "skipped_documents": list(self.skipped),
            "reuse": self.reuse_json(),
        }

    def to_text(self) -> str:
        job = format_id("j", self.job_id)
        scope = f"the chunks search {self.search!r} found" if self.search else "full coverage"
        if self.path:
            scope += f" of the documents under {self.path!r}"
        kinds = ", ".join(f"{a} {n}" for a, n in self.analysts.items())
        agents = " and ".join(f"{n} {a}" for a, n in self.spawn.items())
        consent = (
            f"LARGE JOB ({self.to_run} tasks to run > {CONSENT_TASKS}): show the user this plan and its cost "
            "and "
            "wait for their yes before spawning anyone. Cheaper first: query_data for what code can count, "
            "a projected job (fewer columns or records), or a scoped job (path=, document_ids=, search=).\n"
            if self.needs_consent
            else ""
        )
        over = f"{self.chunks} chunks"
        if self.projection is not None:
            shown = ", ".join(self.projection.columns) if self.projection.columns else "every column"
            chosen = f" where {self.projection.where}" if self.projection.where else ""
            over = f"{self.records:,} records{chosen} (columns: {shown}; in {self.chunks} chunks)"
        extra = ""
        if self.dimensions:
            extra += f"Dimensions every analyst must use: {describe(self.dimensions)}.\n"
        if self.skipped:
            extra += f"Left out (no columnar copy): {', '.join(self.skipped[:10])}.\n"
        tokens = f"~{self.tokens:,} tokens"
        if self.reused and self.reused.tasks:
            tokens = f"~{self.tokens - self.reused.tokens:,} tokens to read (~{self.reused.tokens:,} avoided)"
            if self.reused.unverified:
                extra += (
                    f"{self.reused.unverified} of {self.reused.findings} reused finding(s) quote text that "
                    "no longer occurs; they are kept, marked unverified.\n"
                )
        head = (
            f"Job {job} planned: {self.reuse_text()} over {over} of {self.documents} "
            f"document(s), {scope}, {tokens}. Question: {shorten(self.query, 200)}\n"
        )
        if not self.to_run:
            return (
                f"{head}{extra}Every task was reused from earlier work: nothing to run, no analyst to "
                "spawn.\n"
                f"Next: call synthesize(job_id={job!r})."
            )
        return (
            f"{head}Tasks per analyst (to run): {kinds}.\n{extra}{self.cost.to_text()}\n{consent}"
            f"Next: {'once the user agrees, ' * self.needs_consent}spawn {agents} agent(s) in parallel, "
            f"each told job_id={job!r} and a unique worker "
            f"name; each loops claim_task → submit_findings for up to {TASKS_PER_AGENT} tasks. When they "
            f"return, call job_status(job_id={job!r}) and spawn fresh analysts while tasks remain; then "
            f"call synthesize(job_id={job!r})."
        )
