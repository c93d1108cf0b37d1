"""Ids are never reused after remove_document (issue 13, item 5): a kept finding keeps citing its text."""

from pathlib import Path

from rlm_mcp.config import Settings
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store, open_store

TEXT = "\n\n".join(f"Entry {i}: the keeper saw a storm over the reef." * 5 for i in range(20))


def _chunk_ids(store: Store, document_id: int) -> list[int]:
    rows = store.conn().execute("SELECT id FROM chunks WHERE document_id = ? ORDER BY id", (document_id,))
    return [r[0] for r in rows]


def test_a_document_loaded_after_the_newest_was_removed_gets_new_ids(
    project: Path, settings: Settings, store: Store
) -> None:
    (project / "a.txt").write_text(TEXT, encoding="utf-8")
    (project / "b.txt").write_text(TEXT.replace("storm", "ship"), encoding="utf-8")
    (first,) = load_document(store, settings, "a.txt").documents
    old_chunks = _chunk_ids(store, first.id)
    remove_document(store, f"d{first.id}")
    (second,) = load_document(store, settings, "b.txt").documents
    new_chunks = _chunk_ids(store, second.id)
    assert second.id > first.id
    assert new_chunks and min(new_chunks) > max(old_chunks)


def test_ids_stay_unused_across_a_reopen_and_a_reload(project: Path, settings: Settings) -> None:
    (project / "a.txt").write_text(TEXT, encoding="utf-8")
    store = open_store(settings.db_path)
    (first,) = load_document(store, settings, "a.txt").documents
    top = max(_chunk_ids(store, first.id))
    (project / "a.txt").write_text(TEXT.replace("reef", "cliffs"), encoding="utf-8")
    (updated,) = load_document(store, settings, "a.txt").documents
    assert updated.id == first.id and updated.status == "updated"
    top = max(top, *_chunk_ids(store, first.id))
    remove_document(store, f"d{first.id}")
    store.close()
    store = open_store(settings.db_path)
    try:
        (project / "c.txt").write_text("A new file about lighthouses.\n", encoding="utf-8")
        (third,) = load_document(store, settings, "c.txt").documents
        assert third.id > first.id and min(_chunk_ids(store, third.id)) > top
    finally:
        store.close()


def test_job_status_says_when_the_jobs_chunks_are_gone(
    project: Path, settings: Settings, store: Store
) -> None:
    from rlm_mcp.jobs import create_job, job_status

    (project / "a.txt").write_text(TEXT, encoding="utf-8")
    (doc,) = load_document(store, settings, "a.txt").documents
    plan = create_job(store, settings, "What storms are there?", [f"d{doc.id}"])
    assert job_status(store, f"j{plan.job_id}").coverage.gone == 0
    remove_document(store, f"d{doc.id}")
    (project / "b.txt").write_text(TEXT.replace("storm", "gale"), encoding="utf-8")
    load_document(store, settings, "b.txt")
    status = job_status(store, f"j{plan.job_id}")
    assert status.coverage.gone == status.coverage.total == doc.chunks
    assert status.to_json()["coverage"]["gone"] == doc.chunks
    assert "are gone" in status.to_text() and "create_job again" in status.to_text()
