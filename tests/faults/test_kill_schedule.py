"""kill -9 on a seeded schedule (issue 13): a load, a reload, an embedding run, a claim/submit loop and
synthesize are each killed at several seeded points (a progress point of the driver process, then a
seeded delay, or a seeded delay from the start); the store is checked right after the kill (nothing
half-visible), the operation is run again to its end, and the store is compared with a clean
reference built without kills: documents, chunk texts and digests, FTS (its own integrity check) and
vector counts, the columnar copies, every task done exactly once, findings neither lost nor doubled,
the same synthesis.

The seed is RLM_FAULT_SEED (default 13; the failing seed is in the assertion message). Each killed
run prints its points (`-s`).
"""

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlm_mcp import data
from rlm_mcp.config import Settings, load_settings
from rlm_mcp.jobs import create_job
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import open_store
from rlm_mcp.store import vectors as vectors_db

from ..conftest import REPO, project_env

SEED = int(os.environ.get("RLM_FAULT_SEED", "13"))
DRIVER = Path(__file__).with_name("driver.py")
LEASE_SECONDS = 300
KILL_TIMEOUT = 120.0


# -- the data ------------------------------------------------------------------------------------


def write_sources(folder: Path, version: int) -> None:
    """A log and a CSV; version 2 changes some lines and rows and adds more (a reload of both)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "service.log").open("w", encoding="utf-8") as out:
        for i in range(9_000 + 1_500 * (version - 1)):
            state = "error" if (i % 37 == 0 and version == 2) else "ok"
            out.write(f"2026-12-02T00:{i % 60:02d}:{i % 59:02d} INFO request {i} {state} in {i % 97} ms\n")
    with (folder / "orders.csv").open("w", encoding="utf-8") as out:
        out.write("order_id,customer,amount,status\n")
        for i in range(6_000 + 800 * (version - 1)):
            status = "refunded" if (version == 2 and i % 11 == 0) else ("open" if i % 3 else "shipped")
            out.write(f"{i},customer {i % 211},{(i * 37) % 1000}.{i % 100:02d},{status}\n")


# -- the store, as what it holds (ids left out where a kill may have used some) -----------------


def snapshot(settings: Settings, with_jobs: bool = False) -> dict[str, Any]:
    store = open_store(settings.db_path)
    try:
        conn = store.conn()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        with store.write() as wconn:  # FTS5's own check: the index holds exactly the chunks' text
            wconn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
        copy = data.open_copy(settings, store)
        documents: dict[str, Any] = {}
        for doc_id, name, kind, size, digest in conn.execute(
            "SELECT id, name, content_type, bytes, content_hash FROM documents WHERE state = 'ready'"
        ).fetchall():
            chunks = conn.execute(
                "SELECT ordinal, content_hash, text FROM chunks WHERE document_id = ? ORDER BY ordinal",
                (doc_id,),
            ).fetchall()
            assert all(hashlib.blake2b(t.encode(), digest_size=16).hexdigest() == h for _, h, t in chunks)
            records = data.copy_info(copy, doc_id).records
            documents[name] = (kind, size, digest, [(o, h) for o, h, _ in chunks], records)
        result: dict[str, Any] = {
            "documents": documents,
            "chunks": conn.execute(
                "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.state = 'ready'"
            ).fetchone()[0],
            "fts": conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0],
            "fts_hits": conn.execute(
                "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'refunded OR error'"
            ).fetchone()[0],
            "vectors": vectors_db.count_vectors(conn),
        }
        if with_jobs:
            result["tasks"] = [
                tuple(r)
                for r in conn.execute(
                    "SELECT ordinal, state, counts, stats, submission_hash FROM tasks ORDER BY level, ordinal"
                )
            ]
            result["findings"] = sorted(
                tuple(r)
                for r in conn.execute(
                    "SELECT t.ordinal, f.position, f.chunk_id, f.title, f.evidence, f.verified "
                    "FROM findings f JOIN tasks t ON t.id = f.task_id"
                ).fetchall()
            )
        return result
    finally:
        store.close()


def staging_rows(settings: Settings) -> int:
    store = open_store(settings.db_path)
    try:
        return int(
            store.conn().execute("SELECT count(*) FROM documents WHERE state = 'loading'").fetchone()[0]
        )
    finally:
        store.close()


# -- running and killing the driver ----------------------------------------------------------------


class Run:
    def __init__(self, killed: bool, marks: int, seconds: float) -> None:
        self.killed, self.marks, self.seconds = killed, marks, seconds


def run(
    project: Path,
    args: list[str],
    kill_at_mark: int | None = None,
    delay: float = 0.0,
    command: list[str] | None = None,
) -> Run:
    """Run the driver (or `command`) on `project`; with `kill_at_mark` (0: from the start), SIGKILL
    it `delay` seconds after that progress point. Returns whether the kill landed before its end."""
    env = project_env(project, RLM_LEASE_SECONDS=str(LEASE_SECONDS), PYTHONPATH=str(REPO))
    argv = command or [sys.executable, str(DRIVER), *args]
    log = project.parent / f"{project.name}.stderr"
    started = time.monotonic()
    with log.open("a") as err:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=err, text=True)
        assert process.stdout is not None
        marks = 0
        if kill_at_mark is not None:
            if kill_at_mark == 0:
                time.sleep(delay)
            else:
                for line in process.stdout:
                    if line.startswith("mark"):
                        marks += 1
                        if marks >= kill_at_mark:
                            time.sleep(delay)
                            break
            process.send_signal(signal.SIGKILL)
            process.wait(KILL_TIMEOUT)
            rest = process.stdout.read()
            process.stdout.close()
            return Run(
                process.returncode == -signal.SIGKILL and "done" not in rest,
                marks,
                time.monotonic() - started,
            )
        out = process.stdout.read()
        process.stdout.close()
        process.wait(KILL_TIMEOUT)
    assert process.returncode == 0, log.read_text()[-3000:]
    assert command is not None or out.rstrip().endswith("done"), out[-500:]
    return Run(False, out.count("mark"), time.monotonic() - started)


def fresh(tmp_path: Path, name: str, template: Path | None = None) -> tuple[Path, Settings]:
    """A project for one kill point: empty, or `template` (sources and store) put back in its place
    (the store names its documents by absolute path, so a copy elsewhere would be other documents)."""
    project = tmp_path / name
    if template is not None:
        project = tmp_path / template.name.split(".")[0]
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(template, project, symlinks=True)
    else:
        project.mkdir()
    return project, load_settings(project_env(project))


def save(project: Path, label: str = "start") -> Path:
    """Keep the project as it is now, to start several kill points from it (see `fresh`)."""
    saved = project.with_name(f"{project.name}.{label}.saved")
    shutil.copytree(project, saved, symlinks=True)
    return saved


def points(rng: random.Random, count: int, max_mark: int, max_delay: float) -> list[tuple[int, float]]:
    """`count` kill points: a progress mark (0: timed from the start) and a delay after it."""
    chosen = [(0, rng.uniform(0.3, 1.5))]
    while len(chosen) < count:
        chosen.append((rng.randint(1, max_mark), rng.uniform(0.0, max_delay)))
    return chosen


# -- the schedule -------------------------------------------------------------------------------


def test_kill_during_load_and_reload_then_rerun_matches_a_clean_store(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    reference, ref_settings = fresh(tmp_path, "reference")
    write_sources(reference / "docs", 1)
    store = open_store(ref_settings.db_path)
    load_document(store, ref_settings, "docs")
    store.close()
    loaded_v1 = snapshot(ref_settings)
    template = save(reference)
    write_sources(reference / "docs", 2)
    store = open_store(ref_settings.db_path)
    load_document(store, ref_settings, "docs")
    store.close()
    loaded_v2 = snapshot(ref_settings)
    assert (
        loaded_v1["documents"].keys()
        == loaded_v2["documents"].keys()
        == {"docs/service.log", "docs/orders.csv"}
    )

    killed = 0
    for n, (mark, delay) in enumerate(points(rng, 3, 4, 0.2)):
        project, settings = fresh(tmp_path, f"load-{n}")
        write_sources(project / "docs", 1)
        outcome = run(project, ["load", "docs"], mark, delay)
        killed += outcome.killed
        print(f"load killed at mark {mark} + {delay:.2f} s: killed={outcome.killed}")
        after = snapshot(settings)
        for name, doc in after["documents"].items():  # what is visible is whole
            assert doc == loaded_v1["documents"][name], f"seed {SEED}: half a document {name} after a kill"
        run(project, ["load", "docs"])
        assert snapshot(settings) == loaded_v1, f"seed {SEED}, load point {n}"
        assert staging_rows(settings) == 0

    for n, (mark, delay) in enumerate(points(rng, 3, 4, 0.2)):
        project, settings = fresh(tmp_path, f"reload-{n}", template)
        write_sources(project / "docs", 2)
        outcome = run(project, ["load", "docs"], mark, delay)
        killed += outcome.killed
        print(f"reload killed at mark {mark} + {delay:.2f} s: killed={outcome.killed}")
        after = snapshot(settings)
        for name, doc in after["documents"].items():  # each document: the old version or the new, whole
            assert doc in (loaded_v1["documents"][name], loaded_v2["documents"][name]), f"seed {SEED}: {name}"
        assert after["documents"].keys() == loaded_v1["documents"].keys()  # a reload never loses a document
        run(project, ["load", "docs"])
        assert snapshot(settings) == loaded_v2, f"seed {SEED}, reload point {n}"
        assert staging_rows(settings) == 0
    # On free cores a load can end before a late point: at least half the kills must land.
    assert killed >= 3, f"seed {SEED}: only {killed} of 6 kills landed before the end"


def _vectors(settings: Settings) -> dict[str, np.ndarray[Any, Any]]:
    store = open_store(settings.db_path)
    try:
        rows = (
            store.conn()
            .execute(
                "SELECT c.content_hash, v.embedding FROM chunks_vec v JOIN chunks c ON c.id = v.chunk_id"
            )
            .fetchall()
        )
        return {h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows}
    finally:
        store.close()


def test_kill_during_embedding_then_rerun_stores_every_vector_once(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    template, settings = fresh(tmp_path, "template")
    (template / "notes.md").write_text(
        "\n\n".join(
            f"## Section {i}\n\n" + f"Harbour note {i}: ship {i % 13} came in at dawn. " * 9
            for i in range(80)
        ),
        encoding="utf-8",
    )
    store = open_store(settings.db_path)
    (doc,) = load_document(store, settings, "notes.md").documents
    store.close()
    assert doc.chunks > 64  # more than one embedding batch
    saved = save(template)
    run(template, ["embed"])
    expected = _vectors(settings)
    assert len(expected) == snapshot(settings)["chunks"]
    template = saved

    killed = 0
    for n, (mark, delay) in enumerate(points(rng, 3, 2, 0.5)):
        project, settings = fresh(tmp_path, f"embed-{n}", template)
        outcome = run(project, ["embed"], mark, delay)
        killed += outcome.killed
        print(f"embed killed at mark {mark} + {delay:.2f} s: killed={outcome.killed}")
        for digest, vector in _vectors(settings).items():  # a stored vector is a finished one
            np.testing.assert_allclose(vector, expected[digest], atol=1e-5)
        run(project, ["embed"])
        got = _vectors(settings)
        state = snapshot(settings)
        assert state["vectors"] == state["chunks"] == len(got) == len(expected), f"seed {SEED + 1}, point {n}"
        for digest, vector in got.items():
            np.testing.assert_allclose(vector, expected[digest], atol=1e-5)
        store = open_store(settings.db_path)
        assert vectors_db.backlog(store.conn()) == 0
        store.close()
    assert killed >= 2, f"seed {SEED + 1}: only {killed} of 3 kills landed before the end"


def test_kill_during_claims_submissions_and_synthesize_loses_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    template, settings = fresh(tmp_path, "template")
    write_sources(template / "docs", 1)
    store = open_store(settings.db_path)
    load_document(store, settings, "docs/service.log")
    plan = create_job(store, settings, "Which requests failed?", task_tokens=6000)
    store.close()
    job = f"j{plan.job_id}"
    tasks = len(snapshot(settings, with_jobs=True)["tasks"])
    assert tasks >= 8
    saved = save(template)
    run(template, ["work", job, "ref"])
    done = snapshot(settings, with_jobs=True)
    reference = save(template, "worked")
    assert [t[1] for t in done["tasks"]] == ["done"] * tasks
    assert len(done["findings"]) == done["chunks"]  # one finding per chunk of the document

    killed = 0
    for n, (mark, delay) in enumerate(points(rng, 4, 2 * tasks - 1, 0.05)):
        project, settings = fresh(tmp_path, f"work-{n}", saved)
        outcome = run(project, ["work", job, "first"], mark, delay)
        killed += outcome.killed
        print(f"claim/submit killed at mark {mark} + {delay:.2f} s: killed={outcome.killed}")
        after = snapshot(settings, with_jobs=True)
        finished = {t[0] for t in after["tasks"] if t[1] == "done"}
        orphans = [f for f in after["findings"] if f[0] not in finished]
        assert not orphans  # no finding without its task done
        assert after["findings"] == [f for f in done["findings"] if f[0] in finished], f"seed {SEED + 2}"
        run(project, ["work", job, "second", str(LEASE_SECONDS + 1)])  # after the killed worker's lease
        assert snapshot(settings, with_jobs=True) == done, f"seed {SEED + 2}, claim/submit point {n}"
    assert killed >= 3, f"seed {SEED + 2}: only {killed} of 4 kills landed before the end"

    synthesize = [sys.executable, "-m", "rlm_mcp", "synthesize", job, "--json"]

    def synthesize_in(project: Path) -> dict[str, Any]:
        done = subprocess.run(synthesize, env=project_env(project), cwd=REPO, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        answer = dict(json.loads(done.stdout))
        page = Path(answer.pop("report"))
        assert page.read_bytes().rstrip().endswith(b"</html>")
        return answer

    project, _ = fresh(tmp_path, "", reference)
    first = synthesize_in(project)  # a first call may plan a reduce level; a second one finds it planned
    synthesized = snapshot(load_settings(project_env(project)), with_jobs=True)
    started = time.monotonic()
    second = synthesize_in(project)
    seconds = time.monotonic() - started
    for n, (low, high) in enumerate([(0.2, 0.6), (0.6, 0.9), (0.9, 1.0)]):  # start-up, planning, report
        project, settings = fresh(tmp_path, f"synthesize-{n}", reference)
        shutil.rmtree(project / ".rlm" / "reports", ignore_errors=True)
        before = snapshot(settings, with_jobs=True)
        delay = rng.uniform(low * seconds, high * seconds)
        outcome = run(project, [], 0, delay, command=synthesize)
        print(f"synthesize killed at {delay:.2f} s of {seconds:.2f}: killed={outcome.killed}")
        for page in (project / ".rlm" / "reports").glob("*.html"):
            assert page.read_bytes().rstrip().endswith(b"</html>")  # a report is whole or absent
        after = snapshot(settings, with_jobs=True)
        assert after in (before, synthesized), f"seed {SEED + 2}: half a reduce level"  # all or none
        print(f"  its reduce level {'was not' if after == before else 'was'} committed before the kill")
        answer = synthesize_in(project)
        assert answer == (first if after == before else second), f"seed {SEED + 2}, synthesize point {n}"
        assert snapshot(settings, with_jobs=True) == synthesized


@pytest.fixture(autouse=True)
def _no_background_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLM_EMBED_BACKGROUND", "0")
