"""The columnar copy at load: exact counts and sums equal a direct Python count, record numbers
equal the chunks', and bad input (ragged rows, odd headers, mixed JSON types) loses no record."""

import csv
import io
import json
import os
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp import data
from rlm_mcp.chunking.profiles import render_profile
from rlm_mcp.config import Settings
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.errors import NotFound, RlmError
from rlm_mcp.loading import load_document
from rlm_mcp.store import Store
from rlm_mcp.store import copies as copies_db

pytestmark = pytest.mark.backends

STATUSES = ("open", "closed", "pending")


def _load(store: Store, settings: Settings, name: str, text: str | bytes) -> Any:
    path = settings.project_dir / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return load_document(store, settings, name).documents[0]


def _rows(copy: data.DataCopy, sql: str) -> list[tuple[Any, ...]]:
    return list(data.query(copy, sql, limit=1000).rows)


def _orders(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        {"id": i, "status": rng.choice(STATUSES), "amount": f"{rng.randint(0, 999_999) / 100:.2f}",
         "note": rng.choice(["plain", "a, comma", 'say "hi"', "two\nlines"])}
        for i in range(1, n + 1)
    ]  # fmt: skip


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_table_counts_sums_and_record_numbers_equal_a_direct_count(
    store: Store, settings: Settings, delimiter: str
) -> None:
    orders = _orders(30_000)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(orders[0]), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(orders)
    doc = _load(store, settings, "orders.tsv" if delimiter == "\t" else "orders.csv", out.getvalue())
    copy = data.open_copy(settings, store)
    view = f"d{doc.id}"
    got = {
        s: (n, total)
        for s, n, total in _rows(copy, f"SELECT status, count(*), sum(amount) FROM {view} GROUP BY 1")
    }
    for status in STATUSES:
        mine = [o for o in orders if o["status"] == status]
        assert got[status] == (len(mine), sum(Decimal(o["amount"]) for o in mine))
    info = data.copy_info(copy, doc.id)
    assert info.records == 30_000 and dict(info.columns)["amount"].startswith("DECIMAL")
    conn = store.conn()
    chunks = conn.execute(
        "SELECT text, start_row, end_row FROM chunks WHERE document_id = ?", (doc.id,)
    ).fetchall()
    for text, start, end in chunks[::50]:
        ids = [int(r[0]) for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
        copied = _rows(copy, f"SELECT id FROM {view} WHERE record BETWEEN {start} AND {end} ORDER BY record")
        assert [r[0] for r in copied] == ids
    assert data.count_records(copy, doc.id, "status = 'open'") == sum(o["status"] == "open" for o in orders)
    picked = list(data.select_records(copy, doc.id, ["status"], "id % 1000 = 0"))
    assert picked == [(i, {"status": orders[i - 1]["status"]}) for i in range(1000, 30_001, 1000)]


@pytest.mark.parametrize("nested", [False, True])
def test_json_arrays_count_every_element_and_chunks_split_by_element(
    store: Store, settings: Settings, nested: bool
) -> None:
    rng = random.Random(3)
    orders = [{"id": i, "status": rng.choice(STATUSES), "total": i * 0.25} for i in range(20_000)]
    body = {"meta": {"source": "shop"}, "orders": orders} if nested else orders
    doc = _load(store, settings, "orders.json", json.dumps(body, indent=1))
    copy = data.open_copy(settings, store)
    truth = Counter(o["status"] for o in orders)
    got = dict(_rows(copy, f"SELECT status, count(*) FROM d{doc.id} WHERE status IS NOT NULL GROUP BY 1"))
    assert got == truth
    sections = [
        r[0] for r in store.conn().execute("SELECT section FROM chunks WHERE document_id = ?", (doc.id,))
    ]
    assert not any("part" in s for s in sections)
    prefix = "$.orders[" if nested else "$["
    assert sum(s.startswith(prefix) for s in sections) > 100
    per_chunk: Counter[str] = Counter()
    for (text,) in store.conn().execute("SELECT text FROM chunks WHERE document_id = ?", (doc.id,)):
        per_chunk.update(json.loads(f"[{text}]")[i]["status"] for i in range(text.count('"status"')))
    assert per_chunk == truth  # an analyst counting chunk by chunk is exact too


def test_jsonl_records_disagreeing_on_types_are_widened_and_said_so(store: Store, settings: Settings) -> None:
    lines = [json.dumps({"id": i, "code": i if i % 2 else f"x{i}", "ok": True}) for i in range(1, 1001)]
    lines.insert(500, "{broken")
    doc = _load(store, settings, "events.jsonl", "\n".join(lines) + "\n")
    copy = data.open_copy(settings, store)
    assert _rows(copy, f"SELECT count(*), count(DISTINCT id), max(record) FROM d{doc.id}") == [
        (1000, 1000, 1000)
    ]
    assert any("code" in w and "type" in w for w in doc.warnings), doc.warnings


def test_ragged_rows_blank_lines_and_odd_headers_keep_every_record(store: Store, settings: Settings) -> None:
    text = "id,name,,name,record\n1,a,x,y,z\n\n2,b\n3,c,x,y,z,extra1,extra2\n4,d,x,y,z\n"
    doc = _load(store, settings, "odd.csv", text)
    copy = data.open_copy(settings, store)
    info = data.copy_info(copy, doc.id)
    names = [n for n, _ in info.columns]
    assert names[:6] == ["record", "id", "name", "column_3", "name_2", "record_2"]
    rows = _rows(copy, f"SELECT record, id, name, extra_fields FROM d{doc.id} ORDER BY record")
    assert rows == [(1, 1, "a", None), (2, 2, "b", None), (3, 3, "c", "extra1,extra2"), (4, 4, "d", None)]
    assert any("duplicate" in w for w in doc.warnings) and any("empty header" in w for w in doc.warnings)
    conn = store.conn()
    assert conn.execute("SELECT max(end_row) FROM chunks WHERE document_id = ?", (doc.id,)).fetchone()[0] == 4


def test_log_like_text_is_lines_not_a_table_and_every_line_counts(store: Store, settings: Settings) -> None:
    lines = [f"Date: 2024-01-{i % 28 + 1:02d} || User: u{i % 13} || Instance: i{i % 3}" for i in range(777)]
    doc = _load(store, settings, "events.txt", "\n".join(lines) + "\n")
    assert doc.content_type == "log"
    copy = data.open_copy(settings, store)
    want = sum("User: u3 " in line for line in lines)
    got = _rows(
        copy, f"SELECT count(*), count(*) FILTER (WHERE text LIKE '%User: u3 %') FROM d{doc.id}_lines"
    )
    assert got == [(777, want)]


@pytest.mark.parametrize(
    "raw",
    [
        b"\xef\xbb\xbfone\r\ntwo\r\n\r\nfour",
        b"a\rb\rc\n",
        b"ok\nbad \xff byte\n\x01sep\n",
        b"\xef\xbb\xbf\xef\xbb\xbftwice\n\xef\xbb\xbflater\n\n",
        b"no newline at the end, no bom",
    ],
    ids=["bom-crlf", "lone-cr", "invalid-utf8", "bom-twice", "no-final-newline"],
)
def test_text_lines_match_the_lines_the_chunks_number(store: Store, settings: Settings, raw: bytes) -> None:
    doc = _load(store, settings, "notes.txt", raw)
    copy = data.open_copy(settings, store)
    expected = raw.decode("utf-8-sig", errors="replace").splitlines()
    got = _rows(copy, f"SELECT line, text FROM d{doc.id}_lines ORDER BY line")
    assert got == [(i, line) for i, line in enumerate(expected, start=1)]


def test_a_lines_copy_with_a_stored_line_column_reads_the_same(store: Store, settings: Settings) -> None:
    """Copies written before the one-pass lines copy hold `line` as a column; the view numbers lines by
    their position either way, so such a file answers exactly what it held."""
    import duckdb

    lines = [f"entry {i} {'error' if i % 7 == 0 else 'ok'}" for i in range(1, 3001)]
    doc = _load(store, settings, "old.txt", "\n".join(lines) + "\n")
    copy = data.open_copy(settings, store)
    path = copy.directory / data.copy_info(copy, doc.id).file
    old = path.with_name("old-format.parquet")
    with duckdb.connect() as conn:
        conn.execute(
            f"COPY (SELECT file_row_number + 1 AS line, text FROM read_parquet('{path}', file_row_number = "
            f"true)) TO '{old}' (FORMAT parquet, ROW_GROUP_SIZE 1024)"
        )
    os.replace(old, path)
    sql = f"SELECT line, text FROM d{doc.id}_lines WHERE text LIKE '%error%' ORDER BY line"
    assert _rows(copy, sql) == [(i, line) for i, line in enumerate(lines, start=1) if "error" in line]
    assert _rows(copy, f"SELECT max(line), count(*) FROM d{doc.id}_lines") == [(3000, 3000)]


def test_a_2500_column_table_is_queried(store: Store, settings: Settings) -> None:
    width, rows = 2500, 300
    header = ",".join(["status", "year", *(f"f{i}" for i in range(width - 2))])
    lines = [header] + [
        ",".join([STATUSES[r % 3], str(2020 + r % 4), *("1" for _ in range(width - 2))]) for r in range(rows)
    ]
    doc = _load(store, settings, "wide.csv", "\n".join(lines) + "\n")
    copy = data.open_copy(settings, store)
    got = _rows(copy, f"SELECT status, year, count(*), sum(f2497) FROM d{doc.id} GROUP BY ALL ORDER BY 1, 2")
    truth = Counter((STATUSES[r % 3], 2020 + r % 4) for r in range(rows))
    assert got == [(s, y, n, n) for (s, y), n in sorted(truth.items())]
    assert len(data.copy_info(copy, doc.id).columns) == width + 1


def test_reload_replaces_the_copy_and_removal_removes_it(store: Store, settings: Settings) -> None:
    doc = _load(store, settings, "t.csv", "k,v\na,1\nb,2\n")
    copy = data.open_copy(settings, store)
    first = data.copy_info(copy, doc.id).file
    again = _load(store, settings, "t.csv", "k,v\na,1\nb,2\nc,3\n")
    assert again.id == doc.id and again.status == "updated"
    second = data.copy_info(copy, doc.id).file
    assert second != first and not (copy.directory / first).exists()
    assert _rows(copy, f"SELECT sum(v) FROM d{doc.id}") == [(6,)]
    assert [p.name for p in copy.directory.glob("*.parquet*")] == [second]
    stored = (1, (copy.directory / second).stat().st_size) if store.backend == "postgres" else (0, 0)
    assert copies_db.stored_bytes(store.conn()) == stored  # Postgres holds the one current version
    remove_document(store, doc.id)
    assert list(copy.directory.glob("*.parquet*")) == []
    assert copies_db.stored_bytes(store.conn()) == (0, 0)


def test_profile_carries_exact_top_values(store: Store, settings: Settings) -> None:
    orders = _orders(5000)
    text = "id,status\n" + "".join(f"{o['id']},{o['status']}\n" for o in orders)
    doc = _load(store, settings, "s.csv", text)
    top = doc.profile["top_values"]
    assert dict(map(tuple, top["status"])) == Counter(o["status"] for o in orders)
    assert "id" not in top


def test_profile_prints_bounds_and_top_values_exactly_never_rounded(store: Store, settings: Settings) -> None:
    """min/max exact (2432188.16, not 2.43e+06; 20 digits kept; no exponent), and
    exact counts for low-cardinality columns of every countable type, decimals and dates included."""
    rng = random.Random(11)
    discounts = [rng.choice(["0.00", "0.05", "0.10"]) for _ in range(3000)]
    days = [f"2024-01-0{rng.randint(1, 3)}" for _ in range(3000)]
    amounts = [f"{rng.randint(1, 99_999)}.{rng.randint(0, 99):02d}" for _ in range(3000)]
    amounts[7], amounts[8] = "2432188.16", "0.00001"
    wide = [str(rng.randint(1, 9)) for _ in range(3000)]
    wide[9] = "12345678901234567.89"
    rows = zip(amounts, discounts, days, wide, strict=True)
    text = "amount,discount,day,big,comment\n" + "".join(
        f"{a},{d},{day},{b},note {i}\n" for i, (a, d, day, b) in enumerate(rows)
    )
    doc = _load(store, settings, "money.csv", text)
    rendered = render_profile(doc.profile)
    assert "amount float [0.00001..2432188.16]" in rendered, rendered
    assert "[1..12345678901234567.89]" in rendered, rendered
    assert "e+" not in rendered and "e-0" not in rendered
    top = {name: dict(map(tuple, pairs)) for name, pairs in doc.profile["top_values"].items()}
    assert top["discount"] == {float(k): n for k, n in Counter(discounts).items()}
    assert top["day"] == Counter(days)
    assert "comment" not in top and "amount" not in top  # thousands of distinct values: no counts
    n = Counter(discounts)["0.05"]
    assert f"discount 0.05 {n:,}" in rendered or f"0.05 {n:,}" in rendered, rendered


def test_copies_can_be_turned_off(store: Store, project: Path, backend_env: dict[str, str]) -> None:
    from rlm_mcp.config import load_settings

    from .conftest import project_env

    off = load_settings(project_env(project, RLM_DATA_COPY="0", **backend_env))
    doc = _load(store, off, "t.csv", "k,v\na,1\n")
    with pytest.raises(NotFound):
        data.copy_info(data.open_copy(off, store), doc.id)


def test_the_staging_read_streams_a_file_larger_than_its_memory_limit(tmp_path: Path) -> None:
    """DuckDB's serial CSV reader sized its buffer to the whole file (a 400 MB CSV asked for 382 MiB
    and got no copy); with bounded buffers and row groups a 51 MB file stages under a 40 MB limit."""
    from rlm_mcp.data import conversion, tables
    from rlm_mcp.hashing import PinnedFile

    rng = random.Random(1)
    body = "".join(f"{i},{rng.choice(STATUSES)},{'x' * rng.randint(150, 250)}\n" for i in range(240_000))
    source = tmp_path / "big.csv"
    source.write_text("id,status,note\n" + body, encoding="utf-8")
    assert source.stat().st_size > 50_000_000
    pinned = PinnedFile(os.open(source, os.O_RDONLY), source)
    layout = tables.sniff_layout(pinned, "csv")
    pinned.close()
    assert layout is not None
    stage = tmp_path / "stage.parquet"
    with conversion.build_connection(1, tmp_path / "spill", layout.width, base_mb=40) as conn:
        tables.stage_source(conn, source, layout, stage)
        assert conversion.parquet_rows(conn, stage) == 240_000


@pytest.mark.parametrize("fails", ["before the copy is renamed", "after the copy is renamed"])
def test_a_swap_that_fails_leaves_no_copy_file_and_the_old_copy_answers(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    doc = _load(store, settings, "t.csv", "k,v\na,1\nb,2\n")
    copy = data.open_copy(settings, store)
    before = sorted(p.name for p in copy.directory.iterdir())
    install = data.install_copy

    def failing_install(*args: Any) -> str | None:
        if fails.startswith("after"):
            install(*args)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data, "install_copy", failing_install)
    (settings.project_dir / "t.csv").write_text("k,v\na,1\nb,2\nc,3\n")
    with pytest.raises(RlmError, match="No space left"):
        load_document(store, settings, "t.csv")
    assert sorted(p.name for p in copy.directory.iterdir()) == before  # no temp, no orphaned final file
    assert _rows(copy, f"SELECT sum(v) FROM d{doc.id}") == [(3,)]
    monkeypatch.undo()
    again = _load(store, settings, "t.csv", "k,v\na,1\nb,2\nc,3\n")
    assert again.id == doc.id and _rows(copy, f"SELECT sum(v) FROM d{doc.id}") == [(6,)]
