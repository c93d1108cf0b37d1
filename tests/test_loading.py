"""load_document: files, directories, globs, reloads and every bad input, on a real store file."""

import itertools
import os
from pathlib import Path

import pytest
import sqlean as sqlite3

from rlm_mcp.config import Settings
from rlm_mcp.errors import NotFound, PathNotAllowed, UnsupportedContent
from rlm_mcp.loading.loader import load_document
from rlm_mcp.loading.staging import remove_stale_staging
from rlm_mcp.store import Store, open_store
from rlm_mcp.store import documents as db
from rlm_mcp.store.rows import NewChunk

pytestmark = pytest.mark.backends

PROSE = "\n\n".join(
    f"Paragraph {i} talks about lanterns, harbours and the tide number {i}. " * 3 for i in range(60)
)


def _snapshot(store: Store) -> list[tuple[object, ...]]:
    conn = store.conn()
    docs = [tuple(r) for r in conn.execute("SELECT id, path, content_hash, state FROM documents ORDER BY id")]
    chunks = [tuple(r) for r in conn.execute("SELECT id, document_id, content_hash FROM chunks ORDER BY id")]
    return docs + chunks


def test_text_file_loads_into_chunks_that_own_every_line_once(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "notes.txt").write_text(PROSE + "\n", encoding="utf-8")
    result = load_document(store, settings, "notes.txt")
    (doc,) = result.documents
    assert (doc.status, doc.content_type, doc.name) == ("loaded", "text", "notes.txt")
    rows = (
        store.conn()
        .execute(
            "SELECT text, start_line, end_line FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc.id,)
        )
        .fetchall()
    )
    assert len(rows) == doc.chunks > 1
    assert all(len(r["text"]) <= 2100 for r in rows)
    for before, after in itertools.pairwise(rows):
        assert before["end_line"] < after["start_line"]
    assert " ".join("".join(r["text"] for r in rows).split()) == " ".join(PROSE.split())


def test_markdown_chunks_carry_their_heading_path_as_context(
    project: Path, settings: Settings, store: Store
) -> None:
    body = "Intro words.\n\n# Guide\n\n## Install\n\n" + ("Run the installer with care. " * 40) + "\n"
    (project / "guide.md").write_text(body, encoding="utf-8")
    (doc,) = load_document(store, settings, "guide.md").documents
    assert doc.content_type == "markdown"
    contexts = [r[0] for r in store.conn().execute("SELECT context FROM chunks ORDER BY ordinal")]
    assert any("Guide > Install" in c for c in contexts)


def test_unchanged_content_is_a_no_op_and_changed_content_replaces_chunks_keeping_the_id(
    project: Path, settings: Settings, store: Store
) -> None:
    path = project / "a.txt"
    path.write_text(PROSE, encoding="utf-8")
    (first,) = load_document(store, settings, "a.txt").documents
    before = _snapshot(store)
    (second,) = load_document(store, settings, "a.txt").documents
    assert second.status == "unchanged" and second.id == first.id
    assert _snapshot(store) == before
    path.write_text(PROSE.replace("Paragraph 59", "Closing paragraph"), encoding="utf-8")
    (third,) = load_document(store, settings, "a.txt").documents
    assert (third.status, third.id) == ("updated", first.id)
    assert third.changed_chunks is not None and 1 <= third.changed_chunks < third.chunks
    texts = "".join(
        r[0] for r in store.conn().execute("SELECT text FROM chunks WHERE document_id = ?", (first.id,))
    )
    assert "Closing paragraph" in texts and "Paragraph 59" not in texts
    assert store.conn().execute("SELECT count(*) FROM documents").fetchone()[0] == 1


