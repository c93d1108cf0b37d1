"""`rlm-mcp hook keep`: the heavy half of the plugin's PostToolUse hook (hooks/rlm_hook.py).

Reads the hook event Claude Code sent (JSON on stdin), keeps an oversized tool result in the store
and prints the hook's answer; prints nothing (the result passes through) when there is nothing to
keep, when keeping is switched off, or when anything goes wrong.
"""

import argparse
import json
import logging
import os
import sys
from typing import Any

from ..plugin import DEFAULT_KEEP_CHARS, keep_result
from ..workspace import Workspace

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "hook", help="run a Claude Code hook's work (used by the plugin's hooks, not by hand)"
    )
    actions = parser.add_subparsers(dest="hook", metavar="HOOK", required=True)
    keep = actions.add_parser(
        "keep", help="PostToolUse: keep a tool result too large for context in the store (event on stdin)"
    )
    keep.set_defaults(handler=run_keep)


def _limit() -> int:
    try:
        return int(os.environ.get("RLM_HOOK_KEEP_CHARS", "") or DEFAULT_KEEP_CHARS)
    except ValueError:
        return DEFAULT_KEEP_CHARS


def run_keep(args: argparse.Namespace, context: Workspace) -> int:
    try:
        event = json.loads(sys.stdin.buffer.read())
        answer = (
            keep_result(context.store, context.settings, event, _limit()) if isinstance(event, dict) else None
        )
    except Exception as error:  # the hook passes the result through; the user's work goes on
        log.warning("rlm hook keep: the result passes through (%s)", error)
        return 0
    if answer is not None:
        sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0
