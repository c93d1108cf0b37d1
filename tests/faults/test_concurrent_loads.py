"""Loads of one path at the same time: nothing lost, one document, every chunk (issue 13, item 1)."""

import json
import threading
from pathlib import Path

import anyio
import pytest
from mcp import Client

from rlm_mcp.config import Settings
from rlm_mcp.loading.loader import load_document
from rlm_mcp.server import create_server
from rlm_mcp.store import Store

TEXT = "\n\n".join(f"Paragraph {i}: the harbour master logged ship {i} at dawn." * 8 for i in range(400))


def _store_shape(store: Store) -> tuple[list[tuple[str, str]], int, int]:
    conn = store.conn()
    docs = [(r[0], r[1]) for r in conn.execute("SELECT name, state FROM documents ORDER BY id")]
    chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
    fts = conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    return docs, chunks, fts


def _reference_chunks(tmp_path: Path, settings: Settings, text: str) -> int:
    """How many chunks one load of `text` makes, in a store of its own."""
    from dataclasses import replace

    from rlm_mcp.store import open_store

    project = tmp_path / "reference"
    project.mkdir()
    (project / "book.txt").write_text(text, encoding="utf-8")
    ref = replace(settings, project_dir=project, db_path=project / "ref.db", allowed_roots=(project,))
    store = open_store(ref.db_path)
    try:
        (doc,) = load_document(store, ref, "book.txt").documents
        return doc.chunks
    finally:
        store.close()


@pytest.mark.parametrize("callers", [2, 4])
def test_concurrent_loads_of_one_path_in_one_process_keep_the_document(
    tmp_path: Path, project: Path, settings: Settings, store: Store, callers: int
) -> None:
    expected = _reference_chunks(tmp_path, settings, TEXT)
    (project / "book.txt").write_text(TEXT, encoding="utf-8")
    start = threading.Barrier(callers)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def load() -> None:
        start.wait()
        try:
            (doc,) = load_document(store, settings, "book.txt").documents
            statuses.append(doc.status)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            store.release_thread()

    threads = [threading.Thread(target=load) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(statuses) == ["loaded"] + ["unchanged"] * (callers - 1)
    assert _store_shape(store) == ([("book.txt", "ready")], expected, expected)


@pytest.mark.anyio
async def test_concurrent_load_document_calls_in_one_server_keep_the_document(
    tmp_path: Path, project: Path, settings: Settings
) -> None:
    expected = _reference_chunks(tmp_path, settings, TEXT)
    (project / "book.txt").write_text(TEXT, encoding="utf-8")
    answers: list[dict[str, object]] = []
    async with Client(create_server(settings)) as client:

        async def load() -> None:
            result = await client.call_tool("load_document", {"path": "book.txt", "response_format": "json"})
            assert not result.is_error, result.content
            answers.append(json.loads(result.content[0].text)["documents"][0])

        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for _ in range(4):
                    group.start_soon(load)
        listed = await client.call_tool("list_documents", {"response_format": "json"})
    assert sorted(str(a["status"]) for a in answers) == ["loaded", "unchanged", "unchanged", "unchanged"]
    assert {a["id"] for a in answers} == {"d1"} and {a["chunks"] for a in answers} == {expected}
    (doc,) = json.loads(listed.content[0].text)["documents"]
    assert doc["chunks"] == expected


def test_a_staging_row_of_a_finished_load_in_this_process_is_taken_as_a_leftover(
    project: Path, settings: Settings, store: Store
) -> None:
    """A row with this process's pid but no running load (an earlier call crashed) is cleaned up."""
    import os
    import socket

    from rlm_mcp.store import documents as db
    from rlm_mcp.store.rows import NewChunk

    (project / "book.txt").write_text(TEXT, encoding="utf-8")
    path = str((project / "book.txt").resolve())
    with store.write() as conn:
        staging = db.insert_staging(
            conn, "book.txt", path, "text", 1, "other", f"{socket.gethostname()}:{os.getpid()}:dead"
        )
        db.insert_chunks(conn, staging, [NewChunk(0, "orphan words", "", "", "h", 1, 1, None, None)])
    (doc,) = load_document(store, settings, "book.txt").documents
    assert doc.status == "loaded"
    assert _store_shape(store)[0] == [("book.txt", "ready")]
    hits = (
        store.conn().execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'orphan'").fetchone()[0]
    )
    assert hits == 0
