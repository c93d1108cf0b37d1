"""Re-runs pay only for what changed: a planned task whose work an earlier job did is born done.

Real loads (CSV, code directory), the real store and columnar copy; the analysts are scripted (they
count the rows they are given, or label each record with its true value). What is tested is which
tasks are planned to run again, and that every number the merged job gives equals a direct count of
the current file.
"""

import csv
import io
import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp import data, jobs
from rlm_mcp.config import Settings
from rlm_mcp.errors import InvalidInput
from rlm_mcp.jobs import reuse
from rlm_mcp.loading import load_document
from rlm_mcp.report import build_report, render_report
from rlm_mcp.store import Store
from rlm_mcp.synthesis import synthesize

from .test_jobs_cli import rlm

pytestmark = pytest.mark.backends

CAUSES = ("auth", "network", "disk")
STATUSES = ("open", "closed", "pending")


def _tickets(path: Path, rows: int, seed: int = 11) -> list[dict[str, Any]]:
    """A ticket export; the same seed gives the same first rows, so a longer file is an append."""
    rng = random.Random(seed)
    records = []
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["ticket", "status", "year", "note"])
        for n in range(1, rows + 1):
            cause = rng.choice(CAUSES)
            status, year = rng.choice(STATUSES), rng.choice((2024, 2025))
            note = f"customer says the {cause} issue is back, case {n}"
            record = {"ticket": f"T{n}", "status": status, "year": year, "cause": cause, "note": note}
            records.append(record)
            writer.writerow([record["ticket"], record["status"], record["year"], record["note"]])
    return records


def _count_rows(store: Store, job_id: int, worker: str = "w") -> list[list[int]]:
    """A scripted data analyst: counts the status of the rows in its chunks (never the header), quotes
    its first row; returns the rows (ticket numbers) each task it ran held."""
    held = []
    while (claim := jobs.claim_task(store, job_id, worker)).task_id is not None:
        statuses: Counter[str] = Counter()
        tickets = []
        for chunk in claim.chunks:
            for row in csv.reader(io.StringIO(chunk.text)):
                if row and row[0].startswith("T"):
                    statuses[row[1]] += 1
                    tickets.append(int(row[0][1:]))
        first = claim.chunks[0]
        finding = {"title": "first row", "evidence": first.text.splitlines()[0], "chunk_id": first.chunk_id}
        result = jobs.submit_findings(store, claim.task_id, worker, [finding], counts={"status": statuses})
        assert result.accepted and result.unverified == 0
        held.append(tickets)
    return held


def _label_all(store: Store, job_id: int, truth: list[dict[str, Any]], worker: str = "w") -> list[list[int]]:
    held = []
    while (claim := jobs.claim_task(store, job_id, worker)).task_id is not None:
        assert claim.records is not None
        numbers = list(claim.records.numbers())
        labels = {str(n): truth[n - 1]["cause"] for n in numbers}
        first, line = claim.records.lines[0]
        finding = {"title": "a case", "evidence": line.split(" | ")[-1], "record": first}
        result = jobs.submit_findings(store, claim.task_id, worker, [finding], labels={"root_cause": labels})
        assert result.accepted and result.unverified == 0
        held.append(numbers)
    return held


