"""What a Claude Code user runs into around jobs: finding them again, scoping by folder, folding that
keeps distinct items, one message while only claimed tasks remain, plan cost and per-task telemetry."""

import json
import math
from pathlib import Path

import pytest
from mcp import Client

from rlm_mcp import jobs
from rlm_mcp.config import Settings
from rlm_mcp.errors import NotFound
from rlm_mcp.jobs import claiming as tasks
from rlm_mcp.jobs import planning, plans, progress
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import modes as search
from rlm_mcp.server import create_server
from rlm_mcp.store import Store, open_store
from rlm_mcp.store.rows import RatedFinding
from rlm_mcp.synthesis import merge as synthesis
from rlm_mcp.synthesis.folding import fold_findings

from .fakes import FakeClock
from .jobs_support import add_document


def _tree(project: Path) -> None:
    """src/ with 7 Python files (one nested), docs/ with a note, and a CSV at the top."""
    for i in range(6):
        path = project / "src" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"def handler_{i}(request):\n    return 'token rotation {i}'\n", encoding="utf-8")
    (project / "src" / "deep").mkdir()
    (project / "src" / "deep" / "inner.py").write_text("def inner():\n    return 'token rotation'\n")
    (project / "docs").mkdir()
    (project / "docs" / "note.md").write_text("# Note\n\nThe token rotation policy is yearly.\n")
    (project / "sales.csv").write_text("id,token\n" + "".join(f"{i},token rotation\n" for i in range(50)))


def _scoped_documents(store: Store, job: str) -> set[str]:
    with store.read() as conn:
        rows = conn.execute(
            "SELECT DISTINCT d.name FROM task_chunks tc JOIN tasks t ON t.id = tc.task_id "
            "JOIN documents d ON d.id = tc.document_id WHERE t.job_id = ?",
            (int(job[1:]),),
        ).fetchall()
    return {r[0] for r in rows}


def test_path_scopes_jobs_and_searches_to_a_folder_or_a_glob(
    project: Path, store: Store, settings: Settings
) -> None:
    _tree(project)
    loaded = load_document(store, settings, ".")
    assert len(loaded.documents) == 9
    under_src = {f"src/mod{i}.py" for i in range(6)} | {"src/deep/inner.py"}
    for path in ("src", "src/", "./src/", str(project / "src"), "src/**/*.py", "**/*.py"):
        plan = jobs.create_job(store, settings, "token handling", path=path)
        assert _scoped_documents(store, f"j{plan.job_id}") == under_src, path
    plan = jobs.create_job(store, settings, "token handling", path="src/*.py")  # `*` stays in one folder
    assert _scoped_documents(store, f"j{plan.job_id}") == under_src - {"src/deep/inner.py"}
    hits = search.search_chunks(store, settings, "token rotation", "bm25", top_k=50, path="docs/").hits
    assert hits and {h.document_id for h in hits} == {
        d.id for d in loaded.documents if d.name == "docs/note.md"
    }
    csv = next(d.id for d in loaded.documents if d.name == "sales.csv")
    both = jobs.create_job(store, settings, "q", document_ids=f"d{csv}", path="*.csv")  # a bare string id
    assert _scoped_documents(store, f"j{both.job_id}") == {"sales.csv"}
    with pytest.raises(NotFound, match="No loaded document matches path 'lib/'"):
        jobs.create_job(store, settings, "q", path="lib/")
    with pytest.raises(NotFound, match="is under path"):
        search.search_chunks(store, settings, "token", "bm25", document_ids=[f"d{csv}"], path="src/")


def test_a_directory_load_never_drops_document_ids_silently(
    project: Path, store: Store, settings: Settings
) -> None:
    _tree(project)
    text = load_document(store, settings, "src").to_text()
    (next_line,) = [line for line in text.splitlines() if line.startswith("Next:")]
    assert "path='src/'" in next_line and "7 documents" in next_line, next_line
    small = load_document(store, settings, "docs").to_text()
    assert "document_ids=['d8']" in small


