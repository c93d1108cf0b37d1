"""query_data: the sandbox refuses every escape, long queries are interrupted, big results page,
numbers print exactly, and errors say what to do; the labels view joins labels to records."""

import json
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from rlm_mcp import data
from rlm_mcp.config import Settings, load_settings
from rlm_mcp.errors import InvalidInput, NotFound, RlmError
from rlm_mcp.loading import load_document
from rlm_mcp.store import Store
from rlm_mcp.store import labels as labels_db

from .conftest import project_env

pytestmark = pytest.mark.backends

ESCAPES = {
    "read_csv('/etc/passwd')": "SELECT * FROM read_csv('/etc/passwd')",
    "read_parquet": "SELECT * FROM read_parquet('/etc/x.parquet')",
    "a path as a table": "SELECT * FROM '/etc/passwd'",
    "read_text": "SELECT * FROM read_text('/etc/hostname')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "query()": "SELECT * FROM query('SELECT 1')",
    "COPY": "COPY (SELECT 1) TO '/tmp/rlm-escape.csv'",
    "ATTACH": "ATTACH '/tmp/rlm-escape.db'",
    "INSTALL": "INSTALL httpfs",
    "LOAD": "LOAD httpfs",
    "SET": "SET threads = 1",
    "PRAGMA": "PRAGMA version",
    "multiple statements": "SELECT 1; SELECT 2",
    "a write": "CREATE TABLE t AS SELECT 1",
    "getenv": "SELECT getenv('HOME')",
    "settings": "SELECT * FROM duckdb_settings()",
    "catalog": "SELECT * FROM information_schema.tables",
}


