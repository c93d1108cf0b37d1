"""synthesize: coverage first, exact sums, merged stats, folding, themes, paging, reduce levels."""

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp import jobs
from rlm_mcp.answers import render
from rlm_mcp.config import Settings
from rlm_mcp.errors import InvalidInput
from rlm_mcp.jobs import claiming as tasks
from rlm_mcp.store import Store, open_store
from rlm_mcp.store.rows import RatedFinding
from rlm_mcp.synthesis import merge as synthesis
from rlm_mcp.synthesis.folding import fold_findings, merge_stats, sum_counts

from .jobs_support import add_document

pytestmark = pytest.mark.backends

Submit = Callable[[tasks.TaskClaim], dict[str, Any]]


def _run(
    store: Store, job_id: int, submit: Submit, order: list[int] | None = None, limit: int | None = None
) -> None:
    """Claim every task (or `limit` of them), then submit in `order` (claim order by default)."""
    claims = []
    while (limit is None or len(claims) < limit) and (c := tasks.claim_task(store, job_id, "w")).task_id:
        claims.append(c)
    for i in order or range(len(claims)):
        tasks.submit_findings(store, claims[i].task_id or 0, "w", **submit(claims[i]))


def _rows_job(store: Store, settings: Settings, rows: int = 60) -> int:
    texts = [f"{i},{'open' if i % 3 else 'closed'},{i * 10}" for i in range(rows)]
    add_document(store, "t.csv", texts, content_type="csv", context="id,status,amount")
    return jobs.create_job(store, settings, "statuses and amounts", task_tokens=500).job_id


def _tally(claim: tasks.TaskClaim) -> dict[str, Any]:
    rows = [c.text.split(",") for c in claim.chunks]
    counts: dict[str, dict[str, int]] = {"status": {}}
    for r in rows:
        counts["status"][r[1]] = counts["status"].get(r[1], 0) + 1
    amounts = [int(r[2]) for r in rows]
    stats = {"amount": {"n": len(amounts), "sum": sum(amounts), "min": min(amounts), "max": max(amounts)}}
    closed = [c for c in claim.chunks if ",closed," in c.text]
    findings = [
        {
            "title": "Closed row",
            "detail": "a closed one",
            "evidence": c.text,
            "chunk_id": c.chunk_id,
            "tags": ["closed"],
        }
        for c in closed[:1]
    ]
    return {
        "findings": findings,
        "counts": counts,
        "stats": stats,
        "relevance": "high",
        "follow_up": ["Why closed?"],
    }


def test_counts_are_exact_sums_and_stats_merge(store: Store, settings: Settings) -> None:
    job = _rows_job(store, settings, 60)
    _run(store, job, _tally)
    result = synthesis.synthesize(store, job)
    data = result.to_json()
    assert data["coverage"] == {"done": 60, "total": 60, "ratio": 1.0, "missing": []} and not data["partial"]
    assert data["counts"] == {"status": {"open": 40, "closed": 20}}
    assert data["stats"] == {"amount": {"n": 60, "sum": 17700, "min": 0, "max": 590, "mean": 295.0}}
    (theme,) = data["themes"]
    # one closed row per task that holds one, each quoting its own row: distinct items, never folded by
    # title alone (the document's last chunk, an open row, is a task of its own: planning.SPAN_TASKS)
    assert theme["title"] == "closed" and len(theme["findings"]) == data["findings"]["total"]
    assert data["findings"]["total"] == data["tasks"]["done"] - 1
    assert {f["support"] for f in theme["findings"]} == {1}
    assert (
        data["follow_up"][0]["text"] == "Why closed?"
        and data["follow_up"][0]["support"] == data["tasks"]["done"]
    )
    text = result.to_text()
    assert "Coverage: 60/60 chunks (100%)" in text and "status (total 60): open: 40 · closed: 20" in text
    assert "amount: n=60 sum=17700 min=0 max=590 mean=295" in text


def test_synthesis_does_not_depend_on_the_order_tasks_finished(tmp_path: Path, settings: Settings) -> None:
    outputs = []
    for seed in (1, 2):
        store = open_store(tmp_path / f"{seed}.db")
        job = _rows_job(store, settings, 50)
        order = list(range(jobs.job_status(store, job).tasks["pending"]))
        random.Random(seed).shuffle(order)
        _run(store, job, _tally, order)
        merged = json.loads(render(synthesis.synthesize(store, job), "json"))
        merged.pop("cost")  # telemetry: the measured wall time of this run, not part of the merge
        outputs.append(json.dumps(merged, sort_keys=True))
        store.close()
    assert outputs[0] == outputs[1]


