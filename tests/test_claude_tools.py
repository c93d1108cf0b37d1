"""The agent and skill files cannot drift away from the server.

Every tool call they prescribe names a tool the server lists, with parameters it takes; and a
scripted analyst that does exactly what its agent file says (the calls and argument names are read
from the file's Loop section, the task bound from its `max_tasks` default) drains a real job over
stdio, spawned the way the rlm skill says, before a scripted synthesizer reads the merged result.
"""

import csv
import io
import json
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from rlm_mcp.config import Settings
from rlm_mcp.jobs import analysts
from rlm_mcp.server import create_server

from .claude_support import (
    AGENTS,
    MCP_NAME,
    PLUGIN_ROOT,
    SYNTHESIZER,
    calls,
    comma_list,
    read_doc,
    section,
)
from .conftest import project_env

pytestmark = pytest.mark.anyio

CLAUDE_TEXTS = [*AGENTS, *sorted((PLUGIN_ROOT / "skills").rglob("*.md"))]
MAX_ROUNDS = 4
Analysis = Callable[[dict[str, Any]], dict[str, Any]]


async def server_tools(settings: Settings) -> dict[str, set[str]]:
    async with Client(create_server(settings)) as client:
        return {t.name: set(t.input_schema["properties"]) for t in (await client.list_tools()).tools}


async def test_every_tool_call_in_the_agents_and_skills_exists_with_those_parameters(
    settings: Settings,
) -> None:
    tools = await server_tools(settings)
    used: set[str] = set()
    for path in CLAUDE_TEXTS:
        text = path.read_text(encoding="utf-8")
        for name, args in calls(text):
            assert name in tools, f"{path.name}: `{name}(…)` is not a tool of the server"
            assert set(args) <= tools[name], f"{path.name}: {name} takes no {set(args) - tools[name]}"
            used.add(name)
        for name in MCP_NAME.findall(text):
            assert name in tools, f"{path.name}: mcp__…__{name} is not a tool of the server"
    assert set(tools) - used <= {"remove_document"}, "a tool the playbook never mentions"


async def test_the_agents_deny_only_tools_the_server_has(settings: Settings) -> None:
    tools = await server_tools(settings)
    for path in AGENTS:
        denied = comma_list(read_doc(path).meta["disallowedTools"])
        for name in (MCP_NAME.fullmatch(t) for t in denied):
            assert name is None or name.group(1) in tools, f"{path.name}: denies unknown {name.group(0)}"


# ---------------------------------------------------------------- the scripted analyst


@dataclass(frozen=True)
class Prescription:
    """What an analyst's agent file tells it to do."""

    agent: str
    claim_args: list[str]
    submit_args: list[str]
    max_tasks: int
    line_format: str

    @classmethod
    def read(cls, agent: str) -> "Prescription":
        doc = read_doc(PLUGIN_ROOT / "agents" / f"{agent}.md")
        loop = section(doc.body, "Loop")
        prescribed = dict(calls(loop))
        bound = re.search(r"`max_tasks` \(default (\d+)\)", doc.body)
        example = re.search(r"e\.g\.\n\s+`([^`]+)`", loop)
        assert bound and example, f"{agent}: no task bound or no example final line"
        return cls(agent, prescribed["claim_task"], prescribed["submit_findings"], int(bound[1]), example[1])


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, {**arguments, "response_format": "json"})
    assert not result.is_error, f"{tool}: {result.content[0].text}"
    answer: dict[str, Any] = json.loads(result.content[0].text)
    return answer


async def run_analyst(client: Client, rx: Prescription, job_id: str, worker: str, analyse: Analysis) -> str:
    """The Loop section, step by step: claim, analyse, submit, until the queue or the bound ends it."""
    known = {"job_id": job_id, "worker": worker, "analyst": rx.agent}
    tasks = findings = 0
    while tasks < rx.max_tasks:  # step 5
        claim = await call(client, "claim_task", {a: known[a] for a in rx.claim_args})  # step 1
        if claim["task_id"] is None:
            return f"{worker}: {tasks} tasks, {findings} findings, job {job_id}, queue empty"  # step 6
        result = analyse(claim) if claim["level"] == 0 else reduce(claim)  # steps 2-3
        wanted = [a for a in rx.submit_args if a not in ("task_id", "worker")]
        if claim["level"] > 0:  # "send no counts or stats" on a REDUCE task
            wanted = [a for a in wanted if a not in ("counts", "stats")]
        if not claim.get("dimensions"):  # "labels, when the task lists DIMENSIONS"
            wanted = [a for a in wanted if a != "labels"]
        assert sorted(result) == sorted(wanted), "the file's submit_findings call names other arguments"
        stored = await call(
            client, "submit_findings", {"task_id": claim["task_id"], "worker": worker, **result}
        )
        assert stored["accepted"] and stored["unverified"] == 0, stored  # step 4: verbatim evidence
        tasks, findings = tasks + 1, findings + stored["findings"]
    return f"{worker}: {tasks} tasks, {findings} findings, job {job_id}"  # step 6


