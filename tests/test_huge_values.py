"""Huge scalars load in linear time and whole (issue 13, item 9): one JSON string of megabytes is cut
into chunks that hold it exactly once, its columnar copy holds it as one text value, and it is not
taken for a category in the profile; `split_long` cuts as it always did, without re-slicing."""

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

from rlm_mcp import data
from rlm_mcp.chunking.base import split_long
from rlm_mcp.config import Settings
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store

from .conftest import REPO


def _split_by_slicing(text: str, limit: int) -> list[str]:
    """The cut as it was written before (quadratic: the rest re-sliced after every piece)."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit), text.rfind("\t", 0, limit))
        cut = limit if cut < limit // 2 else cut + 1
        pieces.append(text[:cut])
        text = text[cut:]
    if text:
        pieces.append(text)
    return pieces


def test_split_long_cuts_where_the_slicing_cut_did() -> None:
    rng = random.Random(7)
    for _ in range(300):
        alphabet = rng.choice(["ab ", "abcdefgh\n", "x", "a\tb c\n"])
        text = "".join(rng.choices(alphabet, k=rng.randint(0, 5000)))
        limit = rng.randint(2, 400)
        assert split_long(text, limit) == _split_by_slicing(text, limit)
        assert "".join(split_long(text, limit)) == text


def test_one_large_json_string_loads_whole_with_its_copy(
    project: Path, settings: Settings, store: Store
) -> None:
    words = " ".join(f"word{i % 977}" for i in range(400_000))  # ~3.4 MB
    (project / "one.json").write_text(json.dumps(words), encoding="utf-8")
    (doc,) = load_document(store, settings, "one.json").documents
    assert not doc.warnings, doc.warnings
    texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks ORDER BY ordinal")]
    assert "".join(texts) == json.dumps(words) + "\n"
    copy = data.open_copy(settings, store)
    rows = data.query(copy, f"SELECT length(value), md5(value) FROM d{doc.id}").rows
    assert [list(r) for r in rows] == [[len(words), hashlib.md5(words.encode()).hexdigest()]]
    assert "top_values" not in (doc.profile or {})  # one long text is not a category


def test_huge_values_benchmark_smoke_mode_reports_per_mb_figures(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "huge_values.py"), "--smoke", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for figure in ("json string", "text lines", "CPU s/MB", "per-MB cost at 8 MB / at 2 MB: ratio"):
        assert figure in out.stdout, out.stdout