@pytest.fixture
def sales(store: Store, settings: Settings) -> data.DataCopy:
    lines = ["region,amount"] + [
        f"{'EU' if i % 3 else 'US'},{i % 1000}.{i % 100:02d}" for i in range(1, 20_001)
    ]
    (settings.project_dir / "sales.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    load_document(store, settings, "sales.csv")
    return data.open_copy(settings, store)


@pytest.mark.parametrize("sql", list(ESCAPES.values()), ids=list(ESCAPES))
def test_every_sandbox_escape_is_refused_with_a_reason(sales: data.DataCopy, sql: str) -> None:
    with pytest.raises(RlmError) as refused:
        data.query(sales, sql)
    message = str(refused.value)
    assert "Refused" in message or "No table" in message, message
    assert not Path("/tmp/rlm-escape.csv").exists() and not Path("/tmp/rlm-escape.db").exists()


def test_money_sums_print_exactly(sales: data.DataCopy) -> None:
    from decimal import Decimal

    truth = sum(Decimal(f"{i % 1000}.{i % 100:02d}") for i in range(1, 20_001))
    result = data.query(sales, "SELECT sum(amount) AS total, count(*) AS n, avg(1.0) AS one FROM d1")
    assert result.to_text().splitlines()[2] == f"{truth} | 20000 | 1"
    assert result.to_json()["rows"] == [[float(truth), 20000, 1]]
    assert (
        data.format_value(2432188.16) == "2432188.16" and data.format_value(1e20) == "100000000000000000000"
    )


def test_a_ten_million_row_result_is_paged_with_a_total(sales: data.DataCopy) -> None:
    first = data.query(sales, "SELECT range AS n FROM range(10000000)", limit=1000)
    assert len(first.rows) == 1000 and first.total == 10_000_000 and first.next == 1000
    assert "offset=1000" in first.to_text()
    later = data.query(
        sales, "SELECT range AS n FROM range(10000000) WHERE range % 2 = 1", offset=5000, limit=3
    )
    assert (
        [r[0] for r in later.rows] == [10_001, 10_003, 10_005]
        and later.next == 5003
        and later.total == 5_000_000
    )
    assert set(first.to_json()) == {"columns", "rows", "total", "next"}
    assert len(first.to_text()) <= 30_000


def test_a_query_past_the_time_limit_is_interrupted(
    store: Store, project: Path, backend_env: dict[str, str]
) -> None:
    settings = load_settings(project_env(project, RLM_QUERY_SECONDS="0.5", **backend_env))
    (project / "t.csv").write_text("a\n1\n", encoding="utf-8")
    load_document(store, settings, "t.csv")
    copy = data.open_copy(settings, store)
    with pytest.raises(InvalidInput, match="limit and was interrupted"):
        data.query(
            copy, "SELECT count(*) FROM range(100000000) a, range(100000000) b WHERE a.range + b.range < 0"
        )


def test_errors_name_the_real_columns_the_token_and_the_next_tool(sales: data.DataCopy) -> None:
    with pytest.raises(InvalidInput, match=r"No column 'regoin'\. Columns of d1: record, region, amount"):
        data.query(sales, "SELECT regoin FROM d1")
    with pytest.raises(InvalidInput, match=r"syntax error[\s\S]*\^"):
        data.query(sales, "SELECT * FORM d1")
    with pytest.raises(NotFound, match="list_documents"):
        data.query(sales, "SELECT * FROM d99")
    with pytest.raises(NotFound, match="is a table: query the view d1"):
        data.query(sales, "SELECT * FROM d1_lines")  # a table has no lines view
    with pytest.raises(InvalidInput, match="outside document_ids"):
        data.query(sales, "SELECT * FROM d1", document_ids=[2])
    with pytest.raises(InvalidInput, match="where must be a condition"):
        list(data.select_records(sales, 1, ["region"], "1 = 1) UNION SELECT * FROM (SELECT 1, 'x'"))


def test_labels_cross_tab_with_raw_columns_is_exact(store: Store, sales: data.DataCopy) -> None:
    with store.write() as conn:
        job = conn.execute(
            "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at)"
            " VALUES ('q', '{}', 6000, 300, 3, 1, 0) RETURNING id"
        ).fetchone()[0]
        rows = [
            labels_db.LabelRow(job, None, 1, r, "size", "big" if r % 7 == 0 else "small")
            for r in range(1, 20_001)
        ]
        labels_db.insert_labels(conn, rows)
    sql = (
        "SELECT d1.region, l.value, count(*) FROM d1 JOIN labels l ON l.record = d1.record "
        "AND l.document_id = 'd1' AND l.dimension = 'size' GROUP BY ALL ORDER BY 1, 2"
    )
    got = data.query(sales, sql).rows
    truth: dict[tuple[str, str], int] = {}
    for r in range(1, 20_001):
        key = ("EU" if r % 3 else "US", "big" if r % 7 == 0 else "small")
        truth[key] = truth.get(key, 0) + 1
    assert got == tuple((*k, n) for k, n in sorted(truth.items()))


@pytest.mark.anyio
async def test_query_data_over_stdio_is_read_only_and_exact(
    project: Path, backend_env: dict[str, str]
) -> None:
    (project / "sales.csv").write_text("region,amount\nEU,1.10\nUS,2.20\nEU,3.30\n", encoding="utf-8")
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "rlm_mcp", "serve"],
        env=project_env(project, **backend_env),
        cwd=str(project),
    )
    async with Client(params) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        notes = tools["query_data"].annotations
        assert notes is not None and notes.read_only_hint is True and notes.open_world_hint is False
        await client.call_tool("load_document", {"path": "sales.csv"})
        answer = await client.call_tool(
            "query_data",
            {"sql": "SELECT region, sum(amount) s FROM d1 GROUP BY 1 ORDER BY 1", "response_format": "json"},
        )
        assert json.loads(answer.content[0].text) == {
            "columns": ["region", "s"],
            "rows": [["EU", 4.4], ["US", 2.2]],
            "total": 2,
        }
        refused = await client.call_tool("query_data", {"sql": "COPY d1 TO '/tmp/x.csv'"})
        assert refused.is_error and "Refused" in refused.content[0].text
