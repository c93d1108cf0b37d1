"""The HTML report of a job: built from real jobs driven through the core API, opened in a real
headless chromium (one launch per browser test), checked for content, safety, size and speed."""

import base64
import json
import time
from collections import Counter
from pathlib import Path

import pytest

from rlm_mcp.cli import main
from rlm_mcp.config import Settings
from rlm_mcp.jobs import claiming, create_job, job_status
from rlm_mcp.report import build_report, default_path, render_report, synthesize_with_report, write_report
from rlm_mcp.report.render import script_json
from rlm_mcp.store import Store
from rlm_mcp.store import reports as reports_db
from rlm_mcp.store.labels import LabelRow, insert_labels
from rlm_mcp.synthesis import merge

from .report_support import XSS_CHUNK, chromium_binary, console_errors, drive_job, ink_share, open_page

pytestmark = pytest.mark.backends

needs_chromium = pytest.mark.skipif(
    chromium_binary() is None, reason="no chromium on PATH (.ci/run installs Debian's chromium)"
)
MAX_REPORT_BYTES = 20_000_000
LARGE_TASKS = 10_000


def _texts(n: int, size: int = 1990) -> list[str]:
    return [(f"Chunk {i} records that the pump at site {i % 97} ran for {i % 13} hours. " * 40)[:size]
            for i in range(n)]  # fmt: skip


def _ids(store: Store, job_id: int) -> tuple[list[int], list[reports_db.ReportFinding]]:
    with store.read() as conn:
        return [t.id for t in reports_db.report_tasks(conn, job_id)], reports_db.report_findings(conn, job_id)


def test_script_json_is_inert_inside_a_script_element() -> None:
    text = str(script_json({"q": "</script><script>alert(1)</script> <!-- & \u2028\u2029 '\""}))
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\u2028" not in text and "\u2029" not in text
    assert json.loads(text) == {"q": "</script><script>alert(1)</script> <!-- & \u2028\u2029 '\""}


@needs_chromium
def test_report_opens_in_chromium_with_every_task_and_citation_and_the_xss_inert(
    store: Store, settings: Settings
) -> None:
    texts = _texts(40, 600)
    texts[3] = XSS_CHUNK
    job = drive_job(store, settings, texts, fail_every=4, unverified_every=5, quote_words=6)
    answer = synthesize_with_report(store, settings, job["job_id"])
    path = default_path(settings, job["job_id"])
    assert answer.report == str(path) and answer.to_json()["report"] == str(path)
    assert str(path) in answer.to_text() and path.parent == settings.db_path.parent / "reports"
    task_ids, findings = _ids(store, job["job_id"])
    xss = next(f for f in findings if f.evidence.startswith("Alert:"))
    unverified = next(f for f in findings if not f.verified)
    with open_page(path.as_uri()) as page:
        assert console_errors(page) == []
        assert page.evaluate("document.documentElement.getAttribute('data-ready')") == f"j{job['job_id']}"
        # the XSS strings are text: no script of theirs ran, no element or handler of theirs exists
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert "pwned" not in page.evaluate("document.title")
        assert page.evaluate("document.scripts.length") == 2
        assert (
            page.evaluate(
                "document.querySelectorAll('[onerror], img, textarea, a[href^=\"javascript\"]').length"
            )
            == 0
        )
        src = page.evaluate(f"document.getElementById('src-c{job['chunk_ids'][3]}').textContent")
        assert XSS_CHUNK in src
        # every task, every finding, and a citation of each finding to its chunk
        assert (
            page.evaluate(
                f"{json.dumps([f't{i}' for i in task_ids])}.filter(id => !document.getElementById(id))"
            )
            == []
        )
        missing = page.evaluate(
            f"{json.dumps([[f'f{f.id}', f'#src-c{f.evidence_chunk_id or f.chunk_id}'] for f in findings])}"
            ".filter(([f, c]) => !document.querySelector(`#${f} a.cite[href='${c}']`)"
            " || !document.querySelector(c))"
        )
        assert missing == []
        # exact numbers: chunks done of total, failed tasks, the count table
        done_chunks = len(job["findings"])  # the scripted analyst quotes each chunk of a done task once
        assert (
            page.evaluate("document.querySelector('.card .big').textContent")
            == f"{done_chunks} / {len(texts)}"
        )
        assert page.evaluate("document.querySelectorAll('#summary table')[0].rows.length - 1") == len(
            job["failed"]
        )
        # a citation opens its chunk with its quote highlighted
        shown = page.evaluate(
            f"(() => {{ document.querySelector('#f{xss.id} a.cite').click();"
            f" const s = document.getElementById('src-c{xss.evidence_chunk_id}');"
            " return [getComputedStyle(s).display, s.querySelector('mark.current').textContent,"
            " document.getElementById('notfound-note').hidden]; })()"
        )
        assert shown == ["block", xss.evidence, True]
        assert xss.evidence == " ".join(XSS_CHUNK.split()[:6])
        # an unverified quote opens its chunk with nothing highlighted and says so
        shown = page.evaluate(
            f"(() => {{ document.querySelector('#f{unverified.id} a.cite').click();"
            f" const s = document.getElementById('src-c{unverified.chunk_id}');"
            " return [getComputedStyle(s).display, s.querySelectorAll('mark.current').length,"
            " document.getElementById('notfound-note').hidden]; })()"
        )
        assert shown == ["block", 0, False]
        page.evaluate("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}))")
        page.evaluate("window.scrollTo(0, 0)")
        shot = page.send(
            "Page.captureScreenshot",
            {"format": "png", "clip": {"x": 0, "y": 0, "width": 1280, "height": 900, "scale": 0.25}},
        )
        assert ink_share(base64.b64decode(shot["data"])) > 0.03
        assert console_errors(page) == []


