"""Projected jobs, fixed dimensions and per-record labels, through a real load, DuckDB and Parquet.

The analyst is scripted (it knows each record's true label); what is tested is the server: which
records a task holds, what it refuses, and that every number it derives equals a direct count of
the generated source file.
"""

import csv
import json
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from rlm_mcp import data, jobs
from rlm_mcp.config import Settings
from rlm_mcp.errors import InvalidInput, NotFound, RlmError
from rlm_mcp.loading import load_document
from rlm_mcp.server import create_server
from rlm_mcp.store import Store
from rlm_mcp.synthesis import synthesize

from .conftest import project_env

pytestmark = pytest.mark.backends

CAUSES = ("auth", "network", "disk")
STATUSES = ("open", "closed", "pending")


def _tickets(path: Path, rows: int, filler_columns: int = 0, seed: int = 7) -> list[dict[str, Any]]:
    """A ticket export: id, status, fiscal year, priority, a note that names its root cause, and
    filler columns; returns the records as written (record n = data row n)."""
    rng = random.Random(seed)
    filler = [f"f{i}" for i in range(filler_columns)]
    records = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["ticket", "status", "fiscal_year", "priority", "note", *filler])
        for n in range(1, rows + 1):
            record = {
                "ticket": f"T{n}",
                "status": rng.choice(STATUSES),
                "fiscal_year": rng.choice((2023, 2024, 2025)),
                "priority": rng.choice(("p1", "p2", "p3")),
                "cause": rng.choice(CAUSES),
            }
            record["note"] = f"customer says the {record['cause']} issue is back, case {n}"
            records.append(record)
            writer.writerow(
                [record["ticket"], record["status"], record["fiscal_year"], record["priority"],
                 record["note"], *(rng.randint(0, 9) for _ in filler)]
            )  # fmt: skip
    return records


def _label_all(store: Store, job_id: int, truth: list[dict[str, Any]], worker: str = "w") -> int:
    """A scripted analyst: claims every task and labels each record with its true cause."""
    done = 0
    while (claim := jobs.claim_task(store, job_id, worker)).task_id is not None:
        assert claim.records is not None
        labels = {str(n): truth[n - 1]["cause"] for n in claim.records.numbers()}
        first, line = claim.records.lines[0]
        finding = {"title": "a case", "evidence": line.split(" | ")[-1], "record": first}
        result = jobs.submit_findings(store, claim.task_id, worker, [finding], labels={"root_cause": labels})
        assert result.accepted and result.unverified == 0
        done += 1
    return done


@pytest.fixture
def tickets(store: Store, settings: Settings) -> list[dict[str, Any]]:
    truth = _tickets(settings.project_dir / "tickets.csv", 3000)
    load_document(store, settings, "tickets.csv")
    return truth


def test_a_wide_export_projected_to_four_columns_plans_at_most_five_tasks(
    store: Store, settings: Settings, backend: str
) -> None:
    """The 2,000 × 2,500 support export: a projected job reads 4 columns, not 2,500."""
    truth = _tickets(settings.project_dir / "wide.csv", 2000, filler_columns=2495)
    load_document(store, settings, "wide.csv")
    whole = jobs.create_job(store, settings, "status per fiscal year")
    projected = jobs.create_job(
        store, settings, "root cause of each ticket", columns=["ticket", "status", "fiscal_year", "priority"]
    )
    assert whole.chunks == 2000 and whole.tasks >= 100
    assert projected.tasks <= 5 and projected.records == 2000
    assert projected.tokens * 20 < whole.tokens
    served = []
    while (claim := jobs.claim_task(store, projected.job_id, "w")).task_id is not None:
        assert claim.records is not None
        served += list(claim.records.numbers())
        text = claim.to_text()
        assert "f17" not in text and "| T" in text  # only the projected columns travel
        assert len(text) < 40_000  # one tool result
        jobs.submit_findings(store, claim.task_id, "w", [], relevance="none")
    assert served == list(range(1, len(truth) + 1))  # every record once, in order


