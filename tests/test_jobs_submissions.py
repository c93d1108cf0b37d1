"""submit_findings: shape checks, evidence checks, idempotency, late submissions; nothing stored half."""

import json
from typing import Any

import pytest

from rlm_mcp import jobs
from rlm_mcp.config import Settings
from rlm_mcp.errors import Conflict, InvalidInput, NotFound
from rlm_mcp.jobs import claiming as tasks
from rlm_mcp.jobs.evidence import EvidenceIndex, Source
from rlm_mcp.jobs.findings import MAX_SUBMISSION_CHARS
from rlm_mcp.store import Store

from .fakes import FakeClock
from .jobs_support import add_document, delete_document

pytestmark = pytest.mark.backends

ROWS = "17,open,  Oslo harbour\n18,closed,Bergen   quay\n19,open,Tromsø pier"


@pytest.fixture
def claimed(store: Store, settings: Settings) -> tasks.TaskClaim:
    """Two tasks: t1 holds c1 and c2 (the rows), t2 holds c3."""
    add_document(
        store, "ports.csv", [ROWS, "20,open,Bodø dock"], content_type="csv", context="id,status,place"
    )
    add_document(store, "other.md", ["An unrelated note."], content_type="markdown")
    jobs.create_job(store, settings, "open ports?")
    return tasks.claim_task(store, 1, "w1")


def _finding(**overrides: Any) -> dict[str, Any]:
    base = {
        "title": "Oslo is open",
        "detail": "row 17",
        "evidence": "17,open, Oslo harbour",
        "chunk_id": "c1",
    }
    return {**base, **overrides}


def _stored(store: Store) -> tuple[int, int]:
    conn = store.conn()
    findings = conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    done = conn.execute("SELECT count(*) FROM tasks WHERE state = 'done'").fetchone()[0]
    return int(findings), int(done)


def test_evidence_is_checked_whitespace_insensitively_and_located(
    store: Store, claimed: tasks.TaskClaim
) -> None:
    result = tasks.submit_findings(
        store,
        "t1",
        "w1",
        [
            _finding(),
            _finding(title="Bergen", evidence="18,closed,Bergen quay", chunk_id=1),
            _finding(title="Made up", evidence="Stavanger is open"),
            _finding(title="Quoted with ellipsis", evidence='"18,closed … Tromsø pier"'),
            _finding(title="Header quote", evidence="id,status,place", chunk_id="c2"),
        ],
        counts={"status": {"open": 3, "closed": 1}},
    )
    assert (result.accepted, result.findings, result.unverified, result.task_state) == (True, 5, 1, "done")
    assert result.unverified_titles == ("Made up",)
    rows = store.conn().execute(
        "SELECT title, verified, line, evidence_chunk_id FROM findings ORDER BY position"
    )
    assert [tuple(r) for r in rows] == [
        ("Oslo is open", 1, 1, 1),
        ("Bergen", 1, 2, 1),
        ("Made up", 0, None, None),
        ("Quoted with ellipsis", 1, 2, 1),
        ("Header quote", 1, None, 2),
    ]
    assert "1 unverified" in result.to_text() and "claim_task(job_id='j1', worker='w1')" in result.to_text()


def test_evidence_found_in_another_chunk_of_the_task_is_verified_and_cited() -> None:
    index = EvidenceIndex([Source(5, "alpha\nbeta", 10), Source(6, "gamma\n  delta epsilon", 20)])
    match = index.locate("delta\nepsilon", 5)
    assert match is not None and (match.chunk_id, match.line) == (6, 21)
    assert index.locate("beta gamma", 5) is None  # never across chunk boundaries


def test_same_submission_twice_is_stored_once(store: Store, claimed: tasks.TaskClaim) -> None:
    args: dict[str, Any] = {"findings": [_finding()], "summary": "one", "counts": {"status": {"open": 2}}}
    first = tasks.submit_findings(store, "t1", "w1", **args)
    again = tasks.submit_findings(store, "t1", "w1", **args)
    assert first.accepted and again.accepted and again.duplicate and again.findings == 1
    assert _stored(store) == (1, 1)
    assert "Already stored" in again.to_text()


