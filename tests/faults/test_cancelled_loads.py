"""A cancelled load stops (issue 13, item 9): `notifications/cancelled` for a load_document under way
stops the load after the batch it is on, and the store is left as it was: no new document, no
staging rows, the previous version of a reloaded file untouched, and the next load works."""

import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from rlm_mcp.config import Settings
from rlm_mcp.server import create_server
from rlm_mcp.store import open_store

STOP_SECONDS = 20  # a full load of this file takes longer; a stopped one is cleaned up in about a second
LINES = 80_000  # ~5 MB of log: a load of many seconds here, so a cancel lands in the middle


def _write_log(path: Path, tag: str) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(LINES):
            out.write(f"2026-12-02T01:{i % 60:02d}:00 INFO {tag} request {i} served in {i % 97} ms\n")


def _shape(settings: Settings) -> tuple[list[tuple[str, str, str]], int, int]:
    store = open_store(settings.db_path)
    try:
        conn = store.conn()
        docs = [tuple(r) for r in conn.execute("SELECT name, state, content_hash FROM documents ORDER BY id")]
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        fts = conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
        return docs, chunks, fts  # type: ignore[return-value]
    finally:
        store.close()


def _documents_high_water(settings: Settings) -> int:
    """The highest document id ever deleted or used (migration 0007): it rises when a staging row goes."""
    store = open_store(settings.db_path)
    try:
        row = store.conn().execute("SELECT last_id FROM id_high_water WHERE name = 'documents'").fetchone()
        return int(row[0])
    finally:
        store.close()


async def _cancel_after_first_progress(client: Client, path: str) -> None:
    """Call load_document, and cancel the call (the client sends notifications/cancelled) as soon as
    the first progress notification shows the load under way."""
    under_way = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        under_way.set()

    async with anyio.create_task_group() as group:

        async def call() -> None:
            await client.call_tool("load_document", {"path": path}, progress_callback=on_progress)
            raise AssertionError("the load finished before it could be cancelled")

        group.start_soon(call)
        with anyio.fail_after(120):
            await under_way.wait()
        group.cancel_scope.cancel()


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_cancelled_load_stops_and_leaves_the_store_as_before(
    project: Path, settings: Settings, mode: str
) -> None:
    log = project / "service.log"
    _write_log(log, "first")
    async with Client(create_server(settings), mode=mode) as client:  # type: ignore[arg-type]
        loaded = await client.call_tool("load_document", {"path": "service.log"})
        assert not loaded.is_error, loaded.content
        before = _shape(settings)
        high_water = _documents_high_water(settings)
        _write_log(log, "second")  # a changed file: a reload would replace every chunk
        with anyio.fail_after(120):
            await _cancel_after_first_progress(client, "service.log")
        # The request is never answered once cancelled: the store shows when the load has stopped.
        cancelled_at = time.monotonic()
        with anyio.fail_after(STOP_SECONDS):
            # The staging row is written by the load's writer thread, so it may not exist yet when the
            # cancel lands: wait until it has been written and deleted (the high water rises then).
            while len(_shape(settings)[0]) > 1 or _documents_high_water(settings) <= high_water:
                await anyio.sleep(0.05)
        print(f"stopped and cleaned up {time.monotonic() - cancelled_at:.2f} s after the cancel")
        assert _shape(settings) == before  # no staging row, no new chunk, the first version intact
        reloaded = await client.call_tool("load_document", {"path": "service.log"})
        assert not reloaded.is_error, reloaded.content
    docs, chunks, fts = _shape(settings)
    assert [d[:2] for d in docs] == [("service.log", "ready")] and docs[0][2] != before[0][0][2]
    assert chunks == fts > 0
