"""JSON (streamed) and JSON Lines chunking: elements owned once, paths as context, schema profiles."""

import io
import itertools
import json
import tracemalloc
from typing import Any

from rlm_mcp.chunking.base import HARD_MAX_CHARS, MAX_CHARS, Chunk
from rlm_mcp.chunking.jsondata import JsonChunker, JsonLinesChunker


def _json(text: str, **options: int) -> tuple[list[Chunk], dict[str, Any]]:
    chunker = JsonChunker(**options)
    chunks = list(chunker.chunks(io.StringIO(text)))
    return chunks, chunker.profile()


def _jsonl(text: str) -> tuple[list[Chunk], dict[str, Any]]:
    chunker = JsonLinesChunker()
    chunks = list(chunker.chunks(io.StringIO(text, newline="")))
    return chunks, chunker.profile()


def _path(profile: dict[str, Any], path: str) -> dict[str, Any]:
    return next(p for p in profile["paths"] if p["path"] == path)


ROWS = [{"id": i, "name": f"item {i}", "price": i * 1.5, "tags": ["a", "b"][: i % 3]} for i in range(400)]


def test_array_elements_are_grouped_owned_once_and_parse_back() -> None:
    text = json.dumps(ROWS, indent=2)
    chunks, profile = _json(text)
    assert profile["top_level"] == "array" and profile["elements"] == 400
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    values = [v for c in chunks for v in json.loads("[" + c.text + "]")]
    assert values == ROWS
    owned = [(c.start_row, c.end_row) for c in chunks]
    assert owned[0][0] == 1 and owned[-1][1] == 400
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(owned))  # type: ignore[operator]
    first = chunks[0]
    assert first.section.startswith("$[0]-$[") and first.context.startswith("JSON path: $[0]-$[")
    assert first.start_line == 2 and chunks[-1].end_line == text.count("\n")


def test_a_big_member_is_streamed_into_with_its_path_as_context() -> None:
    document = {"meta": {"version": 3}, "data": ROWS, "done": True}
    chunks, profile = _json(json.dumps(document), stream_threshold=4096, read_block=1024)
    data = [c for c in chunks if c.section.startswith("$.data[")]
    assert data and all("(in array $.data)" in c.context for c in data)
    assert [v for c in data for v in json.loads("[" + c.text + "]")] == ROWS
    assert chunks[0].section == "$.meta" and chunks[0].text.startswith('"meta": ')
    assert profile["elements"] == 402 and _path(profile, "$.data[*].price")["types"] == {"number": 400}


def test_a_large_array_is_never_held_whole_in_memory() -> None:
    text = json.dumps([{"id": i, "payload": "x" * 200} for i in range(15000)])  # ~3.4 MB
    stream = io.StringIO(text)
    tracemalloc.start()
    try:
        chunker = JsonChunker(read_block=1 << 16)
        count = sum(1 for _ in chunker.chunks(stream))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count > 100 and chunker.profile()["elements"] == 15000
    assert peak < len(text) / 3, f"peak {peak} bytes for a {len(text)}-byte document"


def test_schema_profile_flags_type_inconsistencies_and_null_rates() -> None:
    rows = [{"id": 1, "v": 1, "n": None}, {"id": 2, "v": "one", "n": 1}, {"id": 3.5, "v": 2, "n": None}]
    _, profile = _json(json.dumps(rows))
    assert _path(profile, "$[*].v")["inconsistent"] is True
    assert "inconsistent" not in _path(profile, "$[*].id")  # integer and float are both numbers
    assert _path(profile, "$[*].n")["null_rate"] == round(2 / 3, 4)
    assert profile["inconsistent_paths"] == ["$[*].v"]


def test_top_level_object_members_and_scalars_are_elements() -> None:
    chunks, profile = _json('{"a": 1, "b": {"c": [1, 2]}}')
    assert profile["top_level"] == "object" and [c.section for c in chunks] == ["$.a-$.b"]
    assert chunks[0].text == '"a": 1,\n"b": {"c": [1, 2]}\n'
    chunks, profile = _json('"just text"')
    assert profile["top_level"] == "scalar" and chunks[0].context == "JSON path: $"
    assert _json("")[0] == [] and _json("  \n")[1]["elements"] == 0


def test_a_syntax_error_is_reported_with_its_line_and_the_rest_is_kept_as_lines() -> None:
    text = '[\n{"id": 1},\n{"id": 2},\n{"id": 3,,},\n{"id": 4}\n]\n'
    chunks, profile = _json(text)
    assert profile["elements"] == 2
    assert profile["problems"][0]["line"] == 4
    kept = "".join(c.text for c in chunks)
    assert '{"id": 1}' in kept and '{"id": 4}' in kept and '{"id": 3,,}' in kept
    assert chunks[-1].context.startswith("[not parsed as JSON: line 4")
    assert chunks[-1].start_line == 4 and chunks[-1].end_line == 6


def test_trailing_data_after_the_document_is_reported_and_kept() -> None:
    chunks, profile = _json('{"a": 1}\n{"a": 2}\n')
    assert profile["problems"] == [{"line": 2, "error": "more data after the top-level value"}]
    assert chunks[-1].text == '{"a": 2}\n'


def test_an_element_longer_than_the_hard_limit_is_cut_into_parts_owned_once() -> None:
    chunks, _ = _json(json.dumps([{"big": "z" * (HARD_MAX_CHARS * 2)}, 1]))
    assert all(len(c.text) <= HARD_MAX_CHARS for c in chunks)
    assert [c.start_row for c in chunks] == [1, None, None, 2]


def test_jsonl_broken_lines_are_reported_with_their_number_and_skipped() -> None:
    lines = [json.dumps({"id": i, "ok": i % 4 != 0 or None}) for i in range(200)]
    lines[16] = '{"id": 16, "ok": tru'
    lines[99] = "not json at all"
    text = "\n".join(lines[:50]) + "\n\n" + "\n".join(lines[50:]) + "\r\n"
    chunks, profile = _jsonl(text)
    assert profile["records"] == 198 and profile["broken_lines"] == 2 and profile["lines"] == 201
    assert [p["line"] for p in profile["problems"]] == [17, 101]
    assert profile["problems"][1]["text"] == "not json at all"
    kept = "".join(c.text for c in chunks)
    assert "tru\n" not in kept and "not json" not in kept and kept.count("\n") == 198
    assert chunks[0].start_row == 1 and chunks[-1].end_row == 198
    assert chunks[0].section.startswith("records 1-") and "lines 1-" in chunks[0].context
    assert _path(profile, "$.ok")["types"] == {"boolean": 149, "null": 49}


def test_jsonl_record_longer_than_the_hard_limit_is_cut_into_parts() -> None:
    chunks, profile = _jsonl(json.dumps({"x": "q" * (HARD_MAX_CHARS + 10)}) + "\n" + '{"y": 1}\n')
    assert profile["records"] == 2
    assert [c.start_row for c in chunks] == [1, None, 2]


def test_an_element_inserted_near_the_top_changes_only_the_chunks_around_it() -> None:
    lines = [json.dumps(row) + "\n" for row in ROWS]
    before, _ = _jsonl("".join(lines))
    after, _ = _jsonl("".join([*lines[:10], '{"id": -1}\n', *lines[10:]]))
    assert len(before) > 10 and len([c for c in after if c.text not in {b.text for b in before}]) <= 2
    before, _ = _json(json.dumps(ROWS))
    after, _ = _json(json.dumps([*ROWS[:10], {"id": -1}, *ROWS[10:]]))
    assert len([c for c in after if c.text not in {b.text for b in before}]) <= 2
