"""query: query_data on the command line (one read-only SELECT over the columnar copies)."""

from typing import Any

from ..ids import parse_ids
from ..workspace import Workspace
from .common import add_json_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "query", help="run one read-only SQL SELECT over the columnar copies (query_data)"
    )
    p.add_argument("sql", help="one SELECT statement over the views d3, d3_lines and labels")
    p.add_argument(
        "--doc", dest="document_ids", action="append", help="allow only this document (repeatable)"
    )
    p.add_argument("--offset", type=int, default=0, help="skip this many rows (paging)")
    p.add_argument("--limit", type=int, default=None, help="rows per page (default 100, at most 1000)")
    add_json_flag(p)
    p.set_defaults(handler=run_query)


def run_query(args: Any, context: Workspace) -> int:
    from .. import data  # duckdb loads only for this command

    copy = data.open_copy(context.settings, context.store)
    result = data.query(copy, args.sql, parse_ids(args.document_ids, "d"), args.offset, args.limit)
    return emit(result, args.json)
