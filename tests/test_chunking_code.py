"""Code chunking with tree-sitter: definitions whole, big classes split at methods, imports as context."""

import argparse
import ast
import io
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp.chunking import code as code_module
from rlm_mcp.chunking.base import HARD_MAX_CHARS, Chunk
from rlm_mcp.chunking.code import CodeChunker, parse
from rlm_mcp.chunking.detect import language_for

CONTINUATION = re.compile(r"\(part (?!1/)")

# language: (file name, source, the import line, a doc comment line, the symbol section that follows it)
SOURCES: dict[str, tuple[str, str, str, str, str]] = {
    "python": (
        "m.py",
        "import os\n\n# Adds.\n@cache\ndef add(a, b):\n    return a + b\n\nclass Box:\n    pass\n",
        "import os",
        "# Adds.",
        "def add",
    ),
    "javascript": (
        "m.js",
        "import fs from 'fs';\n\n/** Adds. */\nexport function add(a, b) { return a + b }\n"
        "class Box { size() { return 1 } }\n",
        "import fs from 'fs';",
        "/** Adds. */",
        "function add",
    ),
    "typescript": (
        "m.ts",
        "import { X } from './x';\n\n/** Adds. */\nexport function add(a: number): number {\n"
        "  return a\n}\ninterface Box { a: number }\n",
        "import { X } from './x';",
        "/** Adds. */",
        "function add",
    ),
    "tsx": (
        "m.tsx",
        "import React from 'react';\n\n// Renders.\nexport const View = () => <div>hi</div>;\n"
        "export class Box {}\n",
        "import React from 'react';",
        "// Renders.",
        "function View",
    ),
    "go": (
        "m.go",
        'package main\n\nimport "fmt"\n\n// Add adds.\nfunc Add(a int) int {\n\treturn a\n}\n'
        "type Box struct{}\n",
        "package main",
        "// Add adds.",
        "function Add",
    ),
    "rust": (
        "m.rs",
        "use std::io;\n\n/// Adds.\n#[inline]\npub fn add(a: i32) -> i32 {\n    a\n}\nstruct Box;\n",
        "use std::io;",
        "/// Adds.",
        "fn add",
    ),
    "java": (
        "M.java",
        "import java.util.List;\n\n/** Adds. */\n@Deprecated\npublic class Adder {\n"
        "  int add(int a) { return a; }\n}\n",
        "import java.util.List;",
        "/** Adds. */",
        "class Adder",
    ),
    "c": (
        "m.c",
        "#include <stdio.h>\n\n/* Adds. */\nstatic int add(int a) {\n  return a;\n}\n"
        "struct box { int a; };\n",
        "#include <stdio.h>",
        "/* Adds. */",
        "def add",
    ),
    "cpp": (
        "m.cpp",
        "#include <vector>\n\n// Adds.\ntemplate <typename T> T add(T a) {\n  return a;\n}\n"
        "class Box { int a; };\n",
        "#include <vector>",
        "// Adds.",
        "def add",
    ),
    "ruby": (
        "m.rb",
        "require 'json'\n\n# Adds.\ndef add(a)\n  a\nend\n\nclass Box\nend\n",
        "require 'json'",
        "# Adds.",
        "def add",
    ),
    "php": (
        "m.php",
        "<?php\nuse Foo\\Bar;\n\n/** Adds. */\nfunction add($a) {\n  return $a;\n}\nclass Box {}\n",
        "use Foo\\Bar;",
        "/** Adds. */",
        "def add",
    ),
    "csharp": (
        "M.cs",
        "using System;\n\n/// Adds.\n[Obsolete]\npublic class Adder {\n  int Add(int a) { return a; }\n}\n",
        "using System;",
        "/// Adds.",
        "class Adder",
    ),
}


def _chunk(source: str, language: str | None) -> tuple[list[Chunk], dict[str, Any]]:
    chunker = CodeChunker(language)
    chunks = list(chunker.chunks(io.StringIO(source, newline="")))
    return chunks, chunker.profile()


