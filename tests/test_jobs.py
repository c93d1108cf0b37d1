"""Jobs: planning tasks over chunks, leases, failures, status, persistence across processes."""

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from rlm_mcp import jobs
from rlm_mcp.answers import render
from rlm_mcp.chunking import CONTENT_TYPES
from rlm_mcp.config import Settings
from rlm_mcp.errors import InvalidInput, NotFound
from rlm_mcp.jobs import analysts, planning, plans
from rlm_mcp.jobs import claiming as tasks
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store, open_backend
from rlm_mcp.synthesis import merge as synthesis

from .fakes import FakeClock
from .jobs_support import add_document, delete_document

pytestmark = pytest.mark.backends

LINE = "The harbour master logged {i} ships and one storm warning near the pier."


def _texts(n: int, size: int = 400) -> list[str]:
    return [(LINE.format(i=i) + " ") * (size // len(LINE)) for i in range(n)]


def test_full_coverage_groups_consecutive_chunks_within_the_token_budget(
    store: Store, settings: Settings
) -> None:
    texts = _texts(100, 2000)
    _, ids = add_document(store, "log.txt", texts)
    expected, used = 1, 0
    # greedy: a task takes chunks while they fit; past CUT_FILL it also ends at a cut point, and the
    # last chunk of a document longer than two tasks starts a task of its own
    for i, text in enumerate(texts):
        size = planning.chunk_tokens(len(text))
        if used and (used + size > 2000 or i == len(texts) - 1):
            expected, used = expected + 1, 0
        used += size
        if used >= 2000 * planning.CUT_FILL and planning.is_cut_point(
            hashlib.sha256(text.encode()).hexdigest()
        ):
            expected, used = expected + 1, 0
    expected -= used == 0  # a cut after the last chunk opens no task
    plan = jobs.create_job(store, settings, "storms?", task_tokens=2000)
    assert plan.chunks == 100 and plan.tasks == expected and plan.analysts == {analysts.CHUNK: expected}
    covered: list[int] = []
    while (claim := tasks.claim_task(store, plan.job_id, "w")).task_id is not None:
        assert sum(planning.chunk_tokens(len(c.text)) for c in claim.chunks) <= 2000
        covered += [c.chunk_id for c in claim.chunks]
    assert covered == ids  # every chunk once, in document order


def test_no_task_exceeds_the_hard_limit_and_small_documents_share_tasks(
    store: Store, settings: Settings
) -> None:
    for i in range(30):
        add_document(store, f"f{i}.py", [f"def f{i}():\n    return {i}\n"], content_type="code")
    add_document(store, "big.csv", _texts(40, 1900), content_type="csv", context="a,b,c")
    plan = jobs.create_job(store, settings, "bugs?")
    # 40 CSV chunks of ~1,000 tokens: at least 4 full tasks plus the last chunk's own (planning.SPAN_TASKS);
    # content-defined cut points (past 60 % of the budget) may end a few tasks earlier
    assert plan.analysts[analysts.CODE] == 1 and 5 <= plan.analysts[analysts.DATA] <= 8
    assert plan.to_json()["spawn"] == [
        {"agent": analysts.CODE, "count": 1, "job_id": "j1"},
        {"agent": analysts.DATA, "count": 1, "job_id": "j1"},
    ]
    with pytest.raises(InvalidInput, match="task_tokens=9000 is out of range"):
        jobs.create_job(store, settings, "bugs?", task_tokens=9000)


def test_every_content_type_the_loader_stores_has_an_analyst_and_no_other_type_is_listed() -> None:
    assert set(analysts.ANALYST_BY_TYPE) <= set(CONTENT_TYPES)
    assert {analysts.analyst_for(t) for t in CONTENT_TYPES} == set(analysts.ANALYSTS)


@pytest.mark.parametrize(
    ("content_type", "analyst"),
    [
        ("csv", analysts.DATA),
        ("tsv", analysts.DATA),
        ("json", analysts.JSON),
        ("jsonl", analysts.JSON),
        ("code", analysts.CODE),
        ("text", analysts.CHUNK),
        ("markdown", analysts.CHUNK),
        ("log", analysts.CHUNK),
    ],
)
def test_analyst_is_chosen_by_content_type_unless_given(
    store: Store, settings: Settings, content_type: str, analyst: str
) -> None:
    add_document(store, "x", ["some content"], content_type=content_type)
    assert jobs.create_job(store, settings, "q").analysts == {analyst: 1}
    assert jobs.create_job(store, settings, "q", analyst=analysts.JSON).analysts == {analysts.JSON: 1}
    claim = tasks.claim_task(store, 2, "w")
    assert claim.analyst == analysts.JSON and claim.instructions == analysts.INSTRUCTIONS[analysts.JSON]


def test_search_scoped_job_covers_only_the_hits(
    project: Path, store: Store, settings: Settings, backend: str
) -> None:
    (project / "a.md").write_text(
        "\n\n".join(
            f"# Part {i}\n\n" + ("plain words here. " * 60 if i % 5 else "the kraken rises. " * 60)
            for i in range(40)
        ),
        encoding="utf-8",
    )
    load_document(store, settings, "a.md")
    plan = jobs.create_job(store, settings, "what about the kraken?", search="kraken", top_k=8)
    assert 1 <= plan.chunks <= 8 and plan.search == "kraken"
    claim = tasks.claim_task(store, plan.job_id, "w")
    assert all("kraken" in c.text for c in claim.chunks)
    merged = synthesis.synthesize(store, plan.job_id)
    assert (
        merged.to_json()["search"] == "kraken" and "only the chunks search 'kraken' found" in merged.to_text()
    )
    with pytest.raises(NotFound, match="found no chunks"):
        jobs.create_job(store, settings, "q", search="zeppelin")


def test_bad_job_requests_are_clear_errors(store: Store, settings: Settings) -> None:
    with pytest.raises(NotFound, match="load_document first"):
        jobs.create_job(store, settings, "q")
    add_document(store, "a", ["x"])
    assert jobs.create_job(store, settings, "q", document_ids=["d1"]).chunks == 1
    with pytest.raises(NotFound, match="No document d9"):
        jobs.create_job(store, settings, "q", document_ids=["d9"])
    with pytest.raises(InvalidInput, match="query is empty"):
        jobs.create_job(store, settings, "  ")
    with pytest.raises(InvalidInput, match="analyst 'rlm-poet'"):
        jobs.create_job(store, settings, "q", analyst="rlm-poet")
    with pytest.raises(NotFound, match="No job j5"):
        tasks.claim_task(store, "j5", "w")
    with pytest.raises(InvalidInput, match="not a job id"):
        jobs.job_status(store, "t5")


def test_claim_returns_the_task_whole_and_none_when_the_queue_is_empty(
    store: Store, settings: Settings
) -> None:
    add_document(store, "a.csv", ["1,open\n2,closed"], content_type="csv", context="id,status")
    plan = jobs.create_job(store, settings, "count statuses")
    claim = tasks.claim_task(store, plan.job_id, "data-1")
    data = json.loads(render(claim, "json"))
    assert data["task_id"] == "t1" and data["analyst"] == analysts.DATA and data["query"] == "count statuses"
    assert data["chunks"] == [
        {
            "chunk_id": "c1",
            "location": "d1 a.csv · lines 1-2",
            "context": "id,status",
            "text": "1,open\n2,closed",
        }
    ]
    assert data["remaining"] == 0 and data["lease_expires_at"].endswith("Z")
    text = claim.to_text()
    assert "=== chunk c1" in text and "submit_findings(task_id='t1', worker='data-1'" in text
    empty = tasks.claim_task(store, plan.job_id, "data-2")
    assert empty.task_id is None and json.loads(render(empty, "json"))["task_id"] is None
    assert "claimed by other workers" in empty.to_text()


def test_expired_lease_returns_task_to_queue_with_attempt_count(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    add_document(store, "a", _texts(2, 1900))
    plan = jobs.create_job(
        store, dataclasses.replace(settings, lease_seconds=60), "q", task_tokens=500, clock=clock
    )
    first = tasks.claim_task(store, plan.job_id, "w1", clock=clock)
    second = tasks.claim_task(store, plan.job_id, "w2", clock=clock)
    assert {first.task_id, second.task_id} == {1, 2}
    assert tasks.claim_task(store, plan.job_id, "w3", clock=clock).task_id is None
    clock.advance(61)
    status = jobs.job_status(store, plan.job_id, clock=clock)
    assert status.requeued == 2 and status.tasks["pending"] == 2
    again = tasks.claim_task(store, plan.job_id, "w3", clock=clock)
    assert again.task_id == first.task_id and again.attempt == 2


def test_task_that_keeps_failing_ends_failed_with_its_reason(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    add_document(store, "a", ["only chunk"])
    plan = jobs.create_job(store, dataclasses.replace(settings, lease_seconds=10), "q", clock=clock)
    for attempt in range(1, plans.MAX_ATTEMPTS + 1):
        claim = tasks.claim_task(store, plan.job_id, f"w{attempt}", clock=clock)
        assert claim.attempt == attempt
        clock.advance(11)
    status = jobs.job_status(store, plan.job_id, clock=clock)
    assert status.tasks == {"pending": 0, "claimed": 0, "done": 0, "failed": 1}
    assert status.failures == [{"task_id": "t1", "error": "lease expired 3 times (last worker w3)"}]
    assert "Failed t1: lease expired 3 times" in status.to_text()


def test_claim_whose_chunks_were_removed_fails_that_task_clearly(store: Store, settings: Settings) -> None:
    doc, _ = add_document(store, "gone", ["first doc"])
    add_document(store, "kept", ["second doc"], content_type="csv")
    plan = jobs.create_job(store, settings, "q")
    tasks.submit_findings  # noqa: B018 - the job's findings must survive the removal too
    delete_document(store, doc)
    claim = tasks.claim_task(store, plan.job_id, "w")
    assert claim.task_id == 2 and "t1: chunks c1 were removed" in claim.skipped[0]
    assert "create_job again" in claim.to_text()
    status = jobs.job_status(store, plan.job_id)
    assert status.tasks["failed"] == 1 and status.coverage.total == 2


def test_findings_survive_document_removal(store: Store, settings: Settings) -> None:
    doc, ids = add_document(store, "a", ["alpha beta gamma"])
    plan = jobs.create_job(store, settings, "q")
    claim = tasks.claim_task(store, plan.job_id, "w")
    tasks.submit_findings(
        store,
        claim.task_id or 0,
        "w",
        [{"title": "Greek letters", "detail": "", "evidence": "beta gamma", "chunk_id": ids[0]}],
    )
    delete_document(store, doc)
    status = jobs.job_status(store, plan.job_id)
    assert status.coverage.done == 1 and status.tasks["done"] == 1
    (row,) = store.conn().execute("SELECT title, verified FROM findings").fetchall()
    assert tuple(row) == ("Greek letters", 1)


def test_a_new_store_on_the_same_database_resumes_the_job(store: Store, settings: Settings) -> None:
    add_document(store, "a", _texts(6, 1900))
    plan = jobs.create_job(store, settings, "q", task_tokens=500)
    done = tasks.claim_task(store, plan.job_id, "w")
    tasks.submit_findings(store, done.task_id or 0, "w", [])
    tasks.claim_task(store, plan.job_id, "w")
    store.close()
    reopened = open_backend(settings.db_path, settings.db_url, settings.project_key)
    try:
        status = jobs.job_status(reopened, plan.job_id)
        assert status.tasks == {"pending": 4, "claimed": 1, "done": 1, "failed": 0}
        assert tasks.claim_task(reopened, plan.job_id, "w2").task_id == 3
        listed = jobs.list_jobs(reopened).to_json()
        assert listed["total"] == 1 and listed["jobs"][0]["job_id"] == "j1"
    finally:
        reopened.close()


def test_status_reports_throughput_and_eta(store: Store, settings: Settings, clock: FakeClock) -> None:
    add_document(store, "a", _texts(4, 1900))
    plan = jobs.create_job(store, settings, "q", task_tokens=500, clock=clock)
    for _ in range(2):
        claim = tasks.claim_task(store, plan.job_id, "w", clock=clock)
        clock.advance(30)
        tasks.submit_findings(store, claim.task_id or 0, "w", [], clock=clock)
    status = jobs.job_status(store, plan.job_id, clock=clock)
    assert status.tasks_per_minute == 2.0 and status.eta_seconds == 60
    data = status.to_json()
    assert set(data) >= {"job_id", "tasks", "coverage"} and data["coverage"] == {
        "done": 2,
        "total": 4,
        "ratio": 0.5,
    }


def test_dense_content_gets_smaller_tasks_so_each_claim_fits_one_result(
    store: Store, settings: Settings
) -> None:
    rows = ["\n".join(f"{i * 50 + k},open,{k * 7},Oslo" for k in range(50)) for i in range(40)]
    add_document(store, "t.csv", rows, content_type="csv", context="id,status,amount,city")
    add_document(store, "p.txt", _texts(40, 1200))
    plan = jobs.create_job(store, settings, "q", task_tokens=planning.MAX_TASK_TOKENS)
    sizes: dict[str, list[int]] = {}
    while (claim := tasks.claim_task(store, plan.job_id, "w")).task_id is not None:
        sizes.setdefault(claim.analyst or "", []).append(
            sum(len(c.text) + len(c.context) for c in claim.chunks)
        )
        assert len(claim.to_text()) < 8 * planning.MAX_TASK_TOKENS // 2 + 4000  # CSV: ~2 chars per token
    assert max(sizes[analysts.DATA]) < max(sizes[analysts.CHUNK]) * 0.7
    assert planning.token_density(["The harbour master logged ships."]) == 0.25
    assert planning.token_density(["0,open,292,Oslo\n"]) > 0.4


def test_reloading_a_changed_document_fails_its_open_tasks_and_keeps_done_work(
    project: Path, store: Store, settings: Settings
) -> None:
    (project / "a.md").write_text(
        "\n\n".join(f"# S{i}\n\n" + "calm seas. " * 150 for i in range(6)), encoding="utf-8"
    )
    load_document(store, settings, "a.md")
    plan = jobs.create_job(store, settings, "q", task_tokens=500)
    done = tasks.claim_task(store, plan.job_id, "w")
    first = done.chunks[0]
    finding = {"title": "Calm", "detail": "", "evidence": "calm seas.", "chunk_id": first.chunk_id}
    tasks.submit_findings(store, done.task_id or 0, "w", [finding])
    (project / "a.md").write_text("# New\n\nstorm now.\n", encoding="utf-8")
    assert load_document(store, settings, "a.md").documents[0].status == "updated"
    claim = tasks.claim_task(store, plan.job_id, "w")
    assert claim.task_id is None and claim.skipped and "create_job again" in claim.skipped[0]
    merged = synthesis.synthesize(store, plan.job_id).to_json()
    assert merged["partial"] and merged["tasks"]["failed"] == plan.tasks - 1
    assert [f["title"] for t in merged["themes"] for f in t["findings"]] == ["Calm"]
    assert "reloaded or removed" in merged["coverage"]["missing"][0]["errors"][0]
