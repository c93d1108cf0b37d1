"""`rlm-mcp serve`: the MCP server on stdio. Stdout carries only the protocol; logs go to stderr."""

import argparse
from typing import Any

from ..workspace import Workspace


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the MCP server on stdio (for Claude Code)")
    parser.set_defaults(handler=serve)


def serve(args: argparse.Namespace, context: Workspace) -> int:
    from ..server import serve_stdio  # the MCP library loads only for this command

    return serve_stdio()
