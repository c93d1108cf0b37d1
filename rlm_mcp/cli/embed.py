"""embed: compute every waiting embedding now, in the foreground, with a progress bar (scripts and CI)."""

import argparse
from typing import Any

from .. import embedding
from ..workspace import Workspace
from .common import ProgressBar, add_json_flag, add_progress_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "embed",
        help="embed the chunks still waiting for a vector, now (the server does it in the background)",
    )
    add_progress_flag(p)
    add_json_flag(p)
    p.set_defaults(handler=embed)


def embed(args: argparse.Namespace, context: Workspace) -> int:
    bar = ProgressBar(args.progress, unit="chunks", scale=1.0)
    try:
        report = embedding.embed_pending(
            context.store, context.embedder, lambda done, total: bar(done, total, "embedding")
        )
    finally:
        bar.finish()
    return emit(report, args.json)
