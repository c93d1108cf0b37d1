"""The MCP tool contract, as Claude Code sees it: names, parameters, annotations, metadata, typed
findings, and argument errors that read as sentences (never the validator's report)."""

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from rlm_mcp.config import Settings
from rlm_mcp.jobs import planning
from rlm_mcp.server import create_server

from .claude_support import AGENTS

pytestmark = pytest.mark.anyio

# name: (parameters, readOnly, destructive, idempotent). Every tool also takes response_format.
CONTRACT: dict[str, tuple[set[str], bool, bool, bool]] = {
    "load_document": ({"path", "name", "content_type", "recursive"}, False, True, True),
    "search_chunks": ({"query", "mode", "document_ids", "path", "top_k", "offset"}, True, False, True),
    "get_chunk": ({"chunk_id"}, True, False, True),
    "list_documents": ({"offset", "limit"}, True, False, True),
    "remove_document": ({"document_id"}, False, True, True),
    "status": (set(), True, False, True),
    "create_job": (
        {
            "query",
            "document_ids",
            "path",
            "search",
            "top_k",
            "analyst",
            "task_tokens",
            "columns",
            "where",
            "dimensions",
            "reuse",
        },
        False,
        False,
        False,
    ),
    "list_jobs": ({"limit", "offset"}, True, False, True),
    "query_data": ({"sql", "document_ids", "offset", "limit"}, True, False, True),
    "claim_task": ({"job_id", "worker", "analyst"}, False, False, False),
    "submit_findings": (
        {"task_id", "worker", "findings", "summary", "relevance", "counts", "stats", "follow_up", "labels"},
        False,
        False,
        True,
    ),
    "job_status": ({"job_id"}, False, False, True),
    "synthesize": ({"job_id", "offset"}, False, False, True),
}


async def _tools(settings: Settings) -> dict[str, Any]:
    async with Client(create_server(settings)) as client:
        return {t.name: t for t in (await client.list_tools()).tools}


async def test_every_tool_has_its_parameters_complete_true_annotations_and_is_always_loaded(
    settings: Settings,
) -> None:
    tools = await _tools(settings)
    assert set(tools) == set(CONTRACT), "a tool was added or removed: update CONTRACT and the README"
    for name, tool in tools.items():
        params, read_only, destructive, idempotent = CONTRACT[name]
        assert set(tool.input_schema["properties"]) == params | {"response_format"}, name
        a = tool.annotations
        assert a is not None, name
        hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        assert hints == (read_only, destructive, idempotent, False), name
        assert (tool.meta or {}).get("anthropic/alwaysLoad") is True, name
        assert tool.output_schema is None, f"{name}: structuredContent would hide the text from the model"


async def test_findings_items_are_typed_with_their_required_fields(settings: Settings) -> None:
    schema = (await _tools(settings))["submit_findings"].input_schema
    findings = schema["properties"]["findings"]
    assert findings["type"] == "array" and "findings" in schema["required"]
    item = findings["items"]
    assert set(item["required"]) == {"title", "evidence", "chunk_id"}
    assert item["properties"]["line"]["type"] == "integer"
    assert item["properties"]["severity"]["enum"] == ["critical", "high", "medium", "low", "info"]


async def _job_with_a_task(client: Client, project: Path) -> tuple[str, dict[str, Any]]:
    (project / "log.txt").write_text(
        "\n".join(f"line {i}: disk at {i}%" for i in range(40)), encoding="utf-8"
    )
    await client.call_tool("load_document", {"path": "log.txt"})
    plan = await client.call_tool("create_job", {"query": "disk", "response_format": "json"})
    job = json.loads(plan.content[0].text)["job_id"]
    claim = await client.call_tool("claim_task", {"job_id": job, "worker": "w1", "response_format": "json"})
    return job, json.loads(claim.content[0].text)


async def test_one_finding_as_an_object_and_a_line_as_a_string_are_accepted(
    project: Path, settings: Settings
) -> None:
    async with Client(create_server(settings)) as client:
        _, task = await _job_with_a_task(client, project)
        chunk = task["chunks"][0]
        finding = {"title": "Disk", "evidence": "disk at 3%", "chunk_id": chunk["chunk_id"], "line": "4"}
        done = await client.call_tool(
            "submit_findings",
            {"task_id": task["task_id"], "worker": "w1", "findings": finding, "response_format": "json"},
        )
        assert not done.is_error, done.content[0].text
        data = json.loads(done.content[0].text)
        assert data["accepted"] and data["findings"] == 1 and data["unverified"] == 0


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("search_chunks", {"query": "x", "top_k": "many"}, "top_k must be an integer (got 'many')"),
        ("search_chunks", {"query": "x", "mode": "fuzzy"}, "mode must be 'hybrid', 'bm25', 'semantic'"),
        ("get_chunk", {}, "chunk_id is required"),
        ("list_jobs", {"limit": [1]}, "limit must be an integer"),
        ("claim_task", {"job_id": "j1", "worker": {"name": "w"}}, "worker must be a string"),
    ],
)
async def test_arguments_of_the_wrong_type_get_a_sentence_not_the_validators_report(
    settings: Settings, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(create_server(settings)) as client:
        result = await client.call_tool(tool, arguments)
    text = result.content[0].text
    assert result.is_error and expected in text, text
    assert text.startswith(f"{tool}: ") and f"call {tool} again" in text
    for raw in ("validation error", "pydantic", "input_value", "type=", "Arguments"):
        assert raw not in text, text


async def test_the_analysts_fixed_context_estimate_covers_their_prompt_and_the_tool_list(
    settings: Settings,
) -> None:
    tools = await _tools(settings)
    listing = json.dumps([t.model_dump(mode="json", by_alias=True) for t in tools.values()])
    biggest_agent = max(len(p.read_text(encoding="utf-8")) for p in AGENTS)
    known = len(listing) * planning.token_density([listing]) + biggest_agent / planning.CHARS_PER_TOKEN
    assert known < planning.ANALYST_FIXED_TOKENS, (known, planning.ANALYST_FIXED_TOKENS)
