"""What every subcommand shares: the workspace (lazy settings and store), output, a progress bar."""

import argparse
import sys
import time
from typing import Any

from ..answers import Answer, render

BAR_WIDTH = 30


def emit(answer: Answer, as_json: bool) -> int:
    try:
        print(render(answer, "json" if as_json else "text"), flush=True)
    except BrokenPipeError:  # `rlm-mcp search … | head`: the reader left; that is not an error
        sys.stdout = None  # no second failure when Python flushes at exit
    return 0


def add_json_flag(parser: Any) -> None:
    parser.add_argument("--json", action="store_true", help="print the answer as one JSON object")


def add_progress_flag(parser: Any) -> None:
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )


class ProgressBar:
    """`[#####.....]  45%  12.3/27.0 MB  message` on stderr, redrawn in place; silent when not a TTY."""

    def __init__(self, enabled: bool | None = None, unit: str = "MB", scale: float = 1e6) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.unit = unit
        self.scale = scale
        self._start = time.monotonic()
        self._drawn = False

    def __call__(self, done: float, total: float, message: str) -> None:
        if not self.enabled:
            return
        share = 0.0 if total <= 0 else min(1.0, done / total)
        filled = int(share * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        rate = done / self.scale / max(time.monotonic() - self._start, 1e-6)
        line = (
            f"\r[{bar}] {share:4.0%}  {done / self.scale:.1f}/{total / self.scale:.1f} {self.unit}"
            f"  {rate:.1f} {self.unit}/s  {message[:40]}"
        )
        sys.stderr.write(line.ljust(110))
        sys.stderr.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
