"""The RLM loop over real MCP: concurrent analysts on two `rlm-mcp serve` processes, a killed worker;
on SQLite and on PostgreSQL (the servers get the test's store from `backend_env`)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from rlm_mcp import jobs
from rlm_mcp.config import Settings
from rlm_mcp.server import create_server
from rlm_mcp.store import Store, open_backend

from .conftest import project_env
from .jobs_support import add_document

pytestmark = [pytest.mark.anyio, pytest.mark.backends]

TASKS = 1000
LEASE = 2  # seconds: short, so the test waits for one expiry and no longer
WORKERS_PER_SERVER = 4
CHUNK = "Ship {i} entered the harbour at dawn carrying cargo and a storm report. "
WORKER_SCRIPT = """
import json, sys, anyio
from mcp import Client, StdioServerParameters

async def main():
    env = json.loads(sys.argv[1])
    params = StdioServerParameters(command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=env)
    async with Client(params) as client:
        arguments = {"job_id": "j1", "worker": "doomed", "response_format": "json"}
        claim = await client.call_tool("claim_task", arguments)
        print(json.loads(claim.content[0].text)["task_id"], flush=True)
        await anyio.Event().wait()  # holds the task until the test kills this process

anyio.run(main)
"""


def _server(project: Path, env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=project_env(project, **env)
    )


def _open(settings: Settings) -> Store:
    return open_backend(settings.db_path, settings.db_url, settings.project_key)


async def _call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, {**arguments, "response_format": "json"})
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


async def _analyst(client: Client, name: str, sent: Counter[str], titles: list[str]) -> int:
    """Claim and submit until the queue is empty; remember exactly what was submitted."""
    done = 0
    while (claim := await _call(client, "claim_task", job_id="j1", worker=name))["task_id"]:
        chunk = claim["chunks"][0]
        counts = {"ships": {"seen": len(claim["chunks"]), name: 1}}
        title = f"Storm report {claim['task_id']}"
        result = await _call(
            client,
            "submit_findings",
            task_id=claim["task_id"],
            worker=name,
            counts=counts,
            findings=[
                {
                    "title": title,
                    "detail": "cargo",
                    "evidence": chunk["text"][:60],
                    "chunk_id": chunk["chunk_id"],
                    "tags": ["storms"],
                }
            ],
        )
        assert result["accepted"] and result["unverified"] == 0 and result["task_state"] == "done"
        sent.update({f"{d}/{v}": n for d, values in counts.items() for v, n in values.items()})
        titles.append(title)
        done += 1
    return done


@pytest.mark.slow
async def test_concurrent_clients_on_two_servers_drain_a_job_exactly_once(
    project: Path, settings: Settings, backend_env: dict[str, str]
) -> None:
    store = _open(settings)
    add_document(store, "harbour.log", [(CHUNK.format(i=i) * 25)[:1800] for i in range(TASKS)])
    store.close()
    sent: Counter[str] = Counter()
    titles: list[str] = []
    per_worker: dict[str, int] = {}
    with anyio.fail_after(600):
        async with (
            Client(_server(project, backend_env)) as first,
            Client(_server(project, backend_env)) as second,
        ):
            plan = await _call(first, "create_job", query="storms?", task_tokens=500)
            assert plan["job_id"] == "j1" and plan["tasks"] == TASKS

            async def run(client: Client, name: str) -> None:
                per_worker[name] = await _analyst(client, name, sent, titles)

            async with anyio.create_task_group() as group:
                for i in range(WORKERS_PER_SERVER):
                    group.start_soon(run, first, f"a{i}")
                    group.start_soon(run, second, f"b{i}")
            status = await _call(second, "job_status", job_id="j1")
            synthesis = await _call(first, "synthesize", job_id="j1")
    assert sum(per_worker.values()) == TASKS and len(per_worker) == 2 * WORKERS_PER_SERVER
    assert all(sum(n for w, n in per_worker.items() if w[0] == s) for s in "ab")  # both servers worked
    assert status["tasks"] == {"pending": 0, "claimed": 0, "done": TASKS, "failed": 0}
    assert status["coverage"] == {"done": TASKS, "total": TASKS, "ratio": 1.0}
    merged = Counter({f"{d}/{v}": n for d, values in synthesis["counts"].items() for v, n in values.items()})
    assert merged == sent and synthesis["counts"]["ships"]["seen"] == TASKS
    store = _open(settings)
    stored = [r[0] for r in store.conn().execute("SELECT title FROM findings ORDER BY task_id")]
    store.close()
    assert sorted(stored) == sorted(titles) and len(set(stored)) == TASKS


async def test_a_killed_workers_task_is_completed_by_another_after_its_lease(
    project: Path, settings: Settings, backend_env: dict[str, str]
) -> None:
    store = _open(settings)
    add_document(store, "log.txt", ["the one line that matters"])
    jobs.create_job(store, dataclasses.replace(settings, lease_seconds=LEASE), "what matters?")
    store.close()
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER_SCRIPT, json.dumps(project_env(project, **backend_env))],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        with anyio.fail_after(30):
            line = await anyio.to_thread.run_sync(worker.stdout.readline)  # type: ignore[union-attr]
        assert line.strip() == "t1"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and the server it started, mid-task
        worker.wait()
        worker.stdout.close()  # type: ignore[union-attr]
    store = _open(settings)
    (expires,) = store.conn().execute("SELECT lease_expires_at FROM tasks WHERE id = 1").fetchone()
    store.close()
    async with Client(_server(project, backend_env)) as client:
        claim = await _call(client, "claim_task", job_id="j1", worker="rescuer")
        if claim["task_id"] is None:  # the lease still runs (the usual case): held until it ends
            assert claim["in_progress"] == 1 and time.time() < expires + 1
            await anyio.sleep(max(0.0, expires - time.time()) + 0.1)  # one wait, to the lease's end
            claim = await _call(client, "claim_task", job_id="j1", worker="rescuer")
        assert time.time() >= expires  # never handed out before the lease ran out
        assert claim["task_id"] == "t1" and claim["attempt"] == 2
        finding = {"title": "It matters", "detail": "", "evidence": "the one line", "chunk_id": "c1"}
        await _call(client, "submit_findings", task_id="t1", worker="rescuer", findings=[finding])
        status = await _call(client, "job_status", job_id="j1")
    assert status["tasks"] == {"pending": 0, "claimed": 0, "done": 1, "failed": 0}
    assert status["coverage"]["ratio"] == 1.0


async def test_job_tools_are_listed_with_their_contract(settings: Settings) -> None:
    async with Client(create_server(settings)) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    params = {
        name: set(tools[name].input_schema["properties"])
        for name in ("create_job", "claim_task", "submit_findings", "job_status", "synthesize")
    }
    assert params == {
        "create_job": {
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
            "response_format",
        },
        "claim_task": {"job_id", "worker", "analyst", "response_format"},
        "submit_findings": {
            "task_id",
            "worker",
            "findings",
            "summary",
            "relevance",
            "counts",
            "stats",
            "follow_up",
            "labels",
            "response_format",
        },
        "job_status": {"job_id", "response_format"},
        "synthesize": {"job_id", "offset", "response_format"},
    }


async def test_bad_submission_over_mcp_is_a_tool_error_showing_the_shape(settings: Settings) -> None:
    store = _open(settings)
    add_document(store, "a", ["alpha"])
    store.close()
    async with Client(create_server(settings)) as client:
        await _call(client, "create_job", query="q")
        await _call(client, "claim_task", job_id="j1", worker="w")
        bad = await client.call_tool(
            "submit_findings", {"task_id": "t1", "worker": "w", "findings": [{"title": "x"}]}
        )
        assert bad.is_error and "evidence is missing" in bad.content[0].text
        assert "Expected: findings=[{title" in bad.content[0].text
        huge = [{"title": "x", "detail": "y" * 4000, "evidence": "alpha", "chunk_id": "c1"}] * 2600
        refused = await client.call_tool(
            "submit_findings", {"task_id": "t1", "worker": "w", "findings": huge}
        )
        assert refused.is_error and "Nothing was stored" in refused.content[0].text
        text = await client.call_tool("synthesize", {"job_id": "j1"})
        assert "PARTIAL" in text.content[0].text
