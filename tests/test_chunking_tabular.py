"""CSV / TSV chunking: whole rows only, the header as context, exact column profiles, malformed input."""

import csv
import io
import itertools
from typing import Any

import pytest

from rlm_mcp.chunking import columns, csvrows
from rlm_mcp.chunking.base import HARD_MAX_CHARS, MAX_CHARS, Chunk
from rlm_mcp.chunking.tabular import TabularChunker


def _run(text: str, content_type: str = "csv") -> tuple[list[Chunk], dict[str, Any]]:
    chunker = TabularChunker(content_type)
    chunks = list(chunker.chunks(io.StringIO(text, newline="")))
    return chunks, chunker.profile()


def _column(profile: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in profile["column_profiles"] if c["name"] == name)


def _assert_rows_owned_once(chunks: list[Chunk], rows: int) -> None:
    owned = [(c.start_row, c.end_row) for c in chunks if c.start_row is not None]
    assert owned[0][0] == 1 and owned[-1][1] == rows
    for (_, end), (start, _) in itertools.pairwise(owned):
        assert start == end + 1


def test_quoted_newlines_delimiters_bom_and_crlf_never_split_a_row() -> None:
    header = "id,comment,amount\r\n"
    rows = [f'{i},"line one, with comma\r\nline ""two"" of {i}",{i}.5\r\n' for i in range(1, 301)]
    chunks, profile = _run("\ufeff" + header + "".join(rows))
    assert "".join(c.text for c in chunks) == "".join(rows)  # verbatim, header excluded, nothing lost
    assert all(c.context == "id,comment,amount" for c in chunks)  # BOM stripped from the header
    for chunk in chunks:
        parsed = list(csv.reader(io.StringIO(chunk.text, newline="")))
        assert len(parsed) == chunk.end_row - chunk.start_row + 1  # type: ignore[operator]
        assert all(len(row) == 3 for row in parsed)
        assert chunk.start_line == 2 * chunk.start_row  # type: ignore[operator]  # two lines per row
    _assert_rows_owned_once(chunks, 300)
    assert profile["rows"] == 300 and profile["columns"] == 3 and "ragged_rows" not in profile
    assert _column(profile, "amount")["type"] == "float"


def test_rows_per_chunk_follow_the_row_width() -> None:
    narrow = "a,b\n" + "".join(f"{i},{i % 7}\n" for i in range(2000))
    wide = (
        ",".join(f"c{i}" for i in range(40))
        + "\n"
        + "".join(",".join(["1234"] * 40) + "\n" for _ in range(300))
    )
    narrow_chunks, _ = _run(narrow)
    wide_chunks, _ = _run(wide)
    narrow_rows = narrow_chunks[0].end_row  # type: ignore[union-attr]
    wide_rows = wide_chunks[0].end_row
    assert narrow_rows is not None and wide_rows is not None and narrow_rows > 10 * wide_rows
    assert all(len(c.text) <= MAX_CHARS for c in narrow_chunks + wide_chunks)
    assert all(c.section.startswith("row") for c in narrow_chunks)


def test_ragged_rows_are_kept_and_counted_not_dropped() -> None:
    text = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n"
    chunks, profile = _run(text)
    assert "".join(c.text for c in chunks) == text.split("\n", 1)[1]
    assert profile["rows"] == 4 and profile["ragged_rows"] == 2
    assert [p["line"] for p in profile["problems"]] == [3, 4]
    assert _column(profile, "c")["empty"] == 1


def test_profile_infers_types_nulls_distinct_and_ranges() -> None:
    lines = ["id,name,price,day,stamp,flag,note"]
    for i in range(1, 501):
        price = "" if i % 10 == 0 else f"{i * 1.25:.2f}"
        name = "NULL" if i % 50 == 0 else f"name{i % 20}"
        lines.append(f"{i},{name},{price},2024-01-{i % 28 + 1:02d},2024-02-01T10:{i % 60:02d}:00,true,x{i}")
    _, profile = _run("\n".join(lines) + "\n")
    assert _column(profile, "id") == {
        "name": "id", "type": "integer", "nulls": 0, "null_rate": 0.0, "distinct": 500, "min": 1, "max": 500,
    }  # fmt: skip
    assert _column(profile, "name")["type"] == "string"
    assert _column(profile, "name")["nulls"] == 10 and _column(profile, "name")["distinct"] == 20
    price = _column(profile, "price")
    assert (price["type"], price["nulls"], price["empty"], price["min"], price["max"]) == (
        "float",
        50,
        50,
        1.25,
        623.75,
    )
    day = _column(profile, "day")
    assert (day["type"], day["min"], day["max"]) == ("date", "2024-01-01", "2024-01-28")
    assert _column(profile, "stamp")["type"] == "datetime"
    assert _column(profile, "flag")["type"] == "boolean"


