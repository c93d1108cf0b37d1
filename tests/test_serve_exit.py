"""`rlm-mcp serve` leaves cleanly however it is stopped, even with real embeddings in flight: stdin
closed, SIGTERM or SIGINT → exit status 0, no core file, no embedding batch left claimed."""

import json
import queue
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from rlm_mcp.store import open_store
from rlm_mcp.store import vectors as vdb

from .conftest import project_env

PARAGRAPHS = 600  # enough text that the model is still busy when the server is told to stop
EXIT_SECONDS = 30  # the worker stops within one model call; this only bounds a hang
BATCH_STARTED = "embedding batch:"  # the worker's debug line when it has claimed a batch


def _lines(stream: IO[str], into: "queue.Queue[str]") -> None:
    for line in stream:
        into.put(line)


def _wait_for(lines: "queue.Queue[str]", marker: str, seconds: float = 120) -> str:
    """The first line containing `marker` (the reader threads feed the queue: no polling)."""
    while True:
        line = lines.get(timeout=seconds)
        if marker in line:
            return line


def _allow_core_files() -> None:
    """In the child: let an abort dump core (the kernel writes `core` in the working directory)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    limit = 64 << 20 if hard == resource.RLIM_INFINITY else min(hard, 64 << 20)
    resource.setrlimit(resource.RLIMIT_CORE, (limit, hard))


def _send(proc: subprocess.Popen[str], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()


def _start_server_embedding(
    project: Path,
) -> tuple[subprocess.Popen[str], "queue.Queue[str]", list[threading.Thread]]:
    """A real server over stdio that has loaded a large file and is inside its first embedding batch."""
    text = "\n\n".join(
        f"Paragraph {i}: the harbour master counted {i} ships, wrote the tide tables and the weather, "
        "and noted which lanterns on the pier needed oil before the night watch began. " * 4
        for i in range(PARAGRAPHS)
    )
    (project / "big.txt").write_text(text, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlm_mcp", "-v", "serve"],
        cwd=project,
        env=project_env(project, RLM_EMBED_BACKGROUND="1"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_allow_core_files,
    )
    out: queue.Queue[str] = queue.Queue()
    err: queue.Queue[str] = queue.Queue()
    readers = [
        threading.Thread(target=_lines, args=(stream, lines), daemon=True)
        for stream, lines in ((proc.stdout, out), (proc.stderr, err))
    ]
    for reader in readers:
        reader.start()
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
    _send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello})
    _wait_for(out, '"id":1')
    _send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    load = {"name": "load_document", "arguments": {"path": "big.txt"}}
    _send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": load})
    answer = json.loads(_wait_for(out, '"id":2'))
    assert "big.txt" in answer["result"]["content"][0]["text"]
    _wait_for(err, BATCH_STARTED)
    return proc, err, readers


@pytest.mark.slow
@pytest.mark.parametrize("way_out", ["stdin closed", "SIGTERM", "SIGINT"])
def test_serve_exits_zero_without_core_and_releases_the_batch_in_flight(project: Path, way_out: str) -> None:
    proc, stderr, readers = _start_server_embedding(project)
    try:
        if way_out == "stdin closed":
            assert proc.stdin is not None
            proc.stdin.close()
        else:
            proc.send_signal(signal.SIGTERM if way_out == "SIGTERM" else signal.SIGINT)
        code = proc.wait(EXIT_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:  # they end at EOF, once the process is gone
            reader.join(EXIT_SECONDS)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    log = "".join(stderr.queue)
    assert code == 0, f"exit status {code}; stderr ends:\n{log[-2000:]}"
    assert "terminate called" not in log and "Traceback" not in log
    assert not list(project.glob("core*")), "the server dumped core"
    store = open_store(project / ".rlm" / "rlm.db")
    try:
        conn = store.conn()
        claimed = conn.execute("SELECT count(*) FROM embed_queue WHERE claimed_by IS NOT NULL").fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        waiting, stored = vdb.backlog(conn), vdb.count_vectors(conn)
    finally:
        store.close()
    assert claimed == 0  # the batch in flight was stored or given back, not left to its lease
    assert waiting > 0 and stored + waiting == chunks  # stopped mid-way; nothing lost, nothing doubled