def test_partial_coverage_names_missing_ranges_and_what_to_do(store: Store, settings: Settings) -> None:
    job = _rows_job(store, settings, 60)
    _run(store, job, _tally, limit=2)
    result = synthesis.synthesize(store, job)
    data = result.to_json()
    assert data["partial"] and data["coverage"]["ratio"] < 1 and data["next"]["action"] == "claim"
    (missing,) = data["coverage"]["missing"]
    assert missing["document_id"] == "d1" and missing["count"] == 60 - data["coverage"]["done"]
    assert missing["chunks"].endswith("–c60")
    assert "PARTIAL — coverage" in result.to_text() and "spawn analysts on job_id='j1'" in result.to_text()


def test_near_duplicates_fold_with_all_citations_and_themes_rank_by_relevance() -> None:
    def row(i: int, title: str, evidence: str, tags: list[str], relevance: str = "medium") -> RatedFinding:
        return RatedFinding(
            i, i, i, title, "", evidence, True, None, None, None, tuple(tags), (i,), relevance
        )

    rows = [
        row(1, "Timeout in the payment service", "timeout after 30s", ["latency"]),
        row(2, "Timeouts in payment service", "request timeout after 30s", ["latency"]),
        row(3, "Disk full on node 7", "No space left on device", ["storage"], "high"),
        row(4, "Node seven disk is full", "No space left on device", ["storage"]),
        row(5, "Login works", "login ok", ["auth"], "low"),
    ]
    folded = fold_findings(rows)
    assert [(f.title, f.citations) for f in folded] == [
        ("Timeout in the payment service", (1, 2)),
        ("Disk full on node 7", (3, 4)),
        ("Login works", (5,)),
    ]
    from rlm_mcp.synthesis.folding import build_themes

    assert [t.title for t in build_themes(folded)] == ["storage", "latency", "auth"]


def test_sums_and_stats_helpers_are_exact() -> None:
    assert sum_counts([{"a": {"x": 1}}, {"a": {"x": 2, "y": 5}, "b": {"": 3}}]) == {
        "a": {"y": 5, "x": 3},
        "b": {"": 3},
    }
    merged = merge_stats(
        [{"m": {"n": 2, "sum": 0.1, "min": 0.05, "max": 0.05}}] * 10
        + [{"m": {"n": 0, "sum": 0, "min": None, "max": None}}]
    )
    assert merged == {"m": {"n": 20, "sum": 1.0, "min": 0.05, "max": 0.05, "mean": 0.05}}


def test_unverified_findings_are_listed_apart(store: Store, settings: Settings) -> None:
    add_document(store, "a", ["the quick brown fox"])
    job = jobs.create_job(store, settings, "q").job_id
    _run(
        store,
        job,
        lambda c: {
            "findings": [
                {
                    "title": "Fox",
                    "detail": "",
                    "evidence": "quick brown fox",
                    "chunk_id": c.chunks[0].chunk_id,
                },
                {"title": "Wolf", "detail": "", "evidence": "a grey wolf", "chunk_id": c.chunks[0].chunk_id},
            ]
        },
    )
    data = synthesis.synthesize(store, job).to_json()
    assert [f["title"] for t in data["themes"] for f in t["findings"]] == ["Fox"]
    assert data["unverified_total"] == 1 and data["unverified"][0]["title"] == "Wolf"


def _distinct_findings(claim: tasks.TaskClaim) -> dict[str, Any]:
    findings = [
        {
            "title": f"Event {c.chunk_id} {word}",
            "detail": "x" * 150,
            "evidence": c.text,
            "chunk_id": c.chunk_id,
            "tags": [f"group{c.chunk_id % 4}"],
        }
        for c in claim.chunks
        for word in ("alpha", "omega")
    ]
    return {"findings": findings, "counts": {"n": {"chunks": len(claim.chunks)}}}


def test_pages_cover_every_folded_finding_once(store: Store, settings: Settings) -> None:
    add_document(store, "a", [f"event number {i} happened" for i in range(40)])
    job = jobs.create_job(store, settings, "q").job_id
    _run(store, job, _distinct_findings)
    seen, offset = [], 0
    while True:
        page = synthesis.synthesize(store, job, offset, page_chars=4000, max_pages=100)
        assert len(page.to_text()) < 4000 and len(render(page, "json")) < 6000
        seen += [f["title"] for t in page.to_json()["themes"] for f in t["findings"]]
        if not page.next:
            break
        assert page.next["action"] == "page"
        offset = page.next["offset"]
    assert len(seen) == len(set(seen)) == 80
    with pytest.raises(InvalidInput, match="past the last finding"):
        synthesis.synthesize(store, job, 81)


