"""Loading each content type into a real store: contexts, locations, profiles in the answer,
directories of mixed content, incremental reloads and a restart after a killed load."""

import json
import signal
import subprocess
import sys
from pathlib import Path

from rlm_mcp.config import Settings
from rlm_mcp.documents.reading import get_chunk, list_documents
from rlm_mcp.loading import load_document
from rlm_mcp.loading.batches import FIRST_BATCH_CHUNKS
from rlm_mcp.search import search_chunks
from rlm_mcp.store import Store

from .conftest import REPO, project_env

HEADER = "order_id,customer,amount,shipped"
CODE = '''"""Orders."""
import json
from decimal import Decimal


class Ledger(Base):
    """Keeps totals."""

    def total(self, rows):
        return sum(Decimal(r["amount"]) for r in rows)


def parse(text):
    """Parse one order."""
    return json.loads(text)
'''


def _csv(rows: int, changed: int | None = None) -> str:
    lines = [HEADER]
    for i in range(rows):
        customer = "Changed Customer" if i == changed else f"customer {i % 37}"
        lines.append(f'{i},"{customer}, Ltd",{i * 1.5:.2f},2024-0{1 + i % 9}-1{i % 10}')
    return "\r\n".join(lines) + "\r\n"


def _chunk_rows(store: Store, document_id: int) -> list[tuple[int, str]]:
    rows = store.conn().execute(
        "SELECT id, text FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,)
    )
    return [(r[0], r[1]) for r in rows]


def test_csv_chunk_context_starts_with_the_header_and_the_profile_is_in_the_answer(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "orders.csv").write_text(_csv(500), encoding="utf-8")
    result = load_document(store, settings, "orders.csv")
    (doc,) = result.documents
    assert doc.content_type == "csv" and doc.profile is not None and doc.profile["rows"] == 500
    text = result.to_text()
    assert "500 rows × 4 columns (comma, header)" in text
    assert "amount float [0..748.5] distinct 500" in text and "shipped date" in text
    first_id = _chunk_rows(store, doc.id)[0][0]
    view = get_chunk(store, first_id)
    assert view.context.startswith(HEADER)
    assert view.location.startswith("orders.csv:2-") and " rows 1-" in view.location


def test_code_chunk_context_starts_with_the_imports_and_its_location_names_the_symbol(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "ledger.py").write_text(CODE, encoding="utf-8")
    result = load_document(store, settings, "ledger.py")
    (doc,) = result.documents
    assert doc.content_type == "code" and doc.profile is not None
    assert doc.profile["language"] == "python" and doc.profile["symbols"] == 3
    assert "python · 15 lines · 3 symbols (2 def, 1 class) · tree-sitter" in result.to_text()
    hits = search_chunks(store, settings, "json loads parse order", mode="bm25").to_json()["hits"]
    located = [h["location"] for h in hits]
    assert any(loc.startswith("ledger.py:") and "def parse" in loc for loc in located)
    chunk_ids = [row[0] for row in _chunk_rows(store, doc.id)]
    views = [get_chunk(store, i) for i in chunk_ids]
    parse_view = next(v for v in views if "def parse" in v.location)
    assert parse_view.context.startswith("import json\nfrom decimal import Decimal")
    assert "def parse(text):" in parse_view.text and "import json" not in parse_view.text


def test_jsonl_broken_lines_are_reported_in_the_answer_and_skipped(
    project: Path, settings: Settings, store: Store
) -> None:
    lines = [json.dumps({"id": i, "kind": "a" if i % 2 else None}) for i in range(100)]
    lines[41] = '{"id": 41, "kind": '
    (project / "events.data").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = load_document(store, settings, "events.data")
    (doc,) = result.documents
    assert doc.content_type == "jsonl"
    text = result.to_text()
    assert "99 records (100 lines); 1 broken lines skipped" in text
    assert "problems: line 42: Expecting value; skipped" in text
    assert "$.kind null|string null 50.5%" in text


def test_a_directory_of_mixed_content_loads_each_file_by_its_type(
    project: Path, settings: Settings, store: Store
) -> None:
    repo = project / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "ledger.py").write_text(CODE, encoding="utf-8")
    (repo / "src" / "app.ts").write_text("import { a } from './a';\nexport function f() { return a; }\n")
    (repo / "data.csv").write_text(_csv(20), encoding="utf-8")
    (repo / "config.json").write_text(json.dumps({"debug": True, "levels": [1, 2]}), encoding="utf-8")
    (repo / "server.log").write_text("2024-01-01 10:00:00 INFO started\n" * 5, encoding="utf-8")
    (repo / "ignored.csv").write_text(_csv(5), encoding="utf-8")
    (repo / ".gitignore").write_text("ignored.csv\n", encoding="utf-8")
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = load_document(store, settings, "repo")
    kinds = {Path(d.path).name: d.content_type for d in result.documents}
    assert kinds == {
        "ledger.py": "code", "app.ts": "code", "data.csv": "csv", "config.json": "json",
        "server.log": "log", ".gitignore": "text",
    }  # fmt: skip
    assert sum(result.skipped.values()) >= 1
    assert "Content: 2 code (python 1, typescript 1; 4 symbols), 1 csv, 1 json, 1 log, 1 text; 20 table" in (
        result.to_text()
    )
    log = next(d for d in result.documents if d.path.endswith("server.log"))
    assert log.profile is not None and log.profile["levels"] == {"INFO": 5}


