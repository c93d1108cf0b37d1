"""A loaded table's column profile comes from DuckDB (data/profiling.py) and is, figure for figure,
the profile the Python profiler computes (chunking/columns.py) and a direct count gives; the chunker
that skips parsing clean lines cuts the very chunks of the one that parses them."""

import csv
import io
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp import data
from rlm_mcp.chunking import columns
from rlm_mcp.chunking.tabular import TabularChunker
from rlm_mcp.config import Settings
from rlm_mcp.data import building, conversion, profiling, tables
from rlm_mcp.loading import load_document
from rlm_mcp.store import Store

Values = Callable[[random.Random, int], str]


def _python_profile(text: str, content_type: str = "csv") -> tuple[list[Any], dict[str, Any]]:
    chunker = TabularChunker(content_type)
    chunks = list(chunker.chunks(io.StringIO(text, newline="")))
    return chunks, chunker.profile()


def _load(store: Store, settings: Settings, name: str, text: str) -> Any:
    (settings.project_dir / name).write_text(text, encoding="utf-8", newline="")
    return load_document(store, settings, name).documents[0]


def _table(generators: dict[str, Values], rows: int, seed: int, line_end: str = "\n") -> str:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(list(generators))
    for i in range(rows):
        writer.writerow([make(rng, i) for make in generators.values()])
    return out.getvalue()


def _sometimes(rng: random.Random, value: str, *others: str) -> str:
    return rng.choice(others) if rng.random() < 0.05 else value


COLUMNS: dict[str, Values] = {
    "id": lambda r, i: str(i + 1),
    "signed": lambda r, i: str(r.randint(-(10**12), 10**12)),
    "huge": lambda r, i: str(r.randint(-(10**30), 10**30)),  # beyond BIGINT: read by Python
    "zeros": lambda r, i: f"{r.randint(0, 999):04d}",
    "price": lambda r, i: _sometimes(r, f"{r.randint(0, 10**8) / 100:.2f}", "", "NULL", "NA"),
    "mixed_num": lambda r, i: r.choice([str(r.randint(0, 9)), f"{r.random():.3f}", "1e5", " 7 ", "inf"]),
    "odd_int": lambda r, i: r.choice(["+5", "-0", " 12", "1_000", "٣", "8"]),
    "day": lambda r, i: f"20{r.randint(10, 29)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
    "stamp": lambda r, i: f"2024-02-0{r.randint(1, 9)}T10:{r.randint(0, 59):02d}:00Z",
    "day_or_stamp": lambda r, i: r.choice(["2024-01-02", "2024-01-03 04:05", "2023-12-31T23:59:59.5+01:00"]),
    "flag": lambda r, i: r.choice(["true", "False", "TRUE", "null"]),
    "word": lambda r, i: r.choice(["alpha", "beta, gamma", 'say "hi"', "", "N/A"]),
    "spaces": lambda r, i: r.choice([" a", "b ", "  ", "c"]),
    "nearly_int": lambda r, i: str(r.randint(0, 99)) if i != 777 else "x99",
    "nearly_date": lambda r, i: "2024-02-30" if i == 5 else f"2024-03-{r.randint(10, 28)}",
    "all_null": lambda r, i: r.choice(["", "NULL"]),
    "comment": lambda r, i: " ".join(r.choice(["quick", "brown", "fox", "dog"]) for _ in range(6)) + str(i),
}  # fmt: skip


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_duckdb_profile_equals_the_python_profile_and_direct_counts(
    store: Store, settings: Settings, line_end: str
) -> None:
    text = _table(COLUMNS, 3000, seed=len(line_end), line_end=line_end)
    doc = _load(store, settings, "mixed.csv", text)
    _, python = _python_profile(text)
    assert doc.profile["column_profiles"] == python["column_profiles"]
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    for index, column in enumerate(doc.profile["column_profiles"]):
        values = [row[index] for row in rows]
        present = {v for v in values if v and v not in columns.NULL_TOKENS}
        assert column["nulls"] == len(values) - sum(1 for v in values if v and v not in columns.NULL_TOKENS)
        assert column["distinct"] == len(present)
    kinds = {c["name"]: c["type"] for c in doc.profile["column_profiles"]}
    assert kinds == {
        "id": "integer", "signed": "integer", "huge": "integer", "zeros": "integer", "price": "float",
        "mixed_num": "float", "odd_int": "integer", "day": "date", "stamp": "datetime",
        "day_or_stamp": "datetime", "flag": "boolean", "word": "string", "spaces": "string",
        "nearly_int": "string", "nearly_date": "date", "all_null": "empty", "comment": "string",
    }  # fmt: skip


