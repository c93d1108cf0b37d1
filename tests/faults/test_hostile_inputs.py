"""Inputs a hostile caller sends: each gets a clear answer, and the store is left as it was."""

import os
import stat
import time
from pathlib import Path

import pytest

from rlm_mcp.config import Settings, load_settings
from rlm_mcp.errors import InvalidInput, PathNotAllowed, Unavailable
from rlm_mcp.ids import parse_id
from rlm_mcp.loading import files
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search.modes import search_chunks
from rlm_mcp.store import Store, open_store
from rlm_mcp.workspace import Workspace

from ..conftest import project_env


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("a{1000000000}", "repeats too much"),
        ("(a{1000}){1000}", "repeats too much"),
        ("((x{100}){100}){100}", "repeats too much"),
        ("(?R)?", "recursive"),
        ("(a|(?1))", "recursive"),
        ("(?P<x>a(?&x)?)", "recursive"),
        ("a(b", "Invalid regular expression"),
    ],
)
def test_regex_that_would_blow_up_while_compiling_is_refused_at_once(
    project: Path, settings: Settings, store: Store, pattern: str, message: str
) -> None:
    (project / "a.txt").write_text("aaaa bbbb\n" * 50, encoding="utf-8")
    load_document(store, settings, "a.txt")
    started = time.monotonic()
    with pytest.raises(InvalidInput, match=message) as raised:
        search_chunks(store, settings, pattern, "regex", None, 10, 0)
    assert time.monotonic() - started < 1.0
    assert "mode='bm25'" in str(raised.value)


@pytest.mark.parametrize(
    "pattern", ["a{1,1000000000}", "x{5,}", "(?:ab){2000}", r"\{1000000000\}", "[{]99999999}"]
)
def test_large_ranges_and_literal_braces_still_compile(
    project: Path, settings: Settings, store: Store, pattern: str
) -> None:
    (project / "a.txt").write_text("ab" * 5000 + "\nxxxxx {1000000000}\n", encoding="utf-8")
    load_document(store, settings, "a.txt")
    search_chunks(store, settings, pattern, "regex", None, 10, 0)


def test_a_glob_from_outside_every_root_is_refused_before_it_is_expanded(
    settings: Settings, store: Store
) -> None:
    started = time.monotonic()
    with pytest.raises(PathNotAllowed, match="not expanded"):
        load_document(store, settings, "/**")
    with pytest.raises(PathNotAllowed, match="not expanded"):
        load_document(store, settings, "../../**/*.txt")
    assert time.monotonic() - started < 1.0


def test_a_glob_or_directory_selecting_too_many_files_is_capped(
    project: Path, settings: Settings, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(12):
        (project / f"f{i}.txt").write_text(f"file {i}\n", encoding="utf-8")
    monkeypatch.setattr(files, "MAX_SELECTED_FILES", 10)
    with pytest.raises(InvalidInput, match="more than 10 files"):
        load_document(store, settings, "*.txt")
    with pytest.raises(InvalidInput, match="more than 10 files"):
        load_document(store, settings, ".")
    assert store.conn().execute("SELECT count(*) FROM documents").fetchone()[0] == 0


@pytest.mark.parametrize("value", [2**63, 2**64 + 5, "c9223372036854775808", "c" + "9" * 400, "c١٢"])
def test_ids_too_large_for_the_store_are_a_clear_error(value: object) -> None:
    with pytest.raises(InvalidInput, match="not a chunk id"):
        parse_id(value, "c")  # type: ignore[arg-type]


def test_the_largest_id_the_store_holds_is_accepted() -> None:
    assert parse_id(f"c{2**63 - 1}", "c") == 2**63 - 1


@pytest.mark.parametrize("url", ["sqlite:///tmp/x.db", "mysql+x://rlm:secret@db.example/d"])
def test_rlm_db_as_a_url_is_a_clear_error_without_the_credentials(project: Path, url: str) -> None:
    with pytest.raises(InvalidInput, match="SQLite file path or a PostgreSQL server") as raised:
        load_settings(project_env(project, RLM_DB=url))
    assert "secret" not in str(raised.value) and "example" not in str(raised.value)
    assert not (project / (url.split(":")[0] + ":")).exists()


def test_rlm_db_as_a_postgres_url_names_the_backend_without_the_password(project: Path) -> None:
    settings = load_settings(project_env(project, RLM_DB="postgresql://rlm:secret@db.example/rlm"))
    assert settings.db_location == "postgresql://rlm:***@db.example/rlm" and "secret" not in repr(settings)
    with pytest.raises(Unavailable, match="Cannot connect to the PostgreSQL store") as raised:
        _ = Workspace(settings).store  # a server that cannot be reached: a clear error naming it
    assert "secret" not in str(raised.value) and "postgresql://rlm:***@db.example/rlm" in str(raised.value)
    assert not (project / "postgresql:").exists()


def test_the_store_folder_is_0700_and_its_files_0600(project: Path, settings: Settings) -> None:
    old = os.umask(0o022)
    try:
        store = open_store(settings.db_path)
        (project / "a.txt").write_text("private words\n", encoding="utf-8")
        load_document(store, settings, "a.txt")
    finally:
        os.umask(old)
    try:
        folder = settings.db_path.parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_file()}
        assert modes and set(modes.values()) == {0o600}, modes
        assert {"rlm.db", "rlm.db-wal"} <= set(modes) and any(n.endswith(".parquet") for n in modes)
        folders = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*") if p.is_dir()}
        assert set(folders.values()) <= {0o700}, folders  # the columnar copies' data/ too
    finally:
        store.close()


def test_an_existing_world_readable_store_is_tightened_when_opened(settings: Settings) -> None:
    open_store(settings.db_path).close()
    os.chmod(settings.db_path, 0o644)
    open_store(settings.db_path).close()
    assert stat.S_IMODE(settings.db_path.stat().st_mode) == 0o600


@pytest.mark.anyio
async def test_numbers_too_large_for_the_store_get_a_clear_tool_error(
    project: Path, settings: Settings
) -> None:
    from mcp import Client

    from rlm_mcp.server import create_server

    (project / "a.txt").write_text("storms and gulls\n" * 20, encoding="utf-8")
    async with Client(create_server(settings)) as client:
        await client.call_tool("load_document", {"path": "a.txt"})
        for tool, arguments in [
            ("search_chunks", {"query": "storms", "mode": "bm25", "offset": 2**70}),
            ("list_documents", {"offset": 2**64}),
            ("get_chunk", {"chunk_id": f"c{2**64}"}),
            ("remove_document", {"document_id": 2**63}),
        ]:
            result = await client.call_tool(tool, arguments)
            text = result.content[0].text
            assert result.is_error and "OverflowError" not in text and "Internal error" not in text, text
        listed = await client.call_tool("list_documents", {"response_format": "json"})
        assert '"chunks"' in listed.content[0].text and not listed.is_error