def reduce(claim: dict[str, Any]) -> dict[str, Any]:
    items = [c for c in claim["chunks"] if "evidence: " in c["text"]]
    findings = [finding(c, c["text"].split("evidence: ", 1)[1].splitlines()[0], "merged") for c in items]
    return {"findings": findings, "summary": "merged", "relevance": "medium"}


def finding(chunk: dict[str, Any], evidence: str, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "detail": title,
        "evidence": evidence,
        "chunk_id": chunk["chunk_id"],
        "tags": ["t"],
    }


def analyse_table(claim: dict[str, Any]) -> dict[str, Any]:
    """rlm-data-analyzer step 3: counts and stats over its rows only, findings quoting rows."""
    status: Counter[str] = Counter()
    amounts: list[float] = []
    found = []
    for chunk in claim["chunks"]:
        header = next(csv.reader([chunk["context"].strip()]))
        for line in chunk["text"].splitlines():
            row = dict(zip(header, next(csv.reader(io.StringIO(line))), strict=True))
            status[row["status"]] += 1
            amounts.append(float(row["amount"]))
            if float(row["amount"]) >= 990:
                found.append(finding(chunk, line, f"large amount in row {row['id']}"))
    stats = {"amount": {"n": len(amounts), "sum": sum(amounts), "min": min(amounts), "max": max(amounts)}}
    return {
        "findings": found, "summary": f"{len(amounts)} rows", "relevance": "high" if found else "low",
        "counts": {"status": dict(status)}, "stats": stats,
    }  # fmt: skip


def analyse_lines(pattern: str, extra: tuple[str, ...] = ()) -> Analysis:
    """The other analysts' step 3, reduced to its protocol: findings quote matching lines verbatim."""

    def analyse(claim: dict[str, Any]) -> dict[str, Any]:
        found = [
            finding(chunk, line.strip(), f"matches {pattern}")
            for chunk in claim["chunks"]
            for line in chunk["text"].splitlines()
            if re.search(pattern, line)
        ]
        result: dict[str, Any] = {
            "findings": found,
            "summary": "read",
            "relevance": "high" if found else "none",
        }
        if "counts" in extra:
            result["counts"] = {"matches": {pattern: len(found)}}
        if "stats" in extra:
            result["stats"] = {"matches": {"n": 1, "sum": len(found), "min": len(found), "max": len(found)}}
        if "follow_up" in extra:
            result["follow_up"] = ["what else?"]
        return result

    return analyse


async def run_job(
    client: Client, query: str, analyse: Analysis, projection: dict[str, Any] | None = None
) -> tuple[str, list[str], int]:
    """The rlm skill, steps 3-5: plan, spawn in parallel what create_job names, repeat while tasks remain."""
    plan = await call(client, "create_job", {"query": query, "task_tokens": 500, **(projection or {})})
    job_id, spawn = plan["job_id"], {s["agent"]: s["count"] for s in plan["spawn"]}
    lines: list[str] = []
    for rounds in range(1, MAX_ROUNDS + 1):
        assert 0 < sum(spawn.values()) <= 8  # "at most 8 in a round"

        async def one(agent: str, worker: str) -> None:
            lines.append(await run_analyst(client, Prescription.read(agent), job_id, worker, analyse))

        async with anyio.create_task_group() as group:  # "in one message": all at once
            for agent, n in spawn.items():
                for i in range(n):
                    group.start_soon(one, agent, f"{agent.split('-')[1]}-{len(lines)}-{rounds}-{i}")
        status = await call(client, "job_status", {"job_id": job_id})
        pending = status["tasks"]["pending"]
        if pending == 0:
            return job_id, lines, rounds
        spawn = {next(iter(spawn)): min(8, math.ceil(pending / 8))}  # "one analyst per 8 pending tasks"
    raise AssertionError(f"job {job_id} not drained in {MAX_ROUNDS} rounds")


