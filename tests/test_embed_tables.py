"""A large table embeds an evenly spaced sample of its row chunks (RLM_EMBED_TABLE_CHUNKS), says so in
the load answer, and keeps to that sample when another model re-queues the store; prose is untouched."""

from pathlib import Path

import pytest

from rlm_mcp.config import DEFAULT_EMBED_TABLE_CHUNKS, load_settings
from rlm_mcp.embedding import embed_all
from rlm_mcp.embedding.worker import prepare_model
from rlm_mcp.errors import InvalidInput
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store, open_backend

from .conftest import project_env
from .fakes import FakeEmbedder


def write_table(project: Path, rows: int = 3000) -> Path:
    lines = ["id,city,amount,note"] + [f"{i},city{i % 17},{i * 3.25:.2f},row number {i}" for i in range(rows)]
    path = project / "sales.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def queued_ordinals(store: Store, document_id: int) -> list[int]:
    rows = store.conn().execute(
        "SELECT c.ordinal FROM embed_queue q JOIN chunks c ON c.id = q.chunk_id WHERE c.document_id = ?"
        " ORDER BY c.ordinal",
        (document_id,),
    )
    return [int(r[0]) for r in rows]


@pytest.mark.backends
def test_a_large_table_queues_an_evenly_spaced_sample_and_says_so(
    project: Path, backend_env: dict[str, str]
) -> None:
    write_table(project)
    (project / "notes.md").write_text("# Notes\n\nThe sales table holds one row per sale.\n")
    settings = load_settings(project_env(project, RLM_EMBED_TABLE_CHUNKS="4", **backend_env))
    store = open_backend(settings.db_path, settings.db_url, settings.project_key)
    loaded = load_document(store, settings, ".")
    table = next(d for d in loaded.documents if d.content_type == "csv")
    assert table.chunks > 8
    ordinals = queued_ordinals(store, table.id)
    stride = -(-table.chunks // 4)
    assert ordinals == list(range(0, table.chunks, stride)) and len(ordinals) <= 4
    assert table.embedded == (len(ordinals), table.chunks)
    assert table.to_json()["embedded_chunks"] == len(ordinals)
    prose = next(d for d in loaded.documents if d.content_type != "csv")
    assert len(queued_ordinals(store, prose.id)) == prose.chunks
    assert loaded.embeddings_waiting == len(ordinals) + prose.chunks
    text = loaded.to_text()
    assert f"{len(ordinals)} of {table.chunks} row chunks, evenly spaced, get a vector" in text
    assert "query_data" in text
    embed_all(store, FakeEmbedder("fake-a"))
    requeued = prepare_model(store, FakeEmbedder("fake-b"))  # another model: the same sample again
    assert requeued == len(ordinals) + prose.chunks
    assert queued_ordinals(store, table.id) == ordinals
    store.close()


@pytest.mark.backends
@pytest.mark.parametrize(("setting", "expected"), [("all", "every"), ("0", "none")])
def test_the_table_sample_can_be_every_chunk_or_none(
    project: Path, setting: str, expected: str, backend_env: dict[str, str]
) -> None:
    write_table(project, rows=1500)
    settings = load_settings(project_env(project, RLM_EMBED_TABLE_CHUNKS=setting, **backend_env))
    store = open_backend(settings.db_path, settings.db_url, settings.project_key)
    (table,) = load_document(store, settings, "sales.csv").documents
    queued = queued_ordinals(store, table.id)
    assert queued == (list(range(table.chunks)) if expected == "every" else [])
    text = load_document(store, settings, "sales.csv").to_text()  # unchanged: nothing to say again
    assert "row chunks" not in text
    store.close()


def test_a_small_table_is_embedded_whole_by_default(project: Path) -> None:
    write_table(project, rows=200)
    settings = load_settings(project_env(project))
    assert settings.embed_table_chunks == DEFAULT_EMBED_TABLE_CHUNKS
    store = open_backend(settings.db_path, settings.db_url, settings.project_key)
    loaded = load_document(store, settings, "sales.csv")
    (table,) = loaded.documents
    assert len(queued_ordinals(store, table.id)) == table.chunks and not table.sampled
    assert "row chunks" not in loaded.to_text()
    store.close()


def test_a_bad_table_sample_setting_is_a_clear_error(project: Path) -> None:
    with pytest.raises(InvalidInput, match="RLM_EMBED_TABLE_CHUNKS"):
        load_settings(project_env(project, RLM_EMBED_TABLE_CHUNKS="some"))
