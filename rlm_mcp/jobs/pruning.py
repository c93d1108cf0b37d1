"""`rlm-mcp gc`: keep the store bounded by pruning old work no job references.

A job is pruned when it was created more than `older_than_days` ago, has no pending or claimed task
(nobody is working on it), and no other job reused its work (`tasks.reused_from_job`): a job that
says "reused from j7" keeps j7 until it is pruned itself. Reused work is a copy, so pruning never
changes another job's results. Its tasks, findings and labels go with it (foreign keys cascade).
"""

import time
from dataclasses import dataclass
from typing import Any

from ..answers import shorten
from ..errors import InvalidInput
from ..ids import format_id
from ..store import Store
from ..store import reuse as reuse_db
from .plans import Clock

DEFAULT_GC_DAYS = 30.0
DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class GcResult:
    older_than_days: float
    dry_run: bool
    jobs: tuple[reuse_db.PrunableJob, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "older_than_days": self.older_than_days,
            "dry_run": self.dry_run,
            "removed": [
                {
                    "job_id": format_id("j", j.job_id),
                    "query": j.query,
                    "tasks": j.tasks,
                    "findings": j.findings,
                    "labels": j.labels,
                }
                for j in self.jobs
            ],
            "jobs": len(self.jobs),
            "tasks": sum(j.tasks for j in self.jobs),
            "findings": sum(j.findings for j in self.jobs),
            "labels": sum(j.labels for j in self.jobs),
        }

    def to_text(self) -> str:
        verb = "Would remove" if self.dry_run else "Removed"
        if not self.jobs:
            return (
                f"Nothing to remove: no finished job older than {self.older_than_days:g} days whose work "
                "no other job reused."
            )
        totals = self.to_json()
        lines = [
            f"{verb} {len(self.jobs)} job(s) older than {self.older_than_days:g} days that no job "
            "references: "
            f"{totals['tasks']:,} tasks, {totals['findings']:,} findings, {totals['labels']:,} labels."
        ]
        lines += [
            f"  {format_id('j', j.job_id)} {shorten(j.query, 60)!r}: {j.tasks} tasks, {j.findings} findings, "
            f"{j.labels} labels"
            for j in self.jobs[:50]
        ]
        if len(self.jobs) > 50:
            lines.append(f"  … {len(self.jobs) - 50} more")
        return "\n".join(lines)


def prune_jobs(
    store: Store, older_than_days: float = DEFAULT_GC_DAYS, dry_run: bool = False, clock: Clock = time.time
) -> GcResult:
    if not older_than_days >= 0:
        raise InvalidInput(f"--older-than must be 0 days or more (got {older_than_days}).")
    before = clock() - older_than_days * DAY_SECONDS
    with store.write() as conn:
        reuse_db.hold_pruning(conn)  # a create_job reusing a job's work commits first, or waits
        jobs = reuse_db.prunable_jobs(conn, before)
        if jobs and not dry_run:
            reuse_db.delete_jobs(conn, [j.job_id for j in jobs])
    return GcResult(older_than_days, dry_run, tuple(jobs))
