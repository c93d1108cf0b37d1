"""`rlm-mcp demo`: the whole product on its embedded defaults, with no model service needed.

It loads a public-domain book and a generated CSV of support tickets into the project's store,
embeds them with the bundled model and searches the book in every mode. Then the product's principle
on the table: what code can answer is exact SQL (query_data: counts, a sum, top values, each printed
with its SQL), and a job is only for judgement. The job is projected (one column of the escalated
tickets, a fixed root-cause vocabulary); a scripted analyst does what an rlm-data-analyzer is told
to do with such a task (read each record, label it, quote evidence, never count), `synthesize`
derives the label distribution from the labels, and query_data cross-tabs the labels with a column.
Every figure is checked against a direct reading of the generated file.
"""

import argparse
import csv
import random
import shutil
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from .. import data, documents, embedding, jobs, loading, search
from ..answers import Answer, render
from ..report import synthesize_with_report
from ..workspace import Workspace
from .common import ProgressBar

BOOK = "metamorphosis.txt"
TABLE = "tickets.csv"
QUESTIONS = "tickets_questions.sql"  # what the demo asks query_data
TICKETS = 3000
TEAMS = ("billing", "network", "accounts", "mobile", "web")
STATUSES = ("open", "closed", "pending", "escalated")
WORKER = "demo-analyst"
DIMENSION = "root_cause"
# What customers write, by the cause behind it: the CSV holds only the text, never the cause.
SUMMARIES = {
    "auth": ("Login fails after password reset", "Cannot sign in, token expired", "2FA code rejected"),
    "billing": ("Invoice shows the wrong amount", "Charged twice for one order", "Refund not received"),
    "crash": ("App crashes, on start", "App closes when opening settings", "Blank screen, then it quits"),
    "performance": ("Dashboard loads slowly", "Search takes a minute", "Timeouts at peak hours"),
}
# The team a ticket of each cause most often lands with (so the cross-tab has something to show).
LIKELY_TEAM = {"auth": "accounts", "billing": "billing", "crash": "mobile", "performance": "web"}
# The scripted analyst's reading: words in a summary that give its cause away.
CLUES = {
    "auth": ("login", "sign in", "2fa"),
    "billing": ("invoice", "charged", "refund"),
    "crash": ("crash", "closes", "quits"),
    "performance": ("slowly", "takes a minute", "timeouts"),
}
QUESTION = "What is the root cause of each escalated ticket?"
WHERE = "status = 'escalated'"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="load a sample book and CSV, embed, search, answer exactly with query_data, run a projected "
        "labelling job and synthesize it",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the sample documents in the store afterwards"
    )
    parser.set_defaults(handler=run_demo)


def write_samples(folder: Path) -> tuple[Path, Path, list[str]]:
    """The bundled book, a CSV of support tickets generated with a fixed seed, and each ticket's true
    cause (record n = data row n), which the file itself does not hold."""
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / BOOK
    with resources.as_file(resources.files("rlm_mcp") / "samples" / BOOK) as source:
        shutil.copyfile(source, book)
    rng = random.Random(2512)
    table = folder / TABLE
    causes = []
    with table.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "opened", "team", "status", "minutes_to_resolve", "summary"])
        for i in range(1, TICKETS + 1):
            cause = rng.choice(sorted(SUMMARIES))
            team = LIKELY_TEAM[cause] if rng.random() < 0.6 else rng.choice(TEAMS)
            status = rng.choices(STATUSES, weights=(3, 8, 2, 1))[0]
            minutes = int(rng.lognormvariate(4, 1)) + 1
            opened = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            writer.writerow([i, opened, team, status, minutes, rng.choice(SUMMARIES[cause])])
            causes.append(cause)
    return book, table, causes


def label_records(claim: jobs.TaskClaim) -> dict[str, Any]:
    """The scripted rlm-data-analyzer on a projected task: one label per record from the text the task
    shows (no counting: the server derives counts from labels), one finding quoting its evidence."""
    assert claim.records is not None, "a projected task holds records"
    labels: dict[str, str] = {}
    first: tuple[int, str, str] | None = None
    for record, line in claim.records.lines:
        text = line.lower()
        cause = next(c for c, words in CLUES.items() if any(w in text for w in words))
        labels[str(record)] = cause
        first = first or (record, line.split(" | ")[-1], cause)
    findings = []
    if first is not None:
        record, quote, cause = first
        findings.append(
            {"title": f"{cause} ticket", "detail": f"record {record} reads as {cause}", "evidence": quote,
             "record": record, "tags": [cause]}
        )  # fmt: skip
    return {"findings": findings, "relevance": "high", "labels": {DIMENSION: labels}}


def read_tickets(table: Path) -> list[dict[str, str]]:
    with table.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def step(title: str, answer: Answer | str, lines: int = 14) -> None:
    text = answer if isinstance(answer, str) else render(answer)
    shown = text.splitlines()
    more = f"\n  … ({len(shown) - lines} more lines)" if len(shown) > lines else ""
    print(f"\n== {title}\n" + "\n".join(shown[:lines]) + more)


def check(what: str, exact: bool) -> bool:
    print(f"== check: {what}: {'yes' if exact else 'NO'}")
    return exact


