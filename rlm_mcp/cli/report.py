"""report: a job's self-contained HTML report, written to a file."""

import argparse
from pathlib import Path
from typing import Any

from .. import report
from ..ids import parse_id
from ..workspace import Workspace
from .common import add_json_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="write a job's HTML report: summary, tree, coverage map, citations, timeline"
    )
    p.add_argument("job_id", help="a job id such as j2")
    p.add_argument("-o", "--output", help="the HTML file to write (default: .rlm/reports/<job>.html)")
    add_json_flag(p)
    p.set_defaults(handler=write_report)


def write_report(args: argparse.Namespace, context: Workspace) -> int:
    number = parse_id(args.job_id, "j")
    path = Path(args.output) if args.output else report.default_path(context.settings, number)
    return emit(report.write_report(context.store, number, path.resolve()), args.json)
