"""The process the kill schedule kills (tests/faults/test_kill_schedule.py): one operation on the store
named by the environment (RLM_DB, CLAUDE_PROJECT_DIR), printing `mark N` at each progress point
(a batch of chunks written, a batch embedded, a task claimed, a task submitted) and `done` at the end.

    python tests/faults/driver.py load PATH
    python tests/faults/driver.py embed
    python tests/faults/driver.py work JOB WORKER [LATER_SECONDS]   # claim/submit until none is left

`work` submits, for each task, one finding per chunk quoting the chunk's first line, and counts
{"chunks": {"seen": n}} and stats {"lines": …}: what an analyst sends, fixed by the task's text, so
a clean run and an interrupted one must end with the same findings. LATER_SECONDS moves this
process's clock ahead (a resumed worker arriving after the killed one's leases ran out).
"""

import sys
import time
from typing import Any

from rlm_mcp import jobs
from rlm_mcp.config import load_settings
from rlm_mcp.loading import batches
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import open_store

_marks = 0


def mark() -> None:
    global _marks
    _marks += 1
    print(f"mark {_marks}", flush=True)


def load(path: str) -> None:
    batches.PROGRESS_INTERVAL_SECONDS = 0.0  # every batch is a progress point (reporting only)
    settings = load_settings()
    store = open_store(settings.db_path)
    load_document(store, settings, path, progress=lambda done, total, message: mark())


def embed() -> None:
    from rlm_mcp.embedding import embed_pending
    from rlm_mcp.embedding.model import FastEmbedder

    settings = load_settings()
    store = open_store(settings.db_path)
    embed_pending(store, FastEmbedder(settings.embed_model), lambda done, total: mark())


def findings_for(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    findings = []
    lines = []
    for chunk in chunks:
        first = next((line for line in chunk["text"].splitlines() if line.strip()), chunk["text"][:40])
        findings.append({"title": f"first line of {chunk['chunk_id']}", "detail": "the chunk's first line",
                         "evidence": first.strip()[:80], "chunk_id": chunk["chunk_id"]})  # fmt: skip
        lines.append(chunk["text"].count("\n"))
    return {
        "findings": findings,
        "counts": {"chunks": {"seen": len(chunks)}},
        "stats": {"lines": {"n": len(lines), "sum": sum(lines), "min": min(lines), "max": max(lines)}},
    }


def work(job: str, worker: str, later: float = 0.0) -> None:
    settings = load_settings()
    store = open_store(settings.db_path)

    def clock() -> float:
        return time.time() + later

    while True:
        claim = jobs.claim_task(store, job, worker, clock=clock).to_json()
        if claim["task_id"] is None:
            return
        mark()
        answer = findings_for(claim["chunks"])
        jobs.submit_findings(store, claim["task_id"], worker, answer["findings"], counts=answer["counts"],
                             stats=answer["stats"], clock=clock)  # fmt: skip
        mark()


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "load":
        load(args[0])
    elif command == "embed":
        embed()
    elif command == "work":
        work(args[0], args[1], float(args[2]) if len(args) > 2 else 0.0)
    else:
        raise SystemExit(f"unknown command {command}")
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