def test_distinct_count_is_estimated_and_marked_beyond_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "MAX_EXACT_PER_COLUMN", 1000)
    monkeypatch.setattr(columns, "MIN_EXACT_PER_COLUMN", 10)
    text = "key,small\n" + "".join(f"k{i},{i % 5}\n" for i in range(20000))
    _, profile = _run(text)
    key = _column(profile, "key")
    assert key["distinct_estimated"] is True and abs(key["distinct"] - 20000) < 20000 * 0.1
    assert _column(profile, "small") == {
        "name": "small", "type": "integer", "nulls": 0, "null_rate": 0.0, "distinct": 5, "min": 0, "max": 4,
    }  # fmt: skip


def test_tsv_and_semicolon_files_use_their_delimiter() -> None:
    _, tsv = _run("a\tb\n1\t2,3\n", "tsv")
    assert tsv["delimiter"] == "\t" and tsv["columns"] == 2 and "ragged_rows" not in tsv
    _, semicolon = _run("a;b;c\n1;2;3\n4;5;6\n")
    assert semicolon["delimiter"] == ";" and semicolon["columns"] == 3


def test_a_file_without_header_row_names_columns_and_owns_its_first_row() -> None:
    chunks, profile = _run("1,2.5,x\n2,3.5,y\n")
    assert profile["header"] is False and profile["rows"] == 2
    assert chunks[0].context.startswith("[no header row; 3 columns]")
    assert chunks[0].text == "1,2.5,x\n2,3.5,y\n"
    assert _column(profile, "column_1")["type"] == "integer"


def test_an_unterminated_quote_at_the_end_is_reported() -> None:
    chunks, profile = _run('a,b\n1,2\n3,"never closed\n4,5\n')
    assert "".join(c.text for c in chunks) == '1,2\n3,"never closed\n4,5\n'
    assert {"line": 3, "error": "unterminated quoted field"} in profile["problems"]


def test_a_runaway_quote_cannot_swallow_the_rest_of_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvrows, "RUNAWAY_ROW_CHARS", 200)
    body = "1,ok\n" + '2,"broken\n' + "".join(f"{i},fine\n" for i in range(3, 3000))
    chunks, profile = _run("a,b\n" + body)
    assert "".join(c.text for c in chunks) == body
    assert profile["problems"][0] == {"line": 3, "error": "unterminated quoted field"}
    assert profile["rows"] > 2900  # parsing resumed after the bad quote
    assert chunks[-1].text.endswith("2999,fine\n")


def test_a_row_longer_than_the_hard_limit_is_cut_into_parts_owned_once() -> None:
    text = "a,b\n1,short\n2," + "y" * (HARD_MAX_CHARS * 2) + "\n3,short\n"
    chunks, profile = _run(text)
    assert all(len(c.text) <= HARD_MAX_CHARS for c in chunks)
    parts = [c for c in chunks if "part" in c.section]
    assert len(parts) == 3 and parts[0].start_row == 2 and parts[1].start_row is None
    _assert_rows_owned_once(chunks, 3)
    assert profile["rows"] == 3


def test_header_context_is_cut_for_very_wide_files() -> None:
    header = ",".join(f"column_number_{i}" for i in range(2500))
    chunks, profile = _run(header + "\n" + ",".join(str(i) for i in range(2500)) + "\n")
    assert profile["columns"] == 2500 and len(profile["column_profiles"]) == 2500
    assert chunks[0].context.startswith("column_number_0,column_number_1,")
    assert chunks[0].context.endswith("[header cut: 2500 columns]") and len(chunks[0].context) < 2100


def test_empty_and_header_only_files_give_no_chunks() -> None:
    assert _run("")[0] == []
    chunks, profile = _run("a,b\n")
    assert chunks == [] and profile["rows"] == 0


def test_a_row_inserted_near_the_top_changes_only_the_chunks_around_it() -> None:
    rows = [f"{i},customer {i % 97},{i * 3.5:.2f},2024-05-{i % 28 + 1:02d}\n" for i in range(3000)]
    before, _ = _run("id,name,amount,day\n" + "".join(rows))
    edited = [*rows[:40], "99999,inserted,1.00,2024-05-01\n", *rows[40:]]
    after, _ = _run("id,name,amount,day\n" + "".join(edited))
    old = {c.text for c in before}
    changed = [c for c in after if c.text not in old]
    assert len(before) > 50 and len(changed) <= 2


def test_a_stray_quote_inside_a_field_is_data_not_a_problem() -> None:
    chunks, profile = _run("name,height\nann,5'11\"\n")
    assert "problems" not in profile and chunks[0].text == "ann,5'11\"\n"


@pytest.mark.parametrize("crlf", [False, True])
def test_line_numbers_stay_one_ahead_of_rows_after_the_first_block(crlf: bool) -> None:
    end = "\r\n" if crlf else "\n"
    text = "id,name,value" + end + "".join(f"{i},name {i},{i * 3}{end}" for i in range(1, 80_001))
    chunks = list(TabularChunker("csv").chunks(io.StringIO(text, newline="")))
    assert chunks[-1].end_row == 80_000 and chunks[-1].end_line == 80_001
    assert all(c.start_line == c.start_row + 1 and c.end_line == c.end_row + 1 for c in chunks)  # type: ignore[operator]
