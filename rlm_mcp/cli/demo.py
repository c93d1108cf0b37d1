"""`rlm-mcp demo`: the whole product on its embedded defaults, with no model service needed.

It loads a public-domain book and a generated CSV into the project's store, embeds them with the
bundled model, searches in every mode, and drains an analysis job with a scripted analyst that
does exactly what an rlm-data-analyzer is told to do (count by column, submit counts and stats,
quote evidence), then checks the synthesized counts against a direct count of the file.
"""

import argparse
import csv
import random
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from .. import documents, embedding, jobs, loading, search, synthesis
from ..answers import Answer, render
from ..report import synthesize_with_report
from ..workspace import Workspace
from .common import ProgressBar

BOOK = "metamorphosis.txt"
TABLE = "tickets.csv"
TICKETS = 3000
TEAMS = ("billing", "network", "accounts", "mobile", "web")
STATUSES = ("open", "closed", "pending", "escalated")
WORKER = "demo-analyst"
SLOW_MINUTES = 1000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="load a sample book and CSV, embed, search, run and synthesize a job"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the sample documents in the store afterwards"
    )
    parser.set_defaults(handler=run_demo)


def write_samples(folder: Path) -> tuple[Path, Path]:
    """The bundled book, and a CSV of support tickets generated with a fixed seed."""
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / BOOK
    with resources.as_file(resources.files("rlm_mcp") / "samples" / BOOK) as source:
        shutil.copyfile(source, book)
    rng = random.Random(2512)
    table = folder / TABLE
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "opened", "team", "status", "minutes_to_resolve", "summary"])
        for i in range(1, TICKETS + 1):
            team, status = rng.choice(TEAMS), rng.choices(STATUSES, weights=(3, 8, 2, 1))[0]
            minutes = int(rng.lognormvariate(4, 1)) + 1
            summary = rng.choice(["Login fails", "Invoice wrong", "App crashes, on start", "Slow page"])
            writer.writerow(
                [i, f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", team, status, minutes, summary]
            )
    return book, table


def analyse_rows(claim: jobs.TaskClaim) -> dict[str, Any]:
    """The scripted rlm-data-analyzer: exact counts and stats per chunk, one cited finding per task."""
    counts: dict[str, Counter[str]] = {"status": Counter(), "team": Counter()}
    minutes: list[int] = []
    slowest: tuple[int, str, int] | None = None
    for chunk in claim.chunks:
        header = next(csv.reader([chunk.context]))
        for line in chunk.text.splitlines():
            if not line.strip():
                continue
            row = dict(zip(header, next(csv.reader([line])), strict=False))
            counts["status"][row["status"]] += 1
            counts["team"][row["team"]] += 1
            minutes.append(int(row["minutes_to_resolve"]))
            if slowest is None or minutes[-1] > slowest[0]:
                slowest = (minutes[-1], line, chunk.chunk_id)
    findings = []
    if slowest is not None:
        findings.append(
            {
                "title": f"Slowest ticket of task rows: {slowest[0]} minutes",
                "detail": f"took {slowest[0]} minutes to resolve",
                "evidence": slowest[1],
                "chunk_id": f"c{slowest[2]}",
                "tags": ["resolution-time"],
            }
        )
    stats = {
        "minutes_to_resolve": {
            "n": len(minutes),
            "sum": sum(minutes),
            "min": min(minutes),
            "max": max(minutes),
        }
    }
    slow = slowest is not None and slowest[0] >= SLOW_MINUTES
    return {
        "findings": findings,
        "relevance": "high" if slow else "low",  # a ticket that took over a day matters to the question
        "counts": {k: dict(v) for k, v in counts.items()},
        "stats": stats if minutes else None,
    }


def direct_counts(table: Path) -> dict[str, dict[str, int]]:
    with table.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "status": dict(Counter(r["status"] for r in rows)),
        "team": dict(Counter(r["team"] for r in rows)),
    }


def step(title: str, answer: Answer | str, lines: int = 14) -> None:
    text = answer if isinstance(answer, str) else render(answer)
    shown = text.splitlines()
    more = f"\n  … ({len(shown) - lines} more lines)" if len(shown) > lines else ""
    print(f"\n== {title}\n" + "\n".join(shown[:lines]) + more)


def run_demo(args: argparse.Namespace, context: Workspace) -> int:
    store, settings = context.store, context.settings
    book, table = write_samples(settings.db_path.parent / "demo")
    loaded = [loading.load_document(store, settings, str(path)) for path in (book, table)]
    book_id, table_id = (result.documents[0].id for result in loaded)
    step(
        "load_document (a book and a CSV; the CSV's profile is computed at load)",
        "\n".join(r.to_text() for r in loaded),
    )
    step("embeddings (bundled all-MiniLM-L6-v2 int8, offline)", embed_now(context))
    for mode, query in (
        ("bm25", "Gregor sister violin"),
        ("semantic", "the family feels relieved after his death"),
        ("hybrid", "how does the father treat Gregor"),
        ("regex", r"escalated,\d{3,}"),
    ):
        scope = [f"d{table_id}"] if mode == "regex" else [f"d{book_id}"]
        step(
            f"search_chunks mode={mode}",
            search.search_chunks(store, settings, query, mode, scope, 3, 0, context.embedder),
            9,
        )
    hit = search.search_chunks(
        store, settings, "Gregor sister violin", "bm25", [f"d{book_id}"], top_k=1
    ).hits[0]
    step(f"get_chunk c{hit.chunk_id}", documents.get_chunk(store, hit.chunk_id), 10)
    plan = jobs.create_job(
        store, settings, "How many tickets per status and team, and how long do they take?", [f"d{table_id}"]
    )
    step("create_job (tasks grouped from consecutive chunks; the analyst chosen by content type)", plan)
    done = 0
    while (claim := jobs.claim_task(store, plan.job_id, WORKER)).task_id is not None:
        jobs.submit_findings(store, claim.task_id, WORKER, **analyse_rows(claim))
        done += 1
    synthesized = synthesize_with_report(store, settings, plan.job_id)
    step(f"the scripted analyst claimed and submitted {done} tasks; synthesize", synthesized, 30)
    print(f"\n== report: {synthesized.report} (open it in a browser; `rlm-mcp report` writes it again)")
    merged = synthesis.synthesize(store, plan.job_id).to_json()["counts"]
    exact = merged == direct_counts(table)
    print(f"\n== check: synthesized counts equal a direct count of {TABLE}: {'yes' if exact else 'NO'}")
    if not args.keep:
        for doc_id in (book_id, table_id):
            documents.remove_document(store, doc_id)
        print(f"(the sample documents were removed again; --keep keeps them in {settings.db_path})")
    print(
        "\nNext: `claude mcp add rlm -- rlm-mcp serve`, then ask Claude to analyse your own files (README)."
    )
    return 0 if exact else 1


def embed_now(context: Workspace) -> str:
    bar = ProgressBar(unit="chunks", scale=1)
    try:
        result = embedding.embed_all(
            context.store, context.embedder, lambda done, total: bar(done, total, "embedding")
        )
    finally:
        bar.finish()
    return (
        f"{result.stored} chunk vectors stored "
        f"({result.embedded} embedded, {result.reused} reused by content hash)."
    )


__all__ = ["analyse_rows", "direct_counts", "register", "write_samples"]