def test_late_submission_is_accepted_while_open_and_never_counted_twice(
    store: Store, settings: Settings, claimed: tasks.TaskClaim
) -> None:
    later = FakeClock(claimed.lease_expires_at or 0).advance(1)  # w1's lease has expired
    retaken = tasks.claim_task(store, 1, "w2", clock=lambda: later)  # t1 goes to w2
    assert retaken.task_id == 1 and retaken.attempt == 2
    late = tasks.submit_findings(store, "t1", "w1", [_finding()], counts={"status": {"open": 1}})
    assert late.accepted and "lease was held by w2" in late.to_text()
    other = tasks.submit_findings(
        store, "t1", "w2", [_finding(title="Other")], counts={"status": {"open": 1}}
    )
    assert not other.accepted and other.task_state == "done" and "not counted twice" in other.to_text()
    assert _stored(store) == (1, 1)
    counts = store.conn().execute("SELECT counts, worker FROM tasks WHERE id = 1").fetchone()
    assert (json.loads(counts[0]), counts[1]) == ({"status": {"open": 1}}, "w1")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"findings": 42}, "findings must be a list"),
        ({"findings": {"title": "x"}}, "findings[0].evidence is missing"),  # one object: a list of one
        ({"findings": [_finding(chunk_id=None)]}, "findings[0].chunk_id is missing"),
        ({"findings": [_finding(title="")]}, "findings[0].title is empty"),
        ({"findings": [_finding(evidence=3)]}, "findings[0].evidence must be a string"),
        ({"findings": [_finding(severity="apocalyptic")]}, "severity 'apocalyptic' is not one of"),
        ({"findings": [_finding(line=0)]}, "line must be a positive integer"),
        ({"findings": [_finding(chunk_id="banana")]}, "is not a chunk id like 'c12'"),
        ({"findings": [], "counts": {"status": {"open": -1}}}, "counts are integers >= 0"),
        ({"findings": [], "counts": {"status": {"open": 1.5}}}, "counts are integers >= 0"),
        ({"findings": [], "counts": {"status": 4}}, "must be an object {value: int}"),
        (
            {"findings": [], "stats": {"x": {"n": 2, "sum": 100, "min": 1, "max": 3}}},
            "stats['x'] is inconsistent",
        ),
        ({"findings": [], "stats": {"x": {"count": 2}}}, "stats['x'] must be {n, sum, min, max}"),
        ({"findings": [], "relevance": "very"}, "relevance 'very' is not one of"),
        ({"findings": [], "follow_up": [1, 2]}, "follow_up must be a list of strings"),
    ],
)
def test_bad_submission_is_refused_whole_with_the_expected_shape(
    store: Store, claimed: tasks.TaskClaim, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        tasks.submit_findings(store, "t1", "w1", **kwargs)
    assert message in str(error.value) and "Expected: findings=[{title: str" in str(error.value)
    assert "nothing stored" in str(error.value)
    assert _stored(store) == (0, 0)


def test_chunk_from_another_task_is_refused(store: Store, claimed: tasks.TaskClaim) -> None:
    with pytest.raises(InvalidInput, match=r"findings\[1\].chunk_id c3 not in task t1.*c1, c2"):
        tasks.submit_findings(store, "t1", "w1", [_finding(), _finding(chunk_id="c3")])
    assert _stored(store) == (0, 0)


def test_unknown_task_and_huge_payload_are_clear_errors(store: Store, claimed: tasks.TaskClaim) -> None:
    with pytest.raises(NotFound, match="No task t99; claim_task"):
        tasks.submit_findings(store, "t99", "w1", [])
    huge = [_finding(detail="x" * 4000) for _ in range(2600)]  # ~10 MB
    assert len(json.dumps(huge)) > 10_000_000
    with pytest.raises(InvalidInput, match=f"at most {MAX_SUBMISSION_CHARS:,}"):
        tasks.submit_findings(store, "t1", "w1", huge)
    with pytest.raises(InvalidInput, match="worker must be a short name"):
        tasks.submit_findings(store, "t1", "", [])
    assert _stored(store) == (0, 0)


def test_submission_after_the_chunks_were_removed_is_refused(store: Store, claimed: tasks.TaskClaim) -> None:
    delete_document(store, 1)
    with pytest.raises(Conflict, match=r"chunks c1, c2 were removed.*Nothing stored"):
        tasks.submit_findings(store, "t1", "w1", [_finding()])
    assert _stored(store) == (0, 0)


def test_unknown_finding_fields_are_ignored_and_said(store: Store, claimed: tasks.TaskClaim) -> None:
    result = tasks.submit_findings(store, "t1", "w1", [_finding(confidence=0.9, tags="ports")])
    assert result.accepted and "Ignored unknown finding fields: confidence" in result.to_text()
    tags = store.conn().execute("SELECT tags FROM findings").fetchone()[0]
    assert json.loads(tags) == ["ports"]


def test_evidence_with_plain_quotes_matches_typographic_quotes_in_the_text() -> None:
    index = EvidenceIndex([Source(7, "He said, \u201cI\u2019m here\u201d \u2014 and left.\nNext line", 40)])
    found = index.locate('He said, "I\'m here" - and left.', 7)
    assert found is not None and (found.chunk_id, found.line) == (7, 40)
    assert index.locate('He said, "I am here"', 7) is None