def test_a_2500_column_csv_gives_a_compact_answer(project: Path, settings: Settings, store: Store) -> None:
    header = ",".join(f"feature_{i}" for i in range(2500))
    body = "".join(",".join(str((r * i) % 97) for i in range(2500)) + "\n" for r in range(30))
    (project / "wide.csv").write_text(header + "\n" + body, encoding="utf-8")
    result = load_document(store, settings, "wide.csv")
    text = result.to_text()
    assert len(text) < 2000 and "30 rows × 2,500 columns" in text and "column types: 2,500 integer" in text
    answer = json.dumps(result.to_json())
    assert len(answer) < 12000
    profile = result.to_json()["documents"][0]["profile"]
    assert profile["column_profiles_omitted"] == 2460 and profile["column_types"] == {"integer": 2500}
    assert len(json.dumps(list_documents(store).to_json())) < 3000


def test_reloading_a_changed_csv_keeps_the_unchanged_chunk_rows_and_counts_the_changed(
    project: Path, settings: Settings, store: Store
) -> None:
    path = project / "orders.csv"
    path.write_text(_csv(3000), encoding="utf-8")
    (first,) = load_document(store, settings, "orders.csv").documents
    before = dict(_chunk_rows(store, first.id))
    path.write_text(_csv(3000, changed=1500), encoding="utf-8")
    (second,) = load_document(store, settings, "orders.csv").documents
    after = dict(_chunk_rows(store, second.id))
    assert (second.status, second.id, second.chunks) == ("updated", first.id, first.chunks)
    assert second.changed_chunks == 1
    assert len(set(before) & set(after)) == len(after) - 1  # every other chunk kept its id
    assert all(before[i] == text for i, text in after.items() if i in before)
    hits = search_chunks(store, settings, "Changed Customer", mode="bm25").to_json()["hits"]
    assert hits and "Changed Customer" in get_chunk(store, hits[0]["chunk_id"]).text
    ordinals = [r[0] for r in store.conn().execute("SELECT ordinal FROM chunks ORDER BY ordinal")]
    assert ordinals == list(range(len(after)))
    store.conn().execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")


KILLER = """
import os, signal, sys
from rlm_mcp import loading
from rlm_mcp.loading import batches
from rlm_mcp.config import load_settings
from rlm_mcp.store import open_store
original = batches.BatchWriter._insert
calls = []
def insert_then_die(self, *batch):
    original(self, *batch)
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
batches.BatchWriter._insert = insert_then_die
settings = load_settings()
loading.load_document(open_store(settings.db_path), settings, sys.argv[1])
"""


def test_a_load_killed_midway_leaves_the_store_consistent_and_the_next_load_resumes(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "big.csv").write_text(_csv(40000), encoding="utf-8")
    env = {**project_env(project), "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", KILLER, "big.csv"], env=env, cwd=project, check=False)
    assert killed.returncode == -signal.SIGKILL
    conn = store.conn()
    staged = conn.execute("SELECT id, state FROM documents").fetchall()
    assert [r["state"] for r in staged] == ["loading"]  # readers see no half-loaded document
    written = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert written == FIRST_BATCH_CHUNKS + 2 * FIRST_BATCH_CHUNKS  # two batches, the second twice the first
    assert search_chunks(store, settings, "customer", mode="bm25").to_json()["hits"] == []
    result = load_document(store, settings, "big.csv")
    (doc,) = result.documents
    assert doc.status == "loaded" and any(
        f"{written} chunks it had written were kept" in w for w in doc.warnings
    )
    assert [r["state"] for r in conn.execute("SELECT state FROM documents")] == ["ready"]
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    fresh = project / "copy.csv"
    fresh.write_text(_csv(40000), encoding="utf-8")
    (other,) = load_document(store, settings, "copy.csv").documents
    assert [t for _, t in _chunk_rows(store, doc.id)] == [t for _, t in _chunk_rows(store, other.id)]


def test_shared_scifact_jsonl_and_tsv_load_with_exact_profiles(
    shared_data: Path, settings: Settings, store: Store, project: Path
) -> None:
    for name in ("corpus.jsonl", "qrels-train.tsv"):
        (project / name).write_bytes((shared_data / "scifact" / name).read_bytes())
    corpus, qrels = load_document(store, settings, ".").documents[:2]
    assert corpus.content_type == "jsonl" and corpus.profile is not None
    assert corpus.profile["records"] == 5183 and "broken_lines" not in corpus.profile
    assert {p["path"]: p["types"] for p in corpus.profile["paths"]}["$._id"] == {"string": 5183}
    assert qrels.content_type == "tsv" and qrels.profile is not None and qrels.profile["rows"] == 919
    score = next(c for c in qrels.profile["column_profiles"] if c["name"] == "score")
    assert (score["type"], score["min"], score["max"]) == ("integer", 1, 1)
    view = get_chunk(store, _chunk_rows(store, qrels.id)[0][0])
    assert view.context == "query-id\tcorpus-id\tscore"