def run_demo(args: argparse.Namespace, context: Workspace) -> int:
    store, settings = context.store, context.settings
    book, table, causes = write_samples(settings.db_path.parent / "demo")
    loaded = [loading.load_document(store, settings, str(path)) for path in (book, table)]
    book_id, table_id = (result.documents[0].id for result in loaded)
    step(
        "load_document (a book and a CSV; the CSV's profile and columnar copy are made at load)",
        "\n".join(r.to_text() for r in loaded),
    )
    step("embeddings (bundled all-MiniLM-L6-v2 int8, offline)", embed_now(context))
    search_both(context, book_id, table_id)
    rows = read_tickets(table)
    exact = exact_answers(context, table_id, rows)
    exact &= labelling_job(context, table_id, rows, causes)
    if not args.keep:
        for doc_id in (book_id, table_id):
            documents.remove_document(store, doc_id)
        print(f"(the sample documents were removed again; --keep keeps them in {settings.db_path})")
    print(
        "\nNext: `claude mcp add rlm -- rlm-mcp serve`, then ask Claude to analyse your own files (README)."
    )
    return 0 if exact else 1


def search_both(context: Workspace, book_id: int, table_id: int) -> None:
    store, settings = context.store, context.settings
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


def query_step(context: Workspace, sql: str, document_id: int, lines: int = 14) -> data.QueryResult:
    result = data.query(data.open_copy(context.settings, context.store), sql, [document_id])
    step(f"query_data: {sql}", result, lines)
    return result


def sample_questions(view: str) -> dict[str, str]:
    """The demo's questions for query_data ({name: SQL}), from samples/tickets_questions.sql."""
    text = (resources.files("rlm_mcp") / "samples" / QUESTIONS).read_text(encoding="utf-8")
    questions: dict[str, str] = {}
    for block in text.split("-- name: ")[1:]:
        name, _, sql = block.partition("\n")
        questions[name.strip()] = " ".join(sql.split()).rstrip(";").format(view=view)
    return questions


def exact_answers(context: Workspace, table_id: int, rows: list[dict[str, str]]) -> bool:
    """Counts, a sum and top values by SQL over the columnar copy: no analyst, no tokens, exact."""
    print("\n== Exact answers first: what code can count is query_data's, not a job's")
    questions = sample_questions(f"d{table_id}")
    totals, statuses, slowest = (
        query_step(context, questions[name], table_id) for name in ("totals", "statuses", "slowest_teams")
    )
    minutes = [int(r["minutes_to_resolve"]) for r in rows]
    by_team = Counter(r["team"] for r in rows)
    slowest_direct = sorted(
        ((t, by_team[t], max(int(r["minutes_to_resolve"]) for r in rows if r["team"] == t)) for t in by_team),
        key=lambda x: (-x[2], x[0]),
    )[:3]
    return check(
        f"query_data's count, sum, status counts and slowest teams equal a direct reading of {TABLE}",
        [tuple(map(int, totals.rows[0]))] == [(len(rows), sum(minutes))]
        and {s: int(n) for s, n in statuses.rows} == dict(Counter(r["status"] for r in rows))
        and [(t, int(n), int(m)) for t, n, m in slowest.rows] == slowest_direct,
    )


def labelling_job(context: Workspace, table_id: int, rows: list[dict[str, str]], causes: list[str]) -> bool:
    """A projected job: only the summary column of the escalated tickets, a fixed vocabulary; the
    analyst labels records, synthesize counts the labels, query_data cross-tabs them."""
    store, settings = context.store, context.settings
    plan = jobs.create_job(
        store, settings, QUESTION, [f"d{table_id}"], columns=["summary"], where=WHERE,
        dimensions={DIMENSION: sorted(SUMMARIES)},
    )  # fmt: skip
    step(
        f"create_job (projected: columns=['summary'], where={WHERE!r}, dimensions={{{DIMENSION!r}: "
        f"{sorted(SUMMARIES)}}})",
        plan,
    )
    done = labelled = 0
    while (claim := jobs.claim_task(store, plan.job_id, WORKER)).task_id is not None:
        if done == 0:
            step(f"claim_task (what the analyst reads: t{claim.task_id}'s records)", claim, 12)
        answer = label_records(claim)
        jobs.submit_findings(store, claim.task_id, WORKER, settings=settings, **answer)
        done, labelled = done + 1, labelled + len(answer["labels"][DIMENSION])
    synthesized = synthesize_with_report(store, settings, plan.job_id)
    step(
        f"the scripted analyst labelled {labelled} records in {done} task(s) (labels, no counts); synthesize",
        synthesized,
        30,
    )
    print(f"\n== report: {synthesized.report} (open it in a browser; `rlm-mcp report` writes it again)")
    print("\n== the cross-tab synthesize suggests, with <column> = team: labels joined to raw columns")
    job, view = f"j{plan.job_id}", f"d{table_id}"
    hint = data.crosstab_hint(job, view, DIMENSION)  # the call synthesize's answer names
    sql = hint.removeprefix('query_data("').removesuffix('")').replace("<column>", "team")
    cross = query_step(context, sql, table_id, 24)
    escalated = [n for n, r in enumerate(rows) if r["status"] == "escalated"]
    return check(
        f"the label distribution and the cross-tab equal the causes {TABLE} was generated from",
        synthesized.counts.get(DIMENSION) == dict(Counter(causes[n] for n in escalated))
        and {(c, t): int(n) for c, t, n in cross.rows}
        == dict(Counter((causes[n], rows[n]["team"]) for n in escalated)),
    )


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


__all__ = ["label_records", "read_tickets", "register", "write_samples"]
