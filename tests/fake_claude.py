"""A scripted stand-in for `claude -p` (the model is what is faked, not the orchestration): it reads
the flags `rlm-mcp analyze` passes, connects to the rlm server its --mcp-config names over stdio, and
does what the analyst or synthesizer prompt says, in code. Every call is logged to $FAKE_CLAUDE_LOG.

Analyst: claim_task / submit_findings (one finding per chunk quoting its first line, counts of the
words 'error' and 'ok') up to max_tasks. Synthesizer: synthesize, then a Markdown report.
"""

import argparse
import json
import os
import re
import select
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters


def _flags(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("-p", "--print", dest="prompt")
    for flag in ("--mcp-config", "--allowedTools", "--disallowedTools", "--append-system-prompt", "--model",
                 "--output-format", "--max-budget-usd"):  # fmt: skip
        p.add_argument(flag)
    p.add_argument("--strict-mcp-config", action="store_true")
    p.add_argument("--no-session-persistence", action="store_true")
    return p.parse_args(argv)


def _stdin_state() -> str:
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    if not readable:
        return "open"  # an inherited terminal or pipe: the real `claude -p` would wait here
    return "closed" if sys.stdin.read(1) == "" else "data"


async def _call(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, {**args, "response_format": "json"})
    assert not result.is_error, result.content[0].text
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


async def _analyst(client: Client, job: str, worker: str, max_tasks: int) -> str:
    done = 0
    while done < max_tasks:
        task = await _call(client, "claim_task", job_id=job, worker=worker)
        if task["task_id"] is None:
            break
        findings, counts = [], {"word": {"error": 0, "ok": 0}}
        for chunk in task["chunks"]:
            first = chunk["text"].strip().splitlines()[0]
            findings.append({"title": "First line", "evidence": first, "chunk_id": chunk["chunk_id"]})
            for word in ("error", "ok"):
                counts["word"][word] += len(re.findall(rf"\b{word}\b", chunk["text"]))
        await _call(client, "submit_findings", task_id=task["task_id"], worker=worker, findings=findings,
                    counts=counts, relevance="medium")  # fmt: skip
        done += 1
    return f"{worker}: {done} tasks, job {job}"


async def _synthesizer(client: Client, job: str) -> str:
    data = await _call(client, "synthesize", job_id=job)
    c = data["coverage"]
    return (
        f"# Report for {job}\n\nCoverage: {c['done']}/{c['total']} chunks.\n\n"
        f"Counts: {json.dumps(data['counts'], sort_keys=True)}\n"
    )


async def main(flags: argparse.Namespace) -> str:
    config = json.loads(Path(flags.mcp_config).read_text(encoding="utf-8"))["mcpServers"]["rlm"]
    params = StdioServerParameters(
        command=config["command"], args=config["args"], env={**os.environ, **config["env"]}
    )
    async with Client(params) as client:
        job = re.search(r"job_id='(j\d+)'", flags.prompt).group(1)  # type: ignore[union-attr]
        worker = re.search(r"worker='([^']+)'", flags.prompt)
        if worker:
            max_tasks = int(re.search(r"max_tasks=(\d+)", flags.prompt).group(1))  # type: ignore[union-attr]
            return await _analyst(client, job, worker.group(1), max_tasks)
        return await _synthesizer(client, job)


if __name__ == "__main__":
    args = _flags(sys.argv[1:])
    entry = {"argv": sys.argv[1:], "stdin": _stdin_state()}
    with open(os.environ["FAKE_CLAUDE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    if os.environ.get("FAKE_CLAUDE_FAIL_ANALYSTS") and "worker='" in args.prompt:
        sys.exit(1)  # an analyst that dies without claiming anything
    text = anyio.run(main, args)
    print(json.dumps({"type": "result", "result": text, "total_cost_usd": 0.25}))