def test_labels_give_exact_counts_and_an_exact_cross_tab(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    plan = jobs.create_job(
        store, settings, "root cause of each open ticket", columns=["note"], where="status = 'open'",
        dimensions={"root_cause": list(CAUSES)},
    )  # fmt: skip
    open_tickets = [t for t in tickets if t["status"] == "open"]
    assert plan.records == len(open_tickets)
    assert _label_all(store, plan.job_id, tickets) == plan.tasks
    result = synthesize(store, plan.job_id)
    assert result.counts["root_cause"] == dict(Counter(t["cause"] for t in open_tickets))
    assert result.labels["root_cause"]["records"] == len(open_tickets)
    assert result.coverage.records_done == result.coverage.records_total == len(open_tickets)
    text = result.to_text()
    assert "root_cause (fixed vocabulary" in text and "labels l JOIN d1" in text
    cross = data.query(
        data.open_copy(settings, store),
        f"SELECT l.value, d.fiscal_year, count(*) FROM labels l JOIN d1 d ON d.record = l.record "
        f"WHERE l.job_id = 'j{plan.job_id}' AND l.dimension = 'root_cause' GROUP BY ALL",
    )
    got = {(v, int(y)): int(n) for v, y, n in cross.rows}
    assert got == dict(Counter((t["cause"], t["fiscal_year"]) for t in open_tickets))


def test_an_open_vocabulary_lists_the_values_that_emerged(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    plan = jobs.create_job(store, settings, "cause?", columns=["note"], where="fiscal_year = 2024",
                           dimensions=["root_cause"])  # fmt: skip
    _label_all(store, plan.job_id, tickets)
    text = synthesize(store, plan.job_id).to_text()
    assert "open vocabulary, 3 values emerged" in text


def test_submissions_of_the_wrong_shape_are_refused_with_the_right_shape(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    plan = jobs.create_job(store, settings, "cause?", columns=["note"], where="priority = 'p1'",
                           dimensions={"root_cause": list(CAUSES)})  # fmt: skip
    claim = jobs.claim_task(store, plan.job_id, "w")
    assert claim.records is not None and claim.task_id is not None
    numbers = list(claim.records.numbers())
    outsider = next(n for n in range(1, 3001) if n not in set(numbers))
    good = {str(n): tickets[n - 1]["cause"] for n in numbers}
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "a label for a record outside the task": (
            {"labels": {"root_cause": {**good, str(outsider): "auth"}}},
            f"records {outsider} are not in this task",
        ),
        "a value outside the vocabulary": (
            {"labels": {"root_cause": {**good, str(numbers[0]): "cosmic rays"}}},
            "not in the vocabulary",
        ),
        "a missing record": (
            {"labels": {"root_cause": dict(list(good.items())[1:])}},
            f"have no label ({numbers[0]})",
        ),
        "another dimension": ({"labels": {"mood": good}}, "not a dimension of this job"),
        "counts by another key": (
            {"counts": {"status": {"open": len(numbers)}}},
            "not a dimension of this job",
        ),
        "counts that do not add up": (
            {"counts": {"root_cause": {"auth": 1}}},
            f"adds up to 1, but the task holds {len(numbers)}",
        ),
        "nested counts": ({"counts": {"root_cause": {"auth": {"2024": 1}}}}, "counts are integers"),
        "labels and counts for one dimension": (
            {"labels": {"root_cause": good}, "counts": {"root_cause": {"auth": len(numbers)}}},
            "not both",
        ),
        "nothing for a fixed dimension": ({}, "no labels or counts for 'root_cause'"),
    }
    for name, (args, message) in cases.items():
        with pytest.raises(InvalidInput) as refused:
            jobs.submit_findings(store, claim.task_id, "w", [], **args)
        assert message in str(refused.value), name
    conn = store.conn()
    assert conn.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
    assert conn.execute("SELECT state FROM tasks WHERE id = ?", (claim.task_id,)).fetchone()[0] == "claimed"
    # Counts that add up to the task's records are fine, and so is the right vocabulary in other case.
    shouted = {k: v.upper() for k, v in good.items()}
    first = jobs.submit_findings(store, claim.task_id, "w", [], labels={"root_cause": shouted})
    again = jobs.submit_findings(store, claim.task_id, "w", [], labels={"root_cause": shouted})
    assert first.accepted and again.duplicate
    stored = Counter(v for (v,) in conn.execute("SELECT value FROM labels"))
    assert stored == Counter(good.values())  # spelled as the vocabulary spells them, stored once


def test_a_text_where_makes_tasks_of_only_the_matching_lines(store: Store, settings: Settings) -> None:
    lines = [
        f"{n}: {'Pierre loves Natasha' if n % 7 == 0 else 'the army marched on'} at dawn"
        for n in range(1, 2001)
    ]
    (settings.project_dir / "novel.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_document(store, settings, "novel.txt")
    plan = jobs.create_job(
        store,
        settings,
        "what relationship does each sentence state?",
        where="regexp_matches(text, 'loves')",
        dimensions={"relation": ["love", "hate"]},
    )
    assert plan.records == 2000 // 7
    seen = []
    while (claim := jobs.claim_task(store, plan.job_id, "w")).task_id is not None:
        assert claim.records is not None and claim.records.key == "line"
        seen += list(claim.records.numbers())
        assert "army" not in claim.records.text
        finding = {"title": "love", "evidence": "Pierre loves Natasha", "record": seen[-1]}
        result = jobs.submit_findings(
            store, claim.task_id, "w", [finding],
            labels={"relation": {str(n): "love" for n in claim.records.numbers()}},
        )  # fmt: skip
        assert result.unverified == 0
    assert seen == [n for n in range(1, 2001) if n % 7 == 0]
    result = synthesize(store, plan.job_id)
    assert result.counts == {"relation": {"love": 2000 // 7}}
    lines_cited = [f.line for _, items, _ in result.page.themes for f in items]
    assert lines_cited and all(line is not None and line % 7 == 0 for line in lines_cited)


def test_a_table_chunk_job_with_dimensions_checks_totals_against_its_rows(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    plan = jobs.create_job(store, settings, "status counts", dimensions=["status"])
    claim = jobs.claim_task(store, plan.job_id, "w")
    assert claim.task_id is not None and claim.record_count and claim.records is None
    assert "add up to exactly" in claim.to_text()
    with pytest.raises(InvalidInput, match="adds up to 1"):
        jobs.submit_findings(store, claim.task_id, "w", [], counts={"status": {"open": 1}})
    first = claim.chunks[0].location  # "... rows a-b ..."
    assert "rows" in first
    row_numbers = [n for c in claim.chunks for n in range(*_rows(c.location))]
    counted = Counter(tickets[n - 1]["status"] for n in row_numbers)
    result = jobs.submit_findings(store, claim.task_id, "w", [], counts={"status": dict(counted)})
    assert result.accepted


def _rows(location: str) -> tuple[int, int]:
    part = location.split("rows ")[1].split(",")[0].split(" ")[0]
    a, b = part.split("-")
    return int(a), int(b) + 1


def test_a_reload_under_a_projected_job_fails_its_tasks_with_the_reason(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    plan = jobs.create_job(store, settings, "cause?", columns=["note"], where="status = 'closed'")
    _tickets(settings.project_dir / "tickets.csv", 3000, seed=99)  # every row's content changes
    load_document(store, settings, "tickets.csv")
    claim = jobs.claim_task(store, plan.job_id, "w")
    assert claim.task_id is None and claim.skipped
    assert "create_job again" in claim.skipped[0]
    status = jobs.job_status(store, plan.job_id)
    assert status.tasks["failed"] == plan.tasks and status.coverage.records_done == 0


def test_bad_projections_are_clear_errors_and_plan_nothing(
    store: Store, settings: Settings, tickets: list[dict[str, Any]]
) -> None:
    (settings.project_dir / "tool.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    load_document(store, settings, "tool.py")
    cases = {
        "no such column": ({"columns": ["stauts"]}, "No column 'stauts'"),
        "a where that reads a file": (
            {"where": "note IN (SELECT * FROM read_csv('/etc/passwd'))"},
            "Refused",
        ),
        "two statements": ({"where": "true; DROP TABLE x"}, ""),
        "nothing matches": ({"where": "status = 'lost'"}, "No record of d1"),
        "a document without a copy": ({"document_ids": ["d2"], "columns": ["x"]}, "has no columnar copy"),
        "a bad vocabulary": ({"columns": ["note"], "dimensions": {"c": []}}, "non-empty list"),
        "a bad dimension": ({"columns": ["note"], "dimensions": {"": None}}, "short name"),
    }
    for name, (args, message) in cases.items():
        args.setdefault("document_ids", ["d1"])
        with pytest.raises(RlmError) as refused:
            jobs.create_job(store, settings, "q", **args)
        assert message in str(refused.value), name
        assert isinstance(refused.value, InvalidInput | NotFound)
    assert store.conn().execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_labels_on_a_prose_task_are_refused(store: Store, settings: Settings) -> None:
    (settings.project_dir / "memo.md").write_text(
        "# Memo\n\nThe auth outage lasted an hour.\n", encoding="utf-8"
    )
    load_document(store, settings, "memo.md")
    plan = jobs.create_job(store, settings, "what happened?")
    claim = jobs.claim_task(store, plan.job_id, "w")
    assert claim.task_id is not None
    with pytest.raises(InvalidInput, match="holds no numbered records"):
        jobs.submit_findings(store, claim.task_id, "w", [], labels={"cause": {"1": "auth"}})


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["in-process", "stdio"])
async def test_the_loop_over_mcp_with_projection_and_labels(
    project: Path,
    settings: Settings,
    tickets_file: list[dict[str, Any]],
    transport: str,
    backend_env: dict[str, str],
) -> None:
    truth = tickets_file
    server = (
        create_server(settings)
        if transport == "in-process"
        else StdioServerParameters(
            command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=project_env(project, **backend_env)
        )
    )
    async with Client(server) as client:
        await client.call_tool("load_document", {"path": "tickets.csv"})
        made = await client.call_tool("create_job", {
            "query": "root cause?", "document_ids": "d1", "columns": '["note", "status"]',
            "where": "fiscal_year = 2025", "dimensions": '{"root_cause": ["auth", "network", "disk"]}',
            "response_format": "json",
        })  # fmt: skip
        assert not made.is_error, made.content[0].text
        plan = json.loads(made.content[0].text)
        assert plan["columns"] == ["note", "status"] and plan["dimensions"]["root_cause"] == list(CAUSES)
        while True:
            got = await client.call_tool(
                "claim_task", {"job_id": plan["job_id"], "worker": "w", "response_format": "json"}
            )
            claim = json.loads(got.content[0].text)
            if claim["task_id"] is None:
                break
            numbers = [int(line.split(" | ")[0][1:]) for line in claim["records"]["text"].splitlines()]
            assert claim["record_count"] == len(numbers) and claim["dimensions"]
            labels = {str(n): truth[n - 1]["cause"] for n in numbers}
            sent = await client.call_tool("submit_findings", {
                "task_id": claim["task_id"], "worker": "w", "findings": [],
                "labels": json.dumps({"root_cause": labels}),
            })  # fmt: skip
            assert not sent.is_error, sent.content[0].text
        out = await client.call_tool("synthesize", {"job_id": plan["job_id"], "response_format": "json"})
        result = json.loads(out.content[0].text)
        expected = Counter(t["cause"] for t in truth if t["fiscal_year"] == 2025)
        assert result["counts"]["root_cause"] == dict(expected)
        assert result["coverage"]["records"] == {"done": expected.total(), "total": expected.total()}


@pytest.fixture
def tickets_file(project: Path) -> list[dict[str, Any]]:
    return _tickets(project / "tickets.csv", 1500)


def test_a_search_with_a_projection_keeps_only_the_records_of_the_chunks_found(
    store: Store, settings: Settings, tickets: list[dict[str, Any]], backend: str
) -> None:
    plan = jobs.create_job(store, settings, "disk cases?", search="disk issue", top_k=5, columns=["note"])
    conn = store.conn()
    found = conn.execute(
        "SELECT c.start_row, c.end_row FROM task_chunks tc JOIN chunks c ON c.id = tc.chunk_id"
    ).fetchall()
    assert 0 < len(found) <= 5
    rows = {n for a, b in found for n in range(a, b + 1)}
    served = []
    while (claim := jobs.claim_task(store, plan.job_id, "w")).task_id is not None:
        assert claim.records is not None
        served += list(claim.records.numbers())
        jobs.submit_findings(store, claim.task_id, "w", [])
    assert sorted(served) == sorted(rows) and plan.records == len(rows)