def test_a_file_that_is_not_clean_is_profiled_from_the_records_python_reads(
    store: Store, settings: Settings
) -> None:
    """Quoted line breaks, a stray quote, ragged and blank lines: not clean, so DuckDB profiles the
    normalized records; padded ragged rows count as Python counts them."""
    text = _table({"n": COLUMNS["signed"], "note": lambda r, i: r.choice(["a\nb", 'x"y', "plain"])}, 2000, 3)
    text += "5\n\n7,a,b\n" + 'q"x,1\n' + "8, 9\n"
    doc = _load(store, settings, "ragged.csv", text)
    _, python = _python_profile(text)
    assert doc.profile["column_profiles"] == python["column_profiles"]
    assert doc.profile["ragged_rows"] == python["ragged_rows"] == 2


def test_a_load_without_a_copy_profiles_in_python(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, store: Store
) -> None:
    monkeypatch.setattr(data, "start_copy", lambda *args, **kwargs: None)
    text = _table(COLUMNS, 500, seed=9)
    doc = _load(store, settings, "plain.csv", text)
    assert doc.profile["column_profiles"] == _python_profile(text)[1]["column_profiles"]


@pytest.mark.parametrize(
    "text",
    [
        _table(COLUMNS, 4000, seed=1),
        _table({"a": COLUMNS["word"], "b": COLUMNS["id"]}, 30000, seed=2, line_end="\r\n"),
        "a,b\n" + "".join(f'{i},"x\ny"\n' if i % 997 == 0 else f"{i},z\n" for i in range(40000)),
        "a,b\n" + "".join(f"{i},5'11\"\n" if i % 1001 == 0 else f"{i},z\n" for i in range(40000)),
        "a;b\n" + "".join(f"{i};{i}\n" if i % 5000 else f"{i}\n" for i in range(40000)),
        "a\n" + "".join(f"{i}\n" if i % 3000 else "\n" for i in range(30000)),
    ],
    ids=["mixed", "crlf", "quoted-newlines", "stray-quote", "ragged", "one-column-blank-lines"],
)
def test_unparsed_clean_blocks_give_the_chunks_of_the_parsing_chunker(text: str) -> None:
    parsed, profile = _python_profile(text)
    chunker = TabularChunker("csv", profile_columns=False)
    unparsed = list(chunker.chunks(io.StringIO(text, newline="")))
    assert unparsed == parsed
    without = chunker.profile()
    assert "column_profiles" not in without
    assert without == {k: v for k, v in profile.items() if k != "column_profiles"}
    assert chunker.header == [c["name"] for c in profile["column_profiles"]]


def test_clean_says_whether_every_record_was_one_plain_line() -> None:
    def clean(text: str) -> bool:
        chunker = TabularChunker("csv", profile_columns=False)
        list(chunker.chunks(io.StringIO(text, newline="")))
        return chunker.clean

    body = "".join(f'{i},"a, b",x\n' for i in range(5000))
    assert clean("a,b,c\n" + body)
    assert not clean("a,b,c\n" + body + '1,"two\nlines",x\n')
    assert not clean("a,b,c\n" + body + '1, "a",x\n')  # DuckDB reads ` "a"` as a, Python as ` "a"`
    assert not clean("a,b,c\n" + body + "1,2\n")