def test_appending_rows_runs_only_the_tasks_that_hold_them_and_counts_stay_exact(
    store: Store, settings: Settings
) -> None:
    _tickets(settings.project_dir / "t.csv", 5000)
    load_document(store, settings, "t.csv")
    first = jobs.create_job(store, settings, "How many tickets per status?")
    assert first.reused is not None and first.reused.tasks == 0 and first.to_run == first.tasks
    assert len(_count_rows(store, first.job_id)) == first.tasks
    truth = _tickets(settings.project_dir / "t.csv", 5100)
    load_document(store, settings, "t.csv")
    again = jobs.create_job(store, settings, "How many tickets per status?")
    assert again.reused is not None
    assert again.reused.from_jobs == {first.job_id: again.tasks - again.to_run}
    assert 1 <= again.to_run <= 2 and again.tasks >= 20
    text = again.to_text()
    assert f"{again.tasks} tasks: {again.tasks - again.to_run} reused from j{first.job_id}, " in text
    assert f"{again.to_run} to run" in text
    assert again.cost.tasks == again.to_run  # the cost counts only the tasks to run
    held = _count_rows(store, again.job_id)
    assert len(held) == again.to_run
    assert all(max(tickets) > 5000 for tickets in held)  # every task that ran holds new rows
    assert set(range(5001, 5101)) <= {t for tickets in held for t in tickets}
    result = synthesize(store, again.job_id)
    assert result.coverage.ratio == 1.0
    assert result.counts["status"] == dict(Counter(t["status"] for t in truth))
    assert f"reused from j{first.job_id}" in result.to_text()
    assert result.findings_total == again.tasks and result.unverified_total == 0
    reused = again.tasks - again.to_run
    assert f"{reused} of {again.tasks} tasks reused from j{first.job_id}" in result.to_text()
    report = build_report(store, again.job_id)
    assert report.reused == {first.job_id: reused}
    assert f"{reused} of {again.tasks} tasks reused from j{first.job_id}" in render_report(report)


def test_a_projected_job_carries_its_labels_over_and_the_cross_tab_is_exact(
    store: Store, settings: Settings
) -> None:
    _tickets(settings.project_dir / "t.csv", 3000)
    load_document(store, settings, "t.csv")
    ask = {"columns": ["note"], "where": "status = 'open'", "dimensions": {"root_cause": list(CAUSES)}}
    first = jobs.create_job(store, settings, "root cause of each open ticket", **ask)
    _label_all(store, first.job_id, _tickets(settings.project_dir / "t.csv", 3000))
    truth = _tickets(settings.project_dir / "t.csv", 3100)
    (doc,) = load_document(store, settings, "t.csv").documents
    again = jobs.create_job(store, settings, "root cause of each open ticket", **ask)
    assert again.reused is not None and again.reused.tasks == again.tasks - again.to_run >= 1
    assert again.to_run == 1
    assert again.reused.findings == again.reused.tasks and again.reused.unverified == 0  # re-checked
    held = _label_all(store, again.job_id, truth)
    assert len(held) == 1 and max(held[0]) > 3000
    open_tickets = [t for t in truth if t["status"] == "open"]
    assert again.reused.labels == len(open_tickets) - len(held[0])  # every other label carried over
    result = synthesize(store, again.job_id)
    assert result.counts["root_cause"] == dict(Counter(t["cause"] for t in open_tickets))
    assert result.labels["root_cause"]["records"] == len(open_tickets)
    assert result.coverage.records_done == result.coverage.records_total == len(open_tickets)
    cross = data.query(
        data.open_copy(settings, store),
        f"SELECT l.value, d.year, count(*) FROM labels l JOIN d{doc.id} d ON d.record = l.record "
        f"WHERE l.job_id = 'j{again.job_id}' AND l.document_id = 'd{doc.id}' GROUP BY ALL",
    )
    got = {(v, int(y)): int(n) for v, y, n in cross.rows}
    assert got == dict(Counter((t["cause"], t["year"]) for t in open_tickets))


def _module(index: int, functions: int, changed: int | None = None) -> str:
    parts = ["import os\n"]
    for f in range(functions):
        body = f"    total = {index} * {f}\n    return os.path.join(str(total), 'f{f}')\n"
        if f == changed:
            body = "    # the fix: totals may be negative\n" + body.replace(
                "return", "total = abs(total)\n    return"
            )
        parts.append(f"\n\ndef handler_{index}_{f}(x):\n    '''Handle case {f} of module {index}.'''\n{body}")
    return "".join(parts)


def _review(store: Store, job_id: int) -> list[list[int]]:
    """A scripted code analyst: one finding per task quoting its first line; returns the chunk ids."""
    held = []
    while (claim := jobs.claim_task(store, job_id, "w")).task_id is not None:
        first = claim.chunks[0]
        quote = next(line for line in first.text.splitlines() if line.strip())
        finding = {"title": "a handler", "evidence": quote, "chunk_id": first.chunk_id}
        assert jobs.submit_findings(store, claim.task_id, "w", [finding]).unverified == 0
        held.append([c.chunk_id for c in claim.chunks])
    return held


