"""Jobs: planning an analysis into tasks, claiming them under leases, and validating submissions."""

from .analysts import ANALYSTS
from .claiming import TaskClaim, claim_task
from .plan_answer import JobPlan
from .plans import Clock, create_job
from .progress import Coverage, JobList, JobStatus, job_status, list_jobs
from .pruning import DEFAULT_GC_DAYS, GcResult, prune_jobs
from .submissions import SubmitResult, submit_findings

__all__ = [
    "ANALYSTS",
    "DEFAULT_GC_DAYS",
    "Clock",
    "Coverage",
    "GcResult",
    "JobList",
    "JobPlan",
    "JobStatus",
    "SubmitResult",
    "TaskClaim",
    "claim_task",
    "create_job",
    "job_status",
    "list_jobs",
    "prune_jobs",
    "submit_findings",
]
