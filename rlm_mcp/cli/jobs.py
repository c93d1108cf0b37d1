"""jobs, job-status, synthesize: the RLM loop's read side on the command line; gc prunes old jobs."""

import argparse
from typing import Any

from .. import jobs
from ..report import synthesize_with_report
from ..workspace import Workspace
from .common import add_json_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("jobs", help="list analysis jobs with their progress")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    add_json_flag(p)
    p.set_defaults(handler=list_jobs)

    p = subparsers.add_parser("job-status", help="tasks by state, coverage, throughput and ETA of a job")
    p.add_argument("job_id", help="a job id such as j2")
    add_json_flag(p)
    p.set_defaults(handler=job_status)

    p = subparsers.add_parser("synthesize", help="merge a job's findings: coverage, counts, stats, themes")
    p.add_argument("job_id", help="a job id such as j2")
    p.add_argument("--offset", type=int, default=0, help="skip this many folded findings (paging)")
    add_json_flag(p)
    p.set_defaults(handler=synthesize)

    p = subparsers.add_parser(
        "gc", help="remove finished jobs older than --older-than days whose work no other job reused"
    )
    p.add_argument(
        "--older-than", type=float, default=jobs.DEFAULT_GC_DAYS, metavar="DAYS",
        help=f"only jobs created more than DAYS ago (default {jobs.DEFAULT_GC_DAYS:g})",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    add_json_flag(p)
    p.set_defaults(handler=gc)


def list_jobs(args: argparse.Namespace, context: Workspace) -> int:
    return emit(jobs.list_jobs(context.store, args.limit, args.offset), args.json)


def job_status(args: argparse.Namespace, context: Workspace) -> int:
    return emit(jobs.job_status(context.store, args.job_id, context.clock), args.json)


def gc(args: argparse.Namespace, context: Workspace) -> int:
    return emit(jobs.prune_jobs(context.store, args.older_than, args.dry_run, context.clock), args.json)


def synthesize(args: argparse.Namespace, context: Workspace) -> int:
    return emit(synthesize_with_report(context.store, context.settings, args.job_id, args.offset), args.json)
