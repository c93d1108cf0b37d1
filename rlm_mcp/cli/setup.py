"""`rlm-mcp init`: set a project up for Claude Code without the plugin (or allow the plugin's tools)."""

import argparse
from pathlib import Path
from typing import Any

from ..plugin import install
from ..workspace import Workspace
from .common import add_json_flag, emit


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="register the rlm server for a Claude Code project and install the agents and /rlm-* skills",
        description=(
            "Writes .mcp.json (server `rlm`), .claude/agents/rlm-*.md, .claude/skills/rlm*/ and allow rules "
            "for mcp__rlm__* in .claude/settings.json; adds .rlm/ to .gitignore in a git project. Files you "
            "changed are kept unless --force. With --plugin, only allows the plugin's tools."
        ),
    )
    parser.add_argument(
        "project", nargs="?", default=".", help="project directory (default: the current one)"
    )
    parser.add_argument(
        "--plugin",
        action="store_true",
        help="you use the rlm Claude Code plugin: only allow its tools (mcp__plugin_rlm_rlm__*) in settings",
    )
    parser.add_argument(
        "--server-command",
        nargs="+",
        metavar="WORD",
        help="how Claude Code starts the server, without `serve` (default: this installation's rlm-mcp)",
    )
    parser.add_argument("--force", action="store_true", help="replace files and the rlm entry you changed")
    parser.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    add_json_flag(parser)
    parser.set_defaults(handler=run_init)


def run_init(args: argparse.Namespace, context: Workspace) -> int:
    report = install(
        Path(args.project),
        plugin=args.plugin,
        command=args.server_command,
        force=args.force,
        dry_run=args.dry_run,
    )
    return emit(report, args.json)
