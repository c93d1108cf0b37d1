"""The `rlm-mcp` command line: the same core as the MCP tools, for people, scripts and CI.

Each module adds its subcommands with `register(subparsers)`; a subcommand's handler takes the
parsed arguments and a `Workspace` and returns an exit code.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import RlmError
from ..store import is_postgres_dsn
from ..workspace import Workspace
from . import analyze, data, demo, documents, embed, hooks, jobs, migrate, report, server, setup

MODULES = [server, demo, documents, data, setup, jobs, report, embed, hooks, analyze, migrate]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlm-mcp",
        description="Analyse documents and codebases far larger than a context window (MCP server + CLI).",
    )
    parser.add_argument("--version", action="version", version=f"rlm-mcp {__version__}")
    parser.add_argument(
        "--db",
        help="store to use: a SQLite file or postgresql://… (default: $RLM_DB, else <project>/.rlm/rlm.db)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.db:
        os.environ["RLM_DB"] = args.db if is_postgres_dsn(args.db) else os.path.abspath(args.db)
    context = Workspace()
    try:
        code: int = args.handler(args, context)
        return code
    except RlmError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        context.close()


__all__ = ["build_parser", "main"]