async def synthesize_as_prescribed(client: Client, job_id: str) -> dict[str, Any]:
    """rlm-synthesizer's Steps: job_status, synthesize page by page, get_chunk on what the answer rests on."""
    steps = [
        name
        for name, _ in calls(section(read_doc(PLUGIN_ROOT / "agents" / f"{SYNTHESIZER}.md").body, "Steps"))
    ]
    assert steps[:2] == ["job_status", "synthesize"] and "get_chunk" in steps
    status = await call(client, "job_status", {"job_id": job_id})
    assert status["coverage"]["ratio"] == 1.0
    result = await call(client, "synthesize", {"job_id": job_id})
    pages = [result]
    while pages[-1].get("next", {}).get("action") == "page":
        pages.append(
            await call(client, "synthesize", {"job_id": job_id, "offset": pages[-1]["next"]["offset"]})
        )
    for theme in result["themes"][:3]:
        top = theme["findings"][0]
        chunk = await call(client, "get_chunk", {"chunk_id": top["citations"][0]})
        assert top["evidence"] in chunk["text"]
    return result


def server(project: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "rlm_mcp", "serve"], env=project_env(project)
    )


async def test_scripted_data_analysts_drain_a_real_job_and_the_counts_come_out_exact(project: Path) -> None:
    rng = random.Random(7)
    statuses = ["open", "closed", "NA"]
    rows = [
        (i, rng.choice(["north", "south"]), rng.choice(statuses), rng.randint(100, 99999) / 100)
        for i in range(1, 6001)
    ]
    body = "".join(f"{i},{region},{status},{amount:.2f}\n" for i, region, status, amount in rows)
    (project / "sales.csv").write_text("id,region,status,amount\n" + body, encoding="utf-8")
    async with Client(server(project)) as client:
        await call(client, "load_document", {"path": "sales.csv"})
        job_id, lines, rounds = await run_job(
            client, "Count rows by status and total the amount.", analyse_table
        )
        result = await synthesize_as_prescribed(client, job_id)
    rx = Prescription.read(analysts.DATA)
    assert rounds == 2, "the first round's analysts stop at max_tasks; a second round finishes the queue"
    assert all(
        re.fullmatch(r"[a-z]+(-\d+)+: \d+ tasks, \d+ findings, job j\d+(, queue empty)?", x) for x in lines
    )
    assert max(int(x.split(": ")[1].split()[0]) for x in lines) == rx.max_tasks
    assert result["counts"]["status"] == dict(Counter(status for _, _, status, _ in rows))
    amount = result["stats"]["amount"]
    assert amount["n"] == len(rows) and amount["min"] == min(r[3] for r in rows)
    assert amount["sum"] == pytest.approx(sum(r[3] for r in rows), rel=1e-12)
    cited = {c for theme in result["themes"] for c in theme["citations"]}
    assert cited and all(re.fullmatch(r"c\d+", c) for c in cited)


CAUSES = {"auth": "login token expired", "network": "timeout reaching host", "config": "bad yaml key"}


def label_records(claim: dict[str, Any]) -> dict[str, Any]:
    """rlm-data-analyzer step 3 on a task of RECORDS: one label per record and dimension, judged from
    the record's own line (here: which cause its note describes), a finding quoting one line."""
    assert claim["dimensions"] == {"root_cause": ["auth", "network", "config", "other"]}
    labels, found = {}, []
    for line in claim["records"]["text"].splitlines():
        number, note = line.split(" | ")
        labels[number.removeprefix("r")] = next((c for c, text in CAUSES.items() if text in note), "other")
        if not found:
            found.append(
                {"title": "a failure", "detail": "first", "evidence": note, "record": int(number[1:])}
            )
    return {
        "findings": found, "summary": f"{len(labels)} records", "relevance": "high", "counts": {},
        "stats": {}, "labels": {"root_cause": labels},
    }  # fmt: skip