def test_one_changed_function_of_a_code_directory_runs_only_its_task(
    store: Store, settings: Settings
) -> None:
    src = settings.project_dir / "src"
    src.mkdir()
    for i in range(8):
        (src / f"m{i}.py").write_text(_module(i, 30))
    load_document(store, settings, "src")
    first = jobs.create_job(store, settings, "Which handlers mishandle negative totals?", task_tokens=1000)
    assert first.tasks >= 10
    _review(store, first.job_id)
    (src / "m5.py").write_text(_module(5, 30, changed=17))
    load_document(store, settings, "src")
    again = jobs.create_job(store, settings, "Which handlers mishandle negative totals?", task_tokens=1000)
    assert again.to_run == 1 and again.reused is not None and again.reused.tasks == again.tasks - 1
    with store.read() as conn:
        (changed,) = conn.execute("SELECT id FROM chunks WHERE text LIKE '%the fix%'").fetchone()
    held = _review(store, again.job_id)
    assert len(held) == 1 and changed in held[0]  # the task that ran is the changed function's
    assert synthesize(store, again.job_id).coverage.ratio == 1.0


def test_a_changed_question_or_reuse_none_reuses_nothing(store: Store, settings: Settings) -> None:
    _tickets(settings.project_dir / "t.csv", 1000)
    load_document(store, settings, "t.csv")
    first = jobs.create_job(store, settings, "How many tickets per status?")
    _count_rows(store, first.job_id)
    same = jobs.create_job(store, settings, "  how many tickets   per status? ")  # normalized: the same
    assert same.reused is not None and same.to_run == 0 and same.reused.tasks == same.tasks
    assert "nothing to run" in same.to_text()
    other = jobs.create_job(store, settings, "How many tickets per year?")
    assert other.reused is not None and other.reused.tasks == 0 and other.to_run == other.tasks
    none = jobs.create_job(store, settings, "How many tickets per status?", reuse="none")
    assert none.reused is not None and none.reused.tasks == 0 and none.to_run == none.tasks
    dims = jobs.create_job(store, settings, "How many tickets per status?", dimensions=["status"])
    assert dims.reused is not None and dims.reused.tasks == 0
    other_analyst = jobs.create_job(
        store, settings, "How many tickets per status?", analyst="rlm-chunk-analyzer"
    )
    assert other_analyst.reused is not None and other_analyst.reused.tasks == 0
    with pytest.raises(InvalidInput, match="reuse='maybe' is not known"):
        jobs.create_job(store, settings, "How many tickets per status?", reuse="maybe")


def test_a_reused_finding_whose_quote_no_longer_occurs_is_flagged(store: Store, settings: Settings) -> None:
    _tickets(settings.project_dir / "t.csv", 1000)
    load_document(store, settings, "t.csv")
    first = jobs.create_job(store, settings, "How many tickets per status?")
    _count_rows(store, first.job_id)
    # The text under one quoted chunk changes while its hash (and so every work key) stays: the
    # re-check against the current text is what catches it.
    with store.write() as conn:
        (chunk_id, evidence) = conn.execute(
            "SELECT chunk_id, evidence FROM findings WHERE job_id = ? ORDER BY id LIMIT 1", (first.job_id,)
        ).fetchone()
        conn.execute("UPDATE chunks SET text = replace(text, ?, 'T0,gone,0,rewritten') WHERE id = ?",
                     (evidence, chunk_id))  # fmt: skip
    again = jobs.create_job(store, settings, "How many tickets per status?")
    assert again.reused is not None and again.to_run == 0
    assert again.reused.unverified == 1 and again.reused.findings == again.tasks
    assert "1 of" in again.to_text() and "marked unverified" in again.to_text()
    result = synthesize(store, again.job_id)
    assert result.unverified_total == 1