def _assert_tiles(chunks: list[Chunk], source: str) -> None:
    assert "".join(c.text for c in chunks) == source
    for before, after in itertools.pairwise(chunks):
        assert after.start_line == before.end_line + 1


@pytest.mark.parametrize("language", sorted(SOURCES))
def test_definitions_keep_their_doc_comment_and_carry_the_imports_as_context(language: str) -> None:
    name, source, import_line, doc_line, symbol = SOURCES[language]
    assert language_for(Path(name)) == language
    chunks, profile = _chunk(source, language)
    _assert_tiles(chunks, source)
    assert (
        profile["language"] == language and profile["chunking"] == "tree-sitter" and profile["symbols"] >= 2
    )
    owner = next(c for c in chunks if c.section.startswith(symbol))
    assert doc_line in owner.text and owner.text.index(doc_line) < owner.text.index(symbol.split()[-1])
    if import_line not in owner.text:
        assert owner.context.startswith(import_line)


def _big_class() -> str:
    methods = "".join(
        f'    def method_{i}(self, value):\n        """Method {i}."""\n'
        + "".join(f"        value = value + {j}  # step {j} of method {i}\n" for j in range(8))
        + "        return value\n\n"
        for i in range(20)
    )
    return (
        'import os\nfrom typing import Any\n\n\nclass Big(Base, metaclass=Meta):\n    """Doc."""\n\n'
        + methods
    )


def test_a_big_class_is_split_at_methods_with_the_class_signature_as_context() -> None:
    source = _big_class()
    chunks, profile = _chunk(source, "python")
    _assert_tiles(chunks, source)
    assert profile["kinds"] == {"def": 20, "class": 1}
    methods = [c for c in chunks if c.section.startswith("def Big.method_")]
    assert len(methods) >= 5
    for chunk in methods:
        assert chunk.context == "import os\nfrom typing import Any\nclass Big(Base, metaclass=Meta):"
        assert chunk.text.lstrip().startswith("def method_")
    assert chunks[0].section == "imports" and chunks[1].text.startswith(
        "\n\nclass Big(Base, metaclass=Meta):"
    )


def test_a_function_too_big_for_one_chunk_is_cut_with_its_signature_as_context() -> None:
    body = "".join(f"    total += {i}  # a long explanatory comment for line {i}\n" for i in range(120))
    source = "import sys\n\ndef huge(total):\n" + body + "    return total\n"
    chunks, _ = _chunk(source, "python")
    _assert_tiles(chunks, source)
    parts = [c for c in chunks if c.section.startswith("def huge (part ")]
    assert len(parts) >= 3
    assert parts[1].context == "import sys\ndef huge(total): … (continued)"
    assert all(p.text.startswith("    total += ") for p in parts[1:-1])  # cut between statements


def test_a_function_up_to_the_whole_limit_stays_one_chunk_like_json_dump() -> None:
    source = Path(json.__file__).read_text(encoding="utf-8")
    chunks, _ = _chunk(source, "python")
    _assert_tiles(chunks, source)
    dump = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "dump")
    (chunk,) = [c for c in chunks if c.section.startswith("def dump") and "dumps" not in c.section]
    assert chunk.section == "def dump" and (dump.end_lineno or 0) - dump.lineno + 1 >= 60
    assert chunk.start_line <= dump.lineno and chunk.end_line >= (dump.end_lineno or 0)
    assert len(chunk.text) <= code_module.WHOLE_FUNCTION_CHARS


def test_each_definition_gets_its_own_chunk_and_module_code_between_them_stays_apart() -> None:
    source = "import os\n\nLIMIT = 3\n\n\ndef one():\n    return 1\n\n\ndef two():\n    return 2\nX = one()\n"
    chunks, _ = _chunk(source, "python")
    _assert_tiles(chunks, source)
    assert [c.section for c in chunks] == ["imports", "def one", "def two", "top-level code"]
    assert chunks[0].text == "import os\n\nLIMIT = 3\n" and chunks[3].text == "X = one()\n"