def test_the_distinct_estimate_is_the_same_in_two_loads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings, store: Store
) -> None:
    """Above the exact cap the distinct count is an estimate, the same for the same file in another
    load and another process (DuckDB's, and the Python sketch's whatever PYTHONHASHSEED)."""
    monkeypatch.setattr(columns, "MAX_EXACT_PER_COLUMN", 1000)
    text = "key,small\n" + "".join(f"k{i * 7919},{i % 5}\n" for i in range(120_000))
    first = _load(store, settings, "keys.csv", text).profile["column_profiles"][0]
    (settings.project_dir / "keys2.csv").write_text(text)
    second = load_document(store, settings, "keys2.csv").documents[0].profile["column_profiles"][0]
    assert first["distinct_estimated"] is True and first == second
    assert abs(first["distinct"] - 120_000) < 120_000 * 0.05
    path = tmp_path / "keys.csv"
    path.write_text(text)
    script = (
        "import io, json, sys; from rlm_mcp.chunking.tabular import TabularChunker; "
        "c = TabularChunker('csv'); list(c.chunks(open(sys.argv[1], newline=''))); "
        "print(json.dumps(c.profile()['column_profiles'][0]))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(path)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1 and '"distinct_estimated": true' in outputs.pop()


def test_dates_and_datetimes_make_a_datetime_column_wherever_they_fall() -> None:
    width = 2
    batch = columns.ColumnProfiler(["a", "b"]).batch_rows
    dates = [f"2024-01-{i % 28 + 1:02d},x" for i in range(batch)]
    stamps = [f"2024-02-01 10:{i % 60:02d},x" for i in range(batch)]
    for order in (
        dates + stamps,
        stamps + dates,
        [v for pair in zip(dates, stamps, strict=True) for v in pair],
    ):
        _, profile = _python_profile("a,b\n" + "\n".join(order) + "\n")
        a = profile["column_profiles"][0]
        assert (a["type"], a["min"], a["max"]) == ("datetime", "2024-01-01", "2024-02-01 10:59"), width


def test_a_plain_number_duckdb_cannot_cast_falls_back_to_python(
    monkeypatch: pytest.MonkeyPatch, store: Store, settings: Settings
) -> None:
    def mismatch(*args: Any, **kwargs: Any) -> Any:
        raise profiling.ProfileMismatch("forced")

    monkeypatch.setattr(building.profiling, "profile_stage", mismatch)
    text = _table(COLUMNS, 800, seed=4)
    doc = _load(store, settings, "fallback.csv", text)
    assert doc.profile["column_profiles"] == _python_profile(text)[1]["column_profiles"]
    assert doc.profile["rows"] == 800


def test_type_checks_from_the_profile_equal_the_checks_over_every_row(tmp_path: Path) -> None:
    """The profile's scan counts what tables.checked_types counts (per distinct value for a column
    of few values, per row for the plain shapes of the others): the same types for the copy."""
    generators = {
        **COLUMNS,
        "many_ints": COLUMNS["signed"],
        "many_prices": lambda r, i: f"{r.random() * 1e6:.3f}",
    }
    text = _table(generators, 3000, seed=5)
    path = tmp_path / "t.csv"
    path.write_text(text, newline="")
    conn = conversion.build_connection(1, tmp_path / "spill")
    layout = tables.layout_for(list(generators), ",", True)
    stage = tmp_path / "stage.parquet"
    tables.stage_source(conn, path, layout, stage)
    profile = profiling.profile_stage(conn, stage, layout.width)
    kinds = [kind or "empty" for kind, *_ in profile.columns]
    known = profile.checks
    assert sum(check is not None for check in known) >= 10
    assert tables.checked_types(conn, stage, kinds, known) == tables.checked_types(conn, stage, kinds)
    assert profile.summaries(list(generators)) == _python_profile(text)[1]["column_profiles"]