@pytest.mark.anyio
async def test_list_jobs_finds_jobs_again_and_status_shows_the_open_ones(
    project: Path, settings: Settings
) -> None:
    (project / "a.txt").write_text("\n\n".join(f"paragraph {i} about harbours" for i in range(30)))
    async with Client(create_server(settings)) as client:
        await client.call_tool("load_document", {"path": "a.txt"})
        for q in ("first question", "second question"):
            await client.call_tool("create_job", {"query": q})
        listed = await client.call_tool("list_jobs", {"response_format": "json"})
        data = json.loads(listed.content[0].text)
        assert [j["job_id"] for j in data["jobs"]] == ["j2", "j1"] and data["total"] == 2
        assert set(data["jobs"][0]) >= {"job_id", "query", "tasks", "coverage"}
        assert data["jobs"][0]["query"] == "second question"
        assert data["jobs"][0]["coverage"] == {"done": 0, "total": data["jobs"][0]["coverage"]["total"],
                                               "ratio": 0.0}  # fmt: skip
        status = (await client.call_tool("status", {})).content[0].text
        assert "Open jobs (2):" in status and "j2 · 0/" in status and "second question" in status
        missing = await client.call_tool("job_status", {"job_id": "j9"})
        text = missing.content[0].text
        assert missing.is_error and "list_jobs" in text and "rlm-mcp" not in text


def _claim_all(store: Store, job: str, worker: str) -> list[tasks.TaskClaim]:
    claims = []
    while (claim := tasks.claim_task(store, job, worker)).task_id is not None:
        claims.append(claim)
    return claims


def test_only_claimed_tasks_left_gets_one_message_with_the_lease_end(
    store: Store, settings: Settings
) -> None:
    add_document(store, "a", [f"event {i} in the harbour log " * 20 for i in range(6)])
    plan = jobs.create_job(store, settings, "events", task_tokens=500)
    job = f"j{plan.job_id}"
    claims = _claim_all(store, job, "w1")
    assert len(claims) == plan.tasks
    lease_end = plans.iso_utc(max(c.lease_expires_at or 0 for c in claims))
    status = jobs.job_status(store, job)
    result = synthesis.synthesize(store, job)
    empty = tasks.claim_task(store, job, "w2")
    expected = progress.Waiting(plan.tasks, max(c.lease_expires_at or 0 for c in claims)).message(job)
    assert lease_end in expected
    assert f"Next: {expected}" in status.to_text()
    assert result.to_text().endswith(f"Next: {expected}")
    assert "spawn analysts" not in result.to_text()
    assert result.to_json()["next"] == {"action": "wait", "job_id": job, "claimed": plan.tasks,
                                        "leases_end_by": lease_end}  # fmt: skip
    assert lease_end in empty.to_text() and empty.to_json()["waiting"]["leases_end_by"] == lease_end


def test_plan_cost_counts_analysts_rounds_and_their_growing_context(store: Store, settings: Settings) -> None:
    add_document(store, "big", [f"record {i}: " + "harbour ledger entry " * 60 for i in range(400)])
    plan = jobs.create_job(store, settings, "every ledger entry", task_tokens=1000)
    per_task = [1 for _ in range(plan.tasks)]
    assert len(per_task) == plan.tasks > planning.CONSENT_TASKS
    runs = math.ceil(plan.tasks / planning.TASKS_PER_AGENT)
    with store.read() as conn:
        tokens = [r[0] for r in conn.execute("SELECT tokens FROM tasks WHERE job_id = ? ORDER BY ordinal",
                                             (plan.job_id,))]  # fmt: skip
    expected = 0
    for start in range(0, len(tokens), planning.TASKS_PER_AGENT):
        context = planning.ANALYST_FIXED_TOKENS
        expected += context
        for t in tokens[start : start + planning.TASKS_PER_AGENT]:
            context += t + planning.TASK_FRAME_TOKENS
            expected += context
            context += planning.SUBMIT_TOKENS
            expected += context
    cost = plan.to_json()["cost"]
    assert cost["analysts"] == runs and cost["rounds"] == math.ceil(runs / planning.MAX_PARALLEL_AGENTS)
    assert cost["input_tokens"] == expected > planning.ANALYST_FIXED_TOKENS * runs + sum(tokens)
    assert plan.to_json()["needs_consent"] is True
    text = plan.to_text()
    assert f"~{expected:,} analyst input tokens" in text and "wait for their yes" in text
    assert "query_data" in text and "once the user agrees, spawn" in text
    small = jobs.create_job(store, settings, "q", search="record 7", top_k=3)
    assert not small.needs_consent and "LARGE JOB" not in small.to_text()


