"""A property-based fuzzer over every tool's arguments, through the real MCP protocol (in-process
`mcp.Client`): whatever arrives, the answer comes within a bound, is a house-style sentence (never a
traceback, pydantic's report or a Python exception's name), the server keeps serving, and neither
a read-only tool nor an error changes the seed data.

CI runs a fixed, derandomized budget per tool; `RLM_FUZZ_EXAMPLES=5000` (for example) runs that many
random examples per tool instead, for a nightly run.
"""

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client

pytest.importorskip("hypothesis", reason="hypothesis is a test extra: pip install -e '.[test]' again")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_mcp import jobs
from rlm_mcp.loading.loader import load_document
from rlm_mcp.server import create_server
from rlm_mcp.workspace import Workspace

LONG_RUN = os.environ.get("RLM_FUZZ_EXAMPLES")
EXAMPLES = int(LONG_RUN or 40)  # per tool; 13 tools x 40 calls take about 30-50 s here
CALL_SECONDS = 30.0  # no call may take longer (a hang is a failure, not a slow test)
TOOLS = [
    "load_document",
    "search_chunks",
    "get_chunk",
    "list_documents",
    "remove_document",
    "status",
    "create_job",
    "list_jobs",
    "query_data",
    "claim_task",
    "submit_findings",
    "job_status",
    "synthesize",
]
READ_ONLY = {"search_chunks", "get_chunk", "list_documents", "status", "list_jobs", "query_data"}
# Text that must never reach the model: tracebacks, the validator's report, Python's own messages.
INTERNAL = re.compile(
    r"Traceback|pydantic|validation error|Input should|input_value|input_type|type=|errors\.pydantic"
    r"|Internal error|\b[A-Za-z]+(Error|Exception|Warning)\b|NoneType|has no attribute|not subscriptable"
    r"|unhashable|object is not|positional argument|keyword argument|\bdict\b|\blist\[|<class"
)
KNOWN_IDS = ["d1", "d2", "d99", "c1", "c3", "c0", "j1", "j9", "t1", "t2", "1", "-1", "0x10", "c٣", "seed-2"]
HOSTILE = [
    "",
    " ",
    "*",
    "**",
    "/",
    "..",
    "/etc/passwd",
    "notes.md",
    "(a+)+$",
    "a{1000000000}",
    "(?R)?",
    "[]",
    "{}",
    "SELECT 1",
    "SELECT * FROM d2",
    "SELECT * FROM read_csv('/etc/passwd')",
    "ATTACH 'x.db'",
    "PRAGMA x",
    "SELECT 1; DROP TABLE d2",
    '"\\u0000',
    "\x00",
    "ship* OR tide",
    "NEAR(a b)",
]
HUGE = [2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -1, 0]
SEED_TABLES = ("documents", "chunks", "jobs", "tasks", "task_chunks", "findings", "labels", "data_copies")


def _leaves() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(HUGE),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=40),
        st.sampled_from(KNOWN_IDS),
        st.sampled_from(HOSTILE),
    )


ANY_JSON = st.recursive(
    _leaves(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def _typed(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """A value of the type the schema names (so the fuzzer also gets past validation)."""
    if "$ref" in schema:
        return _typed(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    if "anyOf" in schema:
        return st.one_of([_typed(s, defs, depth) for s in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "string":
        return st.text(max_size=60) | st.sampled_from(KNOWN_IDS) | st.sampled_from(HOSTILE)
    if kind == "integer":
        return st.integers(min_value=-5, max_value=200) | st.sampled_from(HUGE)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array" and depth < 3:
        return st.lists(_typed(schema.get("items", {}), defs, depth + 1), max_size=3)
    if kind == "object" and depth < 3:
        properties = schema.get("properties", {})
        if not properties:
            return st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=3)
        return st.fixed_dictionaries(
            {}, optional={k: _typed(v, defs, depth + 1) for k, v in properties.items()}
        )
    return ANY_JSON


def _arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    defs = schema.get("$defs", {})
    optional = {name: _typed(prop, defs) | ANY_JSON for name, prop in schema.get("properties", {}).items()}
    extra = st.dictionaries(st.sampled_from(["extra", "id", "Path", "query "]), ANY_JSON, max_size=1)
    return st.tuples(st.fixed_dictionaries({}, optional=optional), extra).map(lambda t: {**t[1], **t[0]})


def _seed(project: Path, state: Workspace) -> None:
    """Two documents, a job with tasks, one done with a finding and one claimed."""
    (project / "notes.md").write_text(
        "\n\n".join(f"## Day {i}\n\nThe harbour master logged {i} ships and the tide." for i in range(60)),
        encoding="utf-8",
    )
    (project / "ships.csv").write_text(
        "ship,tons\n" + "".join(f"s{i},{i * 7}\n" for i in range(30)), encoding="utf-8"
    )
    load_document(state.store, state.settings, "notes.md")
    load_document(state.store, state.settings, "ships.csv")
    plan = jobs.create_job(state.store, state.settings, "what happened?", task_tokens=500, clock=state.clock)
    first = jobs.claim_task(state.store, plan.job_id, "seed-1", clock=state.clock)
    assert first.task_id is not None
    chunk = first.chunks[0]
    finding = {"title": "Ships", "evidence": chunk.text[:20], "chunk_id": chunk.chunk_id}
    jobs.submit_findings(state.store, first.task_id, "seed-1", [finding], clock=state.clock)
    assert jobs.claim_task(state.store, plan.job_id, "seed-2", clock=state.clock).task_id is not None


def _snapshot(state: Workspace) -> dict[str, list[str]]:
    conn = state.store.conn()
    return {t: sorted(repr(tuple(r)) for r in conn.execute(f"SELECT * FROM {t}")) for t in SEED_TABLES}


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal("asyncio") as running:
        yield running


@pytest.mark.backends
@pytest.mark.parametrize("tool", TOOLS)
def test_any_arguments_get_a_house_style_answer_in_time_and_errors_change_nothing(
    project: Path, workspace: Workspace, portal: BlockingPortal, tool: str, backend: str
) -> None:
    _seed(project, workspace)
    with portal.wrap_async_context_manager(Client(create_server(workspace=workspace))) as client:
        schema = next(t for t in portal.call(client.list_tools).tools if t.name == tool).input_schema

        async def call(arguments: dict[str, Any]) -> Any:
            with anyio.fail_after(CALL_SECONDS):
                return await client.call_tool(tool, arguments)

        @settings(
            max_examples=EXAMPLES,
            derandomize=LONG_RUN is None,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(arguments=_arguments(schema))
        def one_call(arguments: dict[str, Any]) -> None:
            before = _snapshot(workspace)
            result = portal.call(call, arguments)
            texts = [getattr(block, "text", "") for block in result.content]
            text = "\n".join(texts).removeprefix(f"Error executing tool {tool}: ")  # the SDK's prefix
            assert text.strip(), (tool, arguments)
            leaked = INTERNAL.search(text)
            assert leaked is None, f"{tool}({arguments!r}) answered {leaked.group()!r}:\n{text[:1500]}"
            if result.is_error or tool in READ_ONLY:
                assert _snapshot(workspace) == before, f"{tool}({arguments!r}) changed the store: {text}"

        one_call()
        status = portal.call(client.call_tool, "status", {"response_format": "json"})
        assert not status.is_error and json.loads(status.content[0].text)["db_path"], status.content[0].text
