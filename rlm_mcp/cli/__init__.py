"""The `rlm-mcp` command line: the same core as the MCP tools, for people, scripts and CI.

Each module adds its subcommands with `register(subparsers)`; a subcommand's handler takes the
parsed arguments and a `Workspace` and returns an exit code.
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import NoReturn

from .. import __version__
from ..errors import RlmError
from ..workspace import Workspace


def command_modules(argv: Sequence[str] | None = None) -> list[ModuleType]:
    """The modules whose subcommands the parser needs: every one, or for `rlm-mcp [options] serve`
    only `server`.

    Trigger: the command line is `serve` (after global options). Why: Claude Code waits for the
    server's first answer, and the other commands' modules import most of the core. Outcome: the
    server starts without them; `serve --help` and every other command line get the whole parser.
    """
    if argv is not None and _command_line(argv) == ["serve"]:
        from . import server

        return [server]
    from . import analyze, data, demo, documents, embed, hooks, jobs, migrate, report, server, setup

    return [server, demo, documents, data, setup, jobs, report, embed, hooks, analyze, migrate]


def _command_line(argv: Sequence[str]) -> list[str] | None:
    """What follows the global options (None when one is malformed: the whole parser reports it)."""
    try:
        return _GlobalOptions().parse_known_args(list(argv))[1]
    except argparse.ArgumentError:
        return None


class _GlobalOptions(argparse.ArgumentParser):
    """The options before the command, read as build_parser reads them (abbreviations included);
    a malformed one raises instead of exiting."""

    def __init__(self) -> None:
        super().__init__(add_help=False)
        self.add_argument("--db")
        self.add_argument("-v", "--verbose", action="store_true")
        self.add_argument("--version", action="store_true")

    def error(self, message: str) -> NoReturn:
        raise argparse.ArgumentError(None, message)


def build_parser(modules: Sequence[ModuleType] | None = None) -> argparse.ArgumentParser:
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
    for module in command_modules() if modules is None else modules:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(command_modules(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.db:
        from ..store import is_postgres_dsn

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