async def test_scripted_data_analysts_label_a_projected_job_and_the_cross_tab_is_exact(
    project: Path,
) -> None:
    """The playbook's judgement route: a projected job with a fixed vocabulary, analysts following
    their file label every record, then query_data's cross-tab of labels by a raw column is exact."""
    rng = random.Random(5)
    rows = [(i, rng.choice([2023, 2024]), rng.choice(["failed", "ok"]), rng.choice([*CAUSES, "x"]))
            for i in range(1, 1201)]  # fmt: skip
    notes = {cause: f"{CAUSES.get(cause, 'cosmic rays')} on host {i}" for i, _, _, cause in rows}
    body = "".join(
        f"{i},{year},{status},{CAUSES.get(c, 'cosmic rays')} on host {i}\n" for i, year, status, c in rows
    )
    (project / "tickets.csv").write_text("id,year,status,note\n" + body, encoding="utf-8")
    assert notes
    projection = {
        "document_ids": ["d1"], "columns": ["note"], "where": "status = 'failed'",
        "dimensions": {"root_cause": ["auth", "network", "config", "other"]},
    }  # fmt: skip
    async with Client(server(project)) as client:
        await call(client, "load_document", {"path": "tickets.csv"})
        job_id, lines, _ = await run_job(
            client, "Root cause of each failed ticket.", label_records, projection
        )
        sql = (
            "SELECT l.value, d.year, count(*) FROM labels l JOIN d1 d ON d.record = l.record "
            f"AND l.document_id = 'd1' WHERE l.job_id = '{job_id}' AND l.dimension = 'root_cause' "
            "GROUP BY ALL ORDER BY 1, 2"
        )
        table = await call(client, "query_data", {"sql": sql})
    truth = Counter(
        (c if c in CAUSES else "other", year) for _, year, status, c in rows if status == "failed"
    )
    assert [tuple(r) for r in table["rows"]] == [(c, y, n) for (c, y), n in sorted(truth.items())]
    assert all(line.startswith("data-") for line in lines)


def events() -> str:
    lines = []
    for i in range(1, 1500):
        level = "error" if i % 37 == 0 else "info"
        lines.append(json.dumps({"id": i, "level": level, "ms": i % 90}) + "\n")
    return "".join(lines)


def handlers() -> str:
    body = ["    return len(value)\n", "    return eval(value)\n"]
    funcs = [
        f"def handler_{i}(request):\n    value = request.args['q{i}']\n{body[i % 9 == 0]}\n\n"
        for i in range(120)
    ]
    return "import os\n\n\n" + "".join(funcs)


def keeper_log() -> str:
    weather = ["calm seas", "a storm"]
    return "".join(
        f"## Day {i}\n\nThe keeper logged {weather[i % 11 == 0]} on day {i}.\n\n" for i in range(400)
    )


@pytest.mark.parametrize(
    ("agent", "name", "content", "pattern"),
    [
        (analysts.JSON, "events.jsonl", events(), '"level": "error"'),
        (analysts.CODE, "handlers.py", handlers(), r"eval\("),
        (analysts.CHUNK, "log.md", keeper_log(), "a storm"),
    ],
    ids=["json", "code", "chunk"],
)
async def test_each_analyst_file_drives_a_job_to_full_coverage_with_verified_quotes(
    project: Path, agent: str, name: str, content: str, pattern: str
) -> None:
    (project / name).write_text(content, encoding="utf-8")
    rx = Prescription.read(agent)
    extra = tuple(a for a in rx.submit_args if a in ("counts", "stats", "follow_up"))
    async with Client(server(project)) as client:
        await call(client, "load_document", {"path": name})
        plan = await call(client, "create_job", {"query": "Find every match.", "task_tokens": 500})
        assert set(plan["analysts"]) == {agent}, "create_job names the analyst whose file we follow"
        job_id = plan["job_id"]
        lines = [
            await run_analyst(client, rx, job_id, f"{agent}-{i}", analyse_lines(pattern, extra))
            for i in range(9)
        ]
        result = await synthesize_as_prescribed(client, job_id)
    assert lines[-1].endswith("queue empty")
    expected = len(re.findall(pattern, content))
    assert sum(int(x.split(", ")[1].split()[0]) for x in lines) == expected
    assert result["findings"]["total"] == expected and result["coverage"]["ratio"] == 1.0
