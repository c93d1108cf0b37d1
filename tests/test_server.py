"""The MCP server through a real client: in-process and over stdio (`rlm-mcp serve` as a subprocess)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from rlm_mcp.config import Settings
from rlm_mcp.server import create_server

from .conftest import project_env

pytestmark = pytest.mark.anyio

BOOK = "\n\n".join(
    f"Chapter {i}. The lighthouse keeper wrote entry {i} about storms and gulls." * 6 for i in range(30)
)


@pytest.mark.backends
async def test_load_search_and_read_a_chunk_in_process(project: Path, settings: Settings) -> None:
    (project / "book.txt").write_text(BOOK, encoding="utf-8")
    async with Client(create_server(settings)) as client:
        loaded = await client.call_tool("load_document", {"path": "book.txt", "response_format": "json"})
        assert not loaded.is_error and loaded.structured_content is None
        (doc,) = json.loads(loaded.content[0].text)["documents"]
        assert doc["status"] == "loaded" and doc["id"] == "d1"
        found = await client.call_tool(
            "search_chunks", {"query": "storms gulls", "mode": "bm25", "top_k": 2, "response_format": "json"}
        )
        hits = json.loads(found.content[0].text)["hits"]
        assert len(hits) == 2 and set(hits[0]) >= {"chunk_id", "document_id", "score", "location", "preview"}
        chunk = await client.call_tool(
            "get_chunk", {"chunk_id": hits[0]["chunk_id"], "response_format": "json"}
        )
        data = json.loads(chunk.content[0].text)
        assert set(data) >= {"chunk_id", "document_id", "location", "context", "text", "prev_id", "next_id"}
        assert "lighthouse keeper" in data["text"]
        text = await client.call_tool("get_chunk", {"chunk_id": hits[0]["chunk_id"]})
        assert "--- text ---" in text.content[0].text


@pytest.mark.backends
async def test_document_ids_sent_as_a_json_string_are_accepted(project: Path, settings: Settings) -> None:
    (project / "book.txt").write_text(BOOK, encoding="utf-8")
    async with Client(create_server(settings)) as client:
        await client.call_tool("load_document", {"path": "book.txt"})
        found = await client.call_tool(
            "search_chunks",
            {"query": "storms", "mode": "bm25", "document_ids": '["d1"]', "response_format": "json"},
        )
        assert not found.is_error and json.loads(found.content[0].text)["hits"]


async def test_lists_and_objects_sent_as_json_strings_reach_the_core_decoded(
    project: Path, settings: Settings
) -> None:
    """Claude Code sometimes sends them so; the boundary decodes them, the core sees lists and dicts."""
    (project / "book.txt").write_text(BOOK, encoding="utf-8")
    async with Client(create_server(settings)) as client:
        await client.call_tool("load_document", {"path": "book.txt"})
        plan = await client.call_tool(
            "create_job", {"query": "storms?", "document_ids": '["d1"]', "response_format": "json"}
        )
        assert not plan.is_error, plan.content[0].text
        job = json.loads(plan.content[0].text)["job_id"]
        claim = await client.call_tool(
            "claim_task", {"job_id": job, "worker": "w1", "response_format": "json"}
        )
        task = json.loads(claim.content[0].text)
        chunk = task["chunks"][0]
        finding = {"title": "Storms", "detail": "d", "evidence": "wrote entry", "chunk_id": chunk["chunk_id"]}
        submitted = await client.call_tool(
            "submit_findings",
            {
                "task_id": task["task_id"],
                "worker": "w1",
                "findings": json.dumps([finding]),
                "counts": '{"topic": {"storms": 2}}',
                "follow_up": '["check the gulls"]',
                "response_format": "json",
            },
        )
        assert not submitted.is_error, submitted.content[0].text
        assert json.loads(submitted.content[0].text)["findings"] == 1
        merged = json.loads(
            (await client.call_tool("synthesize", {"job_id": job, "response_format": "json"})).content[0].text
        )
        assert merged["counts"] == {"topic": {"storms": 2}}
        assert [f["text"] for f in merged["follow_up"]] == ["check the gulls"]


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_chunk", {"chunk_id": "c424242"}, "No chunk c424242"),
        ("get_chunk", {"chunk_id": "banana"}, "not a chunk id"),
        ("load_document", {"path": "/etc/passwd"}, "outside the allowed roots"),
        ("load_document", {"path": "nope.txt"}, "No file or directory"),
        ("search_chunks", {"query": "(", "mode": "regex"}, "Invalid regular expression"),
        ("search_chunks", {"query": "x", "top_k": 0}, "top_k"),
        ("remove_document", {"document_id": "d77"}, "No document d77"),
        ("list_documents", {"limit": 0}, "limit"),
    ],
)
@pytest.mark.backends
async def test_bad_input_is_a_tool_error_that_says_what_to_do(
    settings: Settings, tool: str, arguments: dict[str, object], expected: str
) -> None:
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
        assert result.is_error
        assert expected in result.content[0].text
        assert "Traceback" not in result.content[0].text


@pytest.mark.backends
async def test_list_remove_and_status(project: Path, settings: Settings) -> None:
    (project / "a.md").write_text("# A\n\nalpha\n", encoding="utf-8")
    (project / "b.md").write_text("# B\n\nbeta\n", encoding="utf-8")
    async with Client(create_server(settings)) as client:
        await client.call_tool("load_document", {"path": "."})
        listed = json.loads(
            (await client.call_tool("list_documents", {"response_format": "json"})).content[0].text
        )
        assert listed["total"] == 2 and [d["name"] for d in listed["documents"]] == ["a.md", "b.md"]
        removed = await client.call_tool("remove_document", {"document_id": "d1"})
        assert not removed.is_error and "Removed d1" in removed.content[0].text
        status = json.loads((await client.call_tool("status", {"response_format": "json"})).content[0].text)
        assert status["documents"] == 1 and status["db_path"].startswith(settings.db_location)
        assert status["db_bytes"] > 0


@pytest.mark.backends
async def test_load_sends_progress_notifications(project: Path, settings: Settings) -> None:
    (project / "big.txt").write_text(BOOK * 40, encoding="utf-8")
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with Client(create_server(settings)) as client:
        result = await client.call_tool("load_document", {"path": "big.txt"}, progress_callback=on_progress)
        assert not result.is_error
    assert seen and seen[-1][0] == seen[-1][1]


async def test_read_tools_are_marked_read_only(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("search_chunks", "get_chunk", "list_documents", "status"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint is True
    for name in ("load_document", "remove_document"):
        assert tools[name].annotations is not None and tools[name].annotations.read_only_hint is False


@pytest.mark.backends
async def test_stdio_server_loads_and_searches(project: Path, backend_env: dict[str, str]) -> None:
    (project / "book.txt").write_text(BOOK, encoding="utf-8")
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=project_env(project, **backend_env)
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"load_document", "search_chunks", "get_chunk"} <= names
        loaded = await client.call_tool("load_document", {"path": "book.txt"})
        assert "d1 book.txt" in loaded.content[0].text
        found = await client.call_tool("search_chunks", {"query": "gulls", "mode": "bm25"})
        assert "book.txt:" in found.content[0].text
    assert (project / ".rlm" / "rlm.db").is_file() == ("RLM_DB" not in backend_env)


def test_server_start_imports_nothing_heavy(project: Path) -> None:
    """The model, onnxruntime, the grammars and DuckDB load on demand, never before the first answer."""
    code = (
        "import sys; from rlm_mcp.server import create_server; create_server();"
        "names = ('fastembed', 'onnxruntime', 'tree_sitter_language_pack', 'tokenizers', 'duckdb');"
        "heavy = [m for m in names if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=project_env(project), check=True
    )
    assert out.stdout.strip() == "[]"


def test_serve_writes_nothing_but_protocol_to_stdout(project: Path) -> None:
    request = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        },
    }
    proc = subprocess.run(
        [sys.executable, "-m", "rlm_mcp", "serve"],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        env=project_env(project),
        timeout=60,
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["jsonrpc"] == "2.0" for line in lines)
    assert json.loads(lines[0])["result"]["serverInfo"]["name"] == "rlm"