def test_gc_prunes_old_finished_work_no_job_references_and_says_what(
    store: Store, settings: Settings, project: Path, backend_env: dict[str, str]
) -> None:
    _tickets(settings.project_dir / "t.csv", 600)
    load_document(store, settings, "t.csv")
    first = jobs.create_job(store, settings, "How many tickets per status?")
    _count_rows(store, first.job_id)
    again = jobs.create_job(store, settings, "How many tickets per status?")  # reuses first
    assert again.reused is not None and again.to_run == 0
    open_job = jobs.create_job(store, settings, "Which notes mention disk?")  # pending: kept
    later = time.time() + 10 * 86_400
    kept = jobs.prune_jobs(store, 30, clock=lambda: later)
    assert kept.jobs == () and "Nothing to remove" in kept.to_text()
    dry = jobs.prune_jobs(store, 5, dry_run=True, clock=lambda: later)
    assert [j.job_id for j in dry.jobs] == [again.job_id]  # first is referenced by again's reuse
    out = rlm(project, "gc", "--older-than", "0", "--json", env=backend_env)
    assert out.returncode == 0, out.stderr
    removed = json.loads(out.stdout)
    assert [r["job_id"] for r in removed["removed"]] == [f"j{again.job_id}"]
    assert removed["tasks"] == again.tasks and removed["findings"] == again.tasks
    text = rlm(project, "gc", "--older-than", "0", env=backend_env).stdout
    assert "Removed 1 job(s)" in text and f"j{first.job_id}" in text  # now nothing references it
    with store.read() as conn:
        left = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id")]
        assert conn.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
    assert left == [open_job.job_id]
    assert "Nothing to remove" in rlm(project, "gc", "--older-than", "0").stdout


def _waiting_on_a_lock(store: Store, backend: str, gc: threading.Thread) -> None:
    """Return once the gc thread waits for the reusing create_job's transaction (or has finished,
    which is the race this guards against: the test then fails on what gc removed)."""
    if backend == "sqlite":  # BEGIN IMMEDIATE waits in SQLite's busy handler, which nothing shows
        gc.join(timeout=1.0)
        return
    deadline = time.monotonic() + 30
    while gc.is_alive() and time.monotonic() < deadline:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        if store.conn().execute(sql).fetchone()[0]:
            return
        time.sleep(0.05)


def test_gc_waits_for_a_create_job_that_is_reusing_the_work_it_would_delete(
    store: Store, settings: Settings, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tickets(settings.project_dir / "t.csv", 600)
    load_document(store, settings, "t.csv")
    first = jobs.create_job(store, settings, "How many tickets per status?")
    _count_rows(store, first.job_id)
    reusing, go = threading.Event(), threading.Event()
    original = reuse.attach_reused

    def attach_then_wait(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        reusing.set()  # first's work is copied, the transaction is open: gc runs now
        assert go.wait(60)

    monkeypatch.setattr(reuse, "attach_reused", attach_then_wait)
    planned: list[Any] = []
    create = threading.Thread(
        target=lambda: planned.append(jobs.create_job(store, settings, "How many tickets per status?"))
    )
    create.start()
    assert reusing.wait(60)
    later = time.time() + 10 * 86_400
    pruned: list[Any] = []
    gc = threading.Thread(target=lambda: pruned.append(jobs.prune_jobs(store, 5, clock=lambda: later)))
    gc.start()
    _waiting_on_a_lock(store, backend, gc)
    go.set()
    create.join(60)
    gc.join(60)
    again = planned[0]
    assert again.reused is not None and again.to_run == 0
    # gc ran after the create_job committed: first is referenced by again's reuse and stays
    assert [j.job_id for j in pruned[0].jobs] == [again.job_id]
    with store.read() as conn:
        left = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id")]
        done = conn.execute("SELECT count(*) FROM tasks WHERE job_id = ? AND state = 'done'", (first.job_id,))
        assert done.fetchone()[0] == first.tasks
    assert left == [first.job_id]