def test_directory_load_honours_gitignore_and_skips_binaries(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / ".gitignore").write_text("build/\n*.log\n", encoding="utf-8")
    (project / "src").mkdir()
    (project / "src" / "a.md").write_text("# A\n\nalpha text\n", encoding="utf-8")
    (project / "src" / "b.txt").write_text("beta text\n", encoding="utf-8")
    (project / "src" / "skip.log").write_text("ignored\n", encoding="utf-8")
    (project / "build").mkdir()
    (project / "build" / "out.txt").write_text("ignored too\n", encoding="utf-8")
    (project / "src" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    result = load_document(store, settings, ".")
    names = sorted(d.name for d in result.documents)
    assert names == [".gitignore", "src/a.md", "src/b.txt"]
    assert result.skipped == {"binary files": 1, "ignored by .gitignore": 2}
    assert "1 binary files" in result.to_text()


def test_glob_loads_only_matching_files(project: Path, settings: Settings, store: Store) -> None:
    for name in ("one.md", "two.md", "three.txt"):
        (project / name).write_text(f"{name} body\n", encoding="utf-8")
    result = load_document(store, settings, "*.md")
    assert sorted(d.name for d in result.documents) == ["one.md", "two.md"]


def test_invalid_utf8_is_replaced_and_reported_not_fatal(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "latin.txt").write_bytes(b"caf\xe9 au lait\n\nna\xefve text\n")
    (doc,) = load_document(store, settings, "latin.txt").documents
    assert doc.warnings and "invalid UTF-8" in doc.warnings[0]
    text = store.conn().execute("SELECT text FROM chunks").fetchone()[0]
    assert "caf\ufffd au lait" in text


def test_fifty_megabyte_single_line_file_loads_in_bounded_chunks(
    project: Path, settings: Settings, store: Store
) -> None:
    words = ("lorem ipsum dolor sit amet " * 2_000_000)[: 50 * 1024 * 1024]
    (project / "one-line.txt").write_text(words, encoding="utf-8")
    (doc,) = load_document(store, settings, "one-line.txt").documents
    longest, lines = store.conn().execute("SELECT max(length(text)), max(end_line) FROM chunks").fetchone()
    assert doc.chunks > 20_000 and longest <= 2100 and lines == 1


@pytest.mark.parametrize(
    ("setup", "path", "error"),
    [
        (lambda p: None, "missing.txt", NotFound),
        (lambda p: (p / "empty.txt").write_text(""), "empty.txt", UnsupportedContent),
        (lambda p: (p / "blob.bin").write_bytes(b"\x00\x01\x02" * 100), "blob.bin", UnsupportedContent),
        (lambda p: None, "/etc/hostname", PathNotAllowed),
        (lambda p: None, "../outside.txt", PathNotAllowed),
        (lambda p: os.symlink("/etc/hostname", p / "link.txt"), "link.txt", PathNotAllowed),
        (lambda p: None, "nothing-*.md", NotFound),
    ],
    ids=["missing", "empty", "binary", "absolute-outside", "dotdot-outside", "symlink-out", "glob-no-match"],
)
def test_bad_paths_get_a_clear_error_and_leave_the_store_unchanged(
    project: Path, settings: Settings, store: Store, setup: object, path: str, error: type[Exception]
) -> None:
    (project / "kept.txt").write_text("already here\n", encoding="utf-8")
    (project.parent / "outside.txt").write_text("secret\n", encoding="utf-8")
    load_document(store, settings, "kept.txt")
    setup(project)  # type: ignore[operator]
    before = _snapshot(store)
    with pytest.raises(error) as raised:
        load_document(store, settings, path)
    message = str(raised.value)
    assert len(message) > 30 and (path.split("/")[-1].split("*")[0] in message or "allowed roots" in message)
    assert _snapshot(store) == before


def test_outside_roots_error_names_the_allowed_roots(project: Path, settings: Settings, store: Store) -> None:
    with pytest.raises(PathNotAllowed, match="RLM_ALLOWED_ROOTS") as raised:
        load_document(store, settings, "/etc/hostname")
    assert str(project) in str(raised.value)


def test_symlink_inside_a_directory_pointing_out_is_skipped(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "real.txt").write_text("real\n", encoding="utf-8")
    os.symlink("/etc/hostname", project / "escape.txt")
    result = load_document(store, settings, ".")
    assert [d.name for d in result.documents] == ["real.txt"]
    assert result.skipped == {"symlinks out of the allowed roots": 1}


def test_a_killed_load_leaves_a_staging_row_that_the_next_load_removes(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "a.txt").write_text(PROSE, encoding="utf-8")
    path = str((project / "a.txt").resolve())
    with store.write() as conn:  # what a load killed mid-way leaves: a staging row of a dead process
        staging = db.insert_staging(conn, "a.txt", path, "text", 1, "x", "nohost:1")
        db.insert_chunks(conn, staging, [NewChunk(0, "half loaded text", "", "", "h", 1, 1, None, None)])
    (doc,) = load_document(store, settings, "a.txt").documents
    assert doc.status == "loaded"
    states = [r[0] for r in store.conn().execute("SELECT state FROM documents")]
    assert states == ["ready"]
    assert store.conn().execute("SELECT count(*) FROM chunks WHERE text LIKE '%half%'").fetchone()[0] == 0
    if store.backend == "sqlite":  # and no FTS5 entry is left behind
        match = "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'half'"
        assert store.conn().execute(match).fetchone()[0] == 0


def test_a_path_without_staging_rows_is_checked_without_waiting_for_the_write_lock(tmp_path: Path) -> None:
    """The check before each file of a load must not queue behind the writer thread's open batch."""
    store = open_store(tmp_path / "rlm.db")
    other = open_store(tmp_path / "rlm.db")
    try:
        store.conn().execute("PRAGMA busy_timeout = 0")  # a wait for the lock would raise at once
        with other.write() as conn:  # another writer (the load's batch) holds the write lock
            conn.execute("UPDATE id_high_water SET last_id = last_id")
            assert remove_stale_staging(store, str(tmp_path / "a.txt"), "x") == []
            with pytest.raises(sqlite3.OperationalError, match="locked"), store.write():
                pass  # what the check did before: take the write lock
    finally:
        store.close()
        other.close()


def test_progress_reports_reach_the_total(project: Path, settings: Settings, store: Store) -> None:
    (project / "a.txt").write_text(PROSE * 5, encoding="utf-8")
    seen: list[tuple[float, float]] = []
    load_document(store, settings, "a.txt", progress=lambda done, total, _: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] == (project / "a.txt").stat().st_size


def test_a_batch_of_any_size_goes_in_whole_in_order_and_searchable(store: Store) -> None:
    """insert_chunks writes ROWS_PER_INSERT rows a statement and the remainder in power-of-two parts:
    every row lands once, ids follow the batch's order, and (SQLite) each is in the FTS5 index."""
    count = db.ROWS_PER_INSERT + 1000  # 1024 + 512 + 256 + 128 + 64 + 32 + 8
    rows = [NewChunk(i, f"row{i} lantern", "", "", f"h{i}", i + 1, i + 1, None, None) for i in range(count)]
    with store.write() as conn:
        document = db.insert_staging(conn, "big", "/big", "text", 1, "hash", "test:1")
        db.insert_chunks(conn, document, rows)
    conn = store.conn()
    listed = list(
        conn.execute("SELECT id, ordinal, text FROM chunks WHERE document_id = ? ORDER BY id", (document,))
    )
    assert [r[1] for r in listed] == list(range(count))
    assert [r[2] for r in listed] == [r.text for r in rows]
    assert [r[0] for r in listed] == list(range(listed[0][0], listed[0][0] + count))
    if store.backend != "sqlite":
        return  # Postgres takes the batch by COPY and indexes it by trigger (test_postgres_search.py)
    (indexed,) = conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'lantern'").fetchone()
    assert indexed == count
    (hit,) = conn.execute("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH 'row1777'").fetchone()
    assert hit == listed[1777][0]