def test_tree_shows_reduce_levels_with_their_inputs(store: Store, settings: Settings) -> None:
    job = drive_job(store, settings, _texts(60, 600), quote_words=5)
    planned = merge.synthesize(store, job["job_id"], page_chars=2000, max_pages=1)
    assert planned.next is not None and planned.next["action"] == "reduce"
    while (claim := claiming.claim_task(store, job["job_id"], "reducer")).task_id is not None:
        first = claim.chunks[0]
        claiming.submit_findings(store, claim.task_id, "reducer", [
            {"title": "Pumps ran", "detail": "merged", "evidence": first.text.split("\n")[0][:30],
             "chunk_id": f"c{first.chunk_id}"}])  # fmt: skip
    report = build_report(store, job["job_id"])
    assert [level.level for level in report.levels] == [1, 0]
    assert report.theme_level == 1
    html = render_report(report)
    task_ids, _ = _ids(store, job["job_id"])
    assert all(f'id="t{i}"' in html for i in task_ids)
    assert "Level 1 — reduce: tasks over level 0 findings" in html
    reduce_task = report.levels[0].blocks[0].tasks[0].task
    assert f'<a href="#f{reduce_task.inputs[0][0]}">' in html


def test_synthesize_rewrites_the_report_only_when_the_job_changed(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    backend_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    done = drive_job(store, settings, _texts(12, 600))
    plan = create_job(store, settings, "Again?", [f"d{done['doc_id']}"], task_tokens=500)
    answer = synthesize_with_report(store, settings, plan.job_id)  # an open job: a partial report
    path = default_path(settings, plan.job_id)
    first = path.read_bytes()
    assert answer.report == str(path) and b"<b>partial</b>" in first
    assert write_report(store, plan.job_id, path, force=False).written is False
    synthesize_with_report(store, settings, plan.job_id)
    assert path.read_bytes() == first  # nothing changed: not rebuilt
    claim = claiming.claim_task(store, plan.job_id, "w1")
    assert claim.task_id is not None
    synthesize_with_report(store, settings, plan.job_id)
    second = path.read_bytes()
    assert second != first and f'id="t{claim.task_id}" data-state="claimed"'.encode() in second
    for name, value in {"RLM_DB": str(settings.db_path), **backend_env}.items():
        monkeypatch.setenv(name, value)  # the command's store is this test's, on either backend
    store_arg = settings.db_url or str(settings.db_path)
    main(["--db", store_arg, "report", f"j{done['job_id']}", "-o", str(tmp_path / "r.html"), "--json"])
    written = json.loads(capsys.readouterr().out)
    assert written["written"] is True and Path(written["path"]).read_bytes()[:15] == b"<!doctype html>"
    assert written["bytes"] == (tmp_path / "r.html").stat().st_size


@pytest.mark.slow
@needs_chromium
def test_report_of_a_10000_task_job_is_built_fast_stays_small_and_opens(
    store: Store, settings: Settings, tmp_path: Path, backend: str
) -> None:
    # on Postgres three analysts claim at once, as a team does (one claims ~13 ms a task there)
    threads = 3 if backend == "postgres" else 1
    job = drive_job(store, settings, _texts(LARGE_TASKS), fail_every=100, unverified_every=50,
                    threads=threads)  # fmt: skip
    assert len(job["done"]) + len(job["failed"]) == LARGE_TASKS
    assert len(set(job["done"]) | set(job["failed"])) == LARGE_TASKS  # no task handed out twice
    started = time.perf_counter()
    merge.synthesize(store, job["job_id"])  # 10,000 findings: it plans a reduce level too
    task_ids, _ = _ids(store, job["job_id"])
    assert len(task_ids) > LARGE_TASKS
    synthesize_seconds = time.perf_counter() - started
    started = time.perf_counter()
    written = write_report(store, job["job_id"], tmp_path / "big.html")
    build_seconds = time.perf_counter() - started
    print(f"10,000 tasks: report {build_seconds:.2f} s, {written.bytes / 1e6:.1f} MB; "
          f"synthesize {synthesize_seconds:.2f} s")  # fmt: skip
    assert written.bytes < MAX_REPORT_BYTES
    # Trigger: a 10,000-task report. Why: the issue asks for 'a few seconds'; speed is measured by the
    # printed figure, and a bound that close fails on a loaded 2-core runner (18-20 s seen at load 6).
    # Outcome: only a runaway build (quadratic work) fails here.
    assert build_seconds < 90
    started = time.perf_counter()
    with open_page(written.path.as_uri()) as page:
        load_seconds = time.perf_counter() - started
        assert console_errors(page) == []
        assert page.evaluate("document.querySelectorAll('details.task').length") == len(task_ids)
        assert page.evaluate("document.getElementById('f-shown').textContent") == (
            f"{len(task_ids)} of {len(task_ids)} tasks shown"
        )
        page.evaluate("document.getElementById('f-state').value = 'failed';"
                      "document.getElementById('f-state').dispatchEvent(new Event('change'))")  # fmt: skip
        assert page.evaluate("document.getElementById('f-shown').textContent").startswith(
            f"{len(job['failed'])} of "
        )
    assert load_seconds < 90


def test_label_distributions_are_exact_record_counts(store: Store, settings: Settings) -> None:
    job = drive_job(store, settings, _texts(12, 600))
    values = ["auth", "billing", "auth", "network", "auth", "billing", "<b>x</b>"] * 30
    rows = [
        LabelRow(job["job_id"], None, job["doc_id"], i + 1, "root_cause", v) for i, v in enumerate(values)
    ]
    with store.write() as conn:
        insert_labels(conn, rows)
    report = build_report(store, job["job_id"])
    (table,) = report.labels
    assert table.dimension == "root_cause" and table.total == len(values)
    assert {v: n for v, n, _ in table.rows} == dict(Counter(values))
    html = render_report(report)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_the_tree_shows_what_the_server_handed_out_and_received(store: Store, settings: Settings) -> None:
    job = drive_job(store, settings, _texts(12, 900), quote_words=4)
    report = build_report(store, job["job_id"])
    views = [v for level in report.levels for block in level.blocks for v in block.tasks]
    stored = {t.id: t for t in reports_db.report_tasks(store.conn(), job["job_id"])}
    assert views and all(stored[v.task.id].served_chars > 0 for v in views)
    for v in views:
        t = stored[v.task.id]
        assert (v.chars_in, v.tokens_in) == (t.served_chars, t.served_tokens)
        assert (v.chars_out, v.tokens_out) == (t.received_chars, t.received_tokens)
    status = job_status(store, job["job_id"]).to_json()
    assert report.totals.chars_in == sum(v.chars_in for v in views) == status["cost"]["served_chars"]


@pytest.mark.parametrize("tasks", [1, 3])
def test_counts_in_the_report_take_the_singular_only_for_one(
    store: Store, settings: Settings, tasks: int
) -> None:
    job = drive_job(store, settings, _texts(tasks, 1990), quote_words=3)
    html = render_report(build_report(store, job["job_id"]))
    if tasks == 1:
        assert "1 task ·" in html and "1 finding<" in html and "1 level ·" in html
        assert not any(f"1 {noun}s" in html for noun in ("task", "finding", "level", "theme"))
    else:
        assert "3 tasks ·" in html and "3 findings<" in html
