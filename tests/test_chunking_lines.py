"""Logs and line windows (overlap as marked context only) and content-type detection."""

import io
import itertools
from pathlib import Path

import pytest

from rlm_mcp.chunking import CONTENT_TYPES, make_chunker
from rlm_mcp.chunking.base import HARD_MAX_CHARS, MAX_CHARS
from rlm_mcp.chunking.code import CodeChunker
from rlm_mcp.chunking.detect import detect_content_type, language_for
from rlm_mcp.chunking.lines import LineWindowChunker
from rlm_mcp.errors import InvalidInput

LOG = "".join(
    f"2024-03-0{1 + i // 400}T12:{i % 60:02d}:00 {('INFO', 'WARN', 'ERROR')[i % 3]} worker-{i % 4} "
    f"handled request {i}\n"
    for i in range(1200)
)


def test_log_windows_own_each_line_once_and_carry_overlap_as_marked_context() -> None:
    chunker = LineWindowChunker("log")
    chunks = list(chunker.chunks(io.StringIO(LOG)))
    assert "".join(c.text for c in chunks) == LOG
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert 800 < len(LOG) / len(chunks) < 2000
    for before, after in itertools.pairwise(chunks):
        assert after.start_line == before.end_line + 1
        last_lines = before.text.splitlines()[-3:]
        assert after.context == (
            f"[overlap: lines {before.end_line - 2}-{before.end_line}, owned by the previous chunk]\n"
            + "\n".join(last_lines)
        )
    assert chunks[0].context == "" and chunks[0].section == f"lines 1-{chunks[0].end_line}"
    profile = chunker.profile()
    assert profile["lines"] == 1200 and profile["levels"] == {"INFO": 400, "WARN": 400, "ERROR": 400}
    assert profile["time_range"] == ["2024-03-01T12:00:00", "2024-03-03T12:59:00"]


def test_a_line_longer_than_the_hard_limit_is_cut_and_nothing_is_lost() -> None:
    text = "short\n" + "x" * (HARD_MAX_CHARS * 2 + 5) + "\nend without newline"
    chunker = LineWindowChunker("log")
    chunks = list(chunker.chunks(io.StringIO(text)))
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.text) <= HARD_MAX_CHARS for c in chunks)
    assert chunker.profile()["lines"] == 3


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("data.csv", "a,b\n1,2\n", "csv"),
        ("data.tsv", "a\tb\n", "tsv"),
        ("export.txt", "id;name;price\n1;x;2.5\n2;y;3\n", "csv"),
        ("export.txt", "id\tname\n1\tx\n2\ty\n", "tsv"),
        ("events", '{"a": 1}\n{"a": 2}\n{"a": 3}\n', "jsonl"),
        ("dump.json", '{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("dump.json", '{\n  "a": 1\n}\n', "json"),
        ("dump.dat", "[1, 2,\n 3]\n", "json"),
        ("app.log", "anything\n", "log"),
        (
            "server.txt",
            "2024-01-01 10:00:00 INFO up\n2024-01-01 10:00:01 WARN slow\n2024-01-01 10:00:02 INFO ok\n",
            "log",
        ),
        ("script", "#!/usr/bin/env python3\nprint(1)\n", "code"),
        ("main.rs", "fn main() {}\n", "code"),
        ("README.md", "# Title\n", "markdown"),
        (
            "notes.txt",
            "It was a dark night, and the rain fell in torrents, except at intervals.\nAnd so on, as ever.\n",
            "text",
        ),
    ],
)
def test_content_type_is_detected_from_extension_then_content(name: str, head: str, expected: str) -> None:
    assert detect_content_type(Path(name), head) == expected
    assert expected in CONTENT_TYPES


def test_languages_come_from_extensions_and_shebangs() -> None:
    assert language_for(Path("a.tsx")) == "tsx" and language_for(Path("a.hpp")) == "cpp"
    assert language_for(Path("run"), "#!/bin/bash -e\n") == "bash"
    assert language_for(Path("notes.xyz")) is None


def test_make_chunker_knows_every_content_type_and_refuses_others(tmp_path: Path) -> None:
    for content_type in CONTENT_TYPES:
        assert make_chunker(content_type, tmp_path / "x.py").content_type == content_type
    script = tmp_path / "tool"
    script.write_text("#!/usr/bin/env ruby\nputs 1\n", encoding="utf-8")
    chunker = make_chunker("code", script)
    assert isinstance(chunker, CodeChunker) and chunker.language == "ruby"
    with pytest.raises(InvalidInput, match="content_type 'xml' is not known"):
        make_chunker("xml", tmp_path / "x.xml")


def test_a_line_edited_in_the_middle_of_a_log_changes_only_the_windows_around_it() -> None:
    before = list(LineWindowChunker("log").chunks(io.StringIO(LOG)))
    edited = LOG.replace("handled request 600\n", "handled request 600 after a retry\n")
    after = list(LineWindowChunker("log").chunks(io.StringIO(edited)))
    assert len([c for c in after if c.text not in {b.text for b in before}]) <= 2