def _reduce(claim: tasks.TaskClaim) -> dict[str, Any]:
    """A reduce analyst: merges its items two by two, quoting the first item's evidence."""
    assert claim.level > 0 and "REDUCE task" in claim.instructions
    out = []
    for a, b in zip(claim.chunks[::2], claim.chunks[1::2] or claim.chunks[:1], strict=False):
        quote = a.text.split("evidence: ", 1)[1].splitlines()[0]
        out.append(
            {
                "title": f"Merged {a.chunk_id}+{b.chunk_id} {claim.task_id}",
                "detail": "y" * 100,
                "evidence": quote,
                "chunk_id": a.chunk_id,
                "tags": ["merged"],
            }
        )
    return {"findings": out, "summary": "merged"}


def test_reduce_levels_recurse_until_the_synthesis_fits(store: Store, settings: Settings) -> None:
    add_document(store, "a", [f"event number {i} happened" for i in range(60)])
    job = jobs.create_job(store, settings, "q").job_id
    _run(store, job, _distinct_findings)
    levels = []
    for _ in range(8):
        result = synthesis.synthesize(store, job, page_chars=3000, max_pages=1)
        levels.append(result.level)
        if not result.next or result.next["action"] != "reduce":
            break
        assert "rlm-chunk-analyzer agents on job_id='j1'" in result.to_text()
        _run(store, job, _reduce)
    assert levels[0] == 0 and levels[-1] >= 2 and levels == sorted(levels)
    final = result.to_json()
    assert final["counts"] == {"n": {"chunks": 60}} and final["coverage"]["ratio"] == 1.0
    cited = {c for t in final["themes"] for f in t["findings"] for c in f["citations"]}
    assert cited and cited <= {f"c{i}" for i in range(1, 61)}
    status = jobs.job_status(store, job).to_json()
    assert status["tasks"]["pending"] == 0 and len(status["levels"]) == len(set(levels)) + 0


def test_a_new_submission_shows_in_the_next_synthesis(store: Store, settings: Settings) -> None:
    job = _rows_job(store, settings, 60)
    _run(store, job, _tally, limit=1)
    before = synthesis.synthesize(store, job).to_json()
    _run(store, job, _tally, limit=1)
    after = synthesis.synthesize(store, job).to_json()
    assert after["tasks"]["done"] == before["tasks"]["done"] + 1
    assert after["coverage"]["done"] > before["coverage"]["done"]
    # each task found its own closed row: two distinct items now, not one folded by its title
    assert sum(len(t["findings"]) for t in after["themes"]) == 2


def test_a_reduce_task_that_returns_nothing_loses_no_findings(store: Store, settings: Settings) -> None:
    add_document(store, "a", [f"event number {i} happened" for i in range(30)])
    job = jobs.create_job(store, settings, "q").job_id
    _run(store, job, _distinct_findings)
    first = synthesis.synthesize(store, job, page_chars=3000, max_pages=1)
    assert first.next is not None and first.next["action"] == "reduce"
    _run(store, job, lambda claim: {"findings": [], "relevance": "none"})
    again = synthesis.synthesize(store, job, page_chars=3000, max_pages=1)
    assert again.level == 1 and again.page.total_items == first.page.total_items == 60
    assert again.note is not None and "paging instead" in again.note
    assert again.next == {"action": "page", "offset": again.page.end}


def test_stats_are_printed_exactly_without_exponent(store: Store, settings: Settings) -> None:
    prices = [812_396.05, 809_004.0, 810_788.11]  # 2,432,188.16 in all; 6 significant digits would lose it
    add_document(store, "p.csv", [f"{i},{p}" for i, p in enumerate(prices)], content_type="csv")
    job = jobs.create_job(store, settings, "total price", task_tokens=500).job_id

    def send(claim: tasks.TaskClaim) -> dict[str, Any]:
        values = [float(c.text.split(",")[1]) for c in claim.chunks]
        return {"findings": [], "stats": {"price": {"n": len(values), "sum": sum(values),
                                                    "min": min(values), "max": max(values)}}}  # fmt: skip

    _run(store, job, send)
    text = synthesis.synthesize(store, job).to_text()
    assert "sum=2432188.16 " in text and "min=809004 " in text and "e+" not in text
    assert synthesis.synthesize(store, job).to_json()["stats"]["price"]["sum"] == 2432188.16
