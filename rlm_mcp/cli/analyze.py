"""`rlm-mcp analyze PATH QUESTION`: a whole job headless, with `claude -p` analysts (plugin/headless)."""

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import NotFound
from ..plugin import Options, analyze
from ..workspace import Workspace
from .common import add_json_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="answer a question about a file or folder headless: load, plan, claude -p analysts, report",
        description=(
            "Loads PATH, plans a job for QUESTION, runs rounds of `claude -p` analysts (only the rlm tools "
            "allowed, stdin closed, each bounded in time) until every task is done, then a synthesizer; "
            "the report is written to .rlm/reports/<job>.md (or --report). Exit 0: full coverage; 2: the "
            "report is partial (rounds, time or budget ran out); 1: an error."
        ),
    )
    p.add_argument("path", help="a file, folder or glob, relative to the project")
    p.add_argument("question", help="what every analyst answers about its chunks, and the report answers")
    p.add_argument("--report", type=Path, help="write the report here (default .rlm/reports/<job>.md)")
    p.add_argument(
        "--budget-usd", type=float, help="stop starting processes once this much is reported spent"
    )
    p.add_argument("--parallel", type=int, default=4, help="analysts at once (1-8, default 4)")
    p.add_argument("--max-rounds", type=int, help="rounds of analysts (default: the plan's rounds + 2)")
    p.add_argument("--agent-timeout", type=float, default=900.0, help="seconds per claude process (900)")
    p.add_argument("--analyst-model", default="haiku")
    p.add_argument("--synthesizer-model", default="sonnet")
    p.add_argument("--claude", help="the claude executable (default $RLM_CLAUDE_BIN, else claude on PATH)")
    add_json_flag(p)
    p.set_defaults(handler=run_analyze)


def run_analyze(args: argparse.Namespace, context: Workspace) -> int:
    claude = args.claude or os.environ.get("RLM_CLAUDE_BIN") or shutil.which("claude")
    if not claude:
        raise NotFound("No claude executable: install Claude Code, or pass --claude /path/to/claude.")
    options = Options(
        claude=claude,
        model_analyst=args.analyst_model,
        model_synthesizer=args.synthesizer_model,
        parallel=max(1, min(8, args.parallel)),
        max_rounds=args.max_rounds,
        agent_timeout=args.agent_timeout,
        budget_usd=args.budget_usd,
        report=args.report.resolve() if args.report else None,
    )
    outcome = analyze(
        context.store, context.settings, args.path, args.question, options,
        lambda line: print(line, file=sys.stderr), context.clock,
    )  # fmt: skip
    emit(outcome, args.json)
    return 0 if outcome.complete else 2