def test_each_task_records_what_it_handed_out_and_received_and_job_status_sums_it(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    _, chunk_ids = add_document(store, "a", [f"event {i} in the harbour log" for i in range(3)])
    plan = jobs.create_job(store, settings, "events", task_tokens=500, clock=clock)
    job = f"j{plan.job_id}"
    first = tasks.claim_task(store, job, "w1", clock=clock)
    clock.advance(400)  # the lease (300 s) expires: the task is claimed again
    jobs.job_status(store, job, clock=clock)
    second = tasks.claim_task(store, job, "w2", clock=clock)
    assert second.task_id == first.task_id and second.attempt == 2
    clock.advance(30)
    finding = {"title": "Event", "evidence": "event 1", "chunk_id": f"c{chunk_ids[1]}"}
    tasks.submit_findings(store, f"t{second.task_id}", "w2", [finding], summary="one event", clock=clock)
    sent = json.dumps([[finding], "one event", None, None, None, None])
    with store.read() as conn:
        row = conn.execute("SELECT * FROM tasks WHERE id = ?", (second.task_id,)).fetchone()
    assert row["served_chars"] == len(first.to_text()) + len(second.to_text())
    assert row["received_chars"] == len(sent) and row["received_tokens"] > 0
    assert row["completed_at"] - row["first_claimed_at"] == 430
    cost = jobs.job_status(store, job, clock=clock).to_json()["cost"]
    assert cost["served_chars"] == row["served_chars"] and cost["claims"] == 2
    assert cost["received_chars"] == len(sent) and cost["task_seconds"] == 430.0
    assert "handed out over 2 claim(s)" in synthesis.synthesize(store, job).to_text()


def _row(i: int, chunk: int, title: str, evidence: str) -> RatedFinding:
    return RatedFinding(i, i, chunk, title, "", evidence, True, None, None, None, (), (chunk,), "medium")


def test_folding_keeps_every_distinct_item_and_folds_only_the_same_one() -> None:
    same_title = [_row(i, i, "Deprecated API call", f"legacy_call_{i}(x) is used here") for i in range(1, 85)]
    assert len(fold_findings(same_title)) == 84
    twice = [
        _row(1, 10, "Hard-coded password", "password = 'hunter2'"),
        _row(2, 11, "Hard-coded password", "password = 'hunter2'"),  # the same quote, another task
        _row(3, 40, "Hard-coded password", "admin_password = 'swordfish'"),  # another item
        _row(4, 41, "Hard-coded admin password", "admin_password = 'swordfish' # TODO"),  # the same one
    ]
    folded = fold_findings(twice)
    assert sorted(f.citations for f in folded) == [(10, 11), (40, 41)]


def test_a_new_store_keeps_itself_out_of_git(tmp_path: Path) -> None:
    store = open_store(tmp_path / "project" / ".rlm" / "rlm.db")
    store.close()
    assert (tmp_path / "project" / ".rlm" / ".gitignore").read_text().splitlines()[-1] == "*"
    mine = tmp_path / "shared"
    mine.mkdir()
    (mine / ".gitignore").write_text("keep.me\n")
    open_store(mine / "rlm.db").close()
    assert (mine / ".gitignore").read_text() == "keep.me\n"  # a user's own file is never touched