def test_a_function_over_the_whole_limit_is_cut_with_its_full_signature_as_context() -> None:
    body = "".join(f"    total += {i}  # a long explanatory comment for line {i}\n" for i in range(120))
    source = "def huge(\n    total,\n    scale=1,\n):\n" + body + "    return total\n"
    assert len(source) > code_module.WHOLE_FUNCTION_CHARS
    chunks, _ = _chunk(source, "python")
    _assert_tiles(chunks, source)
    assert len(chunks) >= 3 and chunks[1].context == "def huge( total, scale=1, ): … (continued)"


def test_syntax_errors_and_unknown_languages_fall_back_to_line_windows() -> None:
    broken = "def ok():\n    return 1\n\ndef broken(:\n    pass\n" * 30
    chunks, profile = _chunk(broken, "python")
    assert profile["chunking"] == "line windows (syntax errors)"
    _assert_tiles(chunks, broken)
    chunks, profile = _chunk("SOME cobol-ish TEXT.\n" * 200, None)
    assert (
        profile["chunking"] == "line windows (no grammar for this language)"
        and profile["language"] == "unknown"
    )
    assert chunks[1].context.startswith("[overlap: lines")


def test_grammars_outside_the_allowlist_are_never_run_and_slow_parses_are_cancelled() -> None:
    assert parse("cobol", b"x = 1\n") is None  # this bundled grammar hangs on foreign input
    assert parse("python", b"x = 1\n" * 200_000, seconds=0.0) is None


def test_a_file_too_big_to_parse_is_chunked_in_line_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code_module, "MAX_PARSE_CHARS", 1000)
    source = "x = 1\n" * 1000
    chunks, profile = _chunk(source, "python")
    assert profile["chunking"].startswith("line windows") and profile["lines"] == 1000
    _assert_tiles(chunks, source)


def test_minified_code_is_cut_in_line_windows_no_chunk_over_the_hard_limit() -> None:
    source = "function a(){return 1};" * 2000 + "\n"
    chunks, profile = _chunk(source, "javascript")
    assert profile["chunking"].startswith("line windows (file too large, lines too long")
    assert "".join(c.text for c in chunks) == source and all(len(c.text) <= HARD_MAX_CHARS for c in chunks)


def test_stdlib_module_chunks_start_at_definitions_and_tile_the_file() -> None:
    source = Path(argparse.__file__).read_text(encoding="utf-8")
    chunks, profile = _chunk(source, "python")
    _assert_tiles(chunks, source)
    tree = ast.parse(source)
    starts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            starts.add(min([node.lineno, *(d.lineno for d in node.decorator_list)]))
    lines = source.split("\n")
    first_code = []
    whole = [c for c in chunks if not CONTINUATION.search(c.section)]  # parts 2.. start at statements
    for chunk in whole:
        number = chunk.start_line
        while lines[number - 1].strip() == "" or lines[number - 1].lstrip().startswith("#"):
            number += 1
        first_code.append(number)
    at_definition = sum(n in starts for n in first_code)
    assert at_definition / len(whole) > 0.9
    assert profile["symbols"] >= len(starts) * 0.5


def _method_bodies(template: str) -> str:
    steps = "".join(f"      x = x + {j};\n" for j in range(12))
    return "".join(template.format(i=i, steps=steps) for i in range(12))


def test_a_namespace_holding_one_big_class_is_split_at_the_class_methods() -> None:
    methods = _method_bodies("    int M{i}(int x) {{\n{steps}      return x;\n    }}\n")
    source = "using System;\nnamespace N {\n  public class Big : Base {\n" + methods + "  }\n}\n"
    chunks, _ = _chunk(source, "csharp")
    _assert_tiles(chunks, source)
    sections = [c.section for c in chunks]
    assert sections[0] == "imports" and sections[1].startswith("method N.Big.M0")
    assert chunks[-1].context == "using System;\nnamespace N {\n  public class Big : Base {"


def test_go_methods_are_named_with_their_receiver_type() -> None:
    source = "package main\n\nfunc (b *Ledger) Total() int {\n\treturn 1\n}\n"
    chunks, _ = _chunk(source, "go")
    assert chunks[-1].section == "method Ledger.Total"
