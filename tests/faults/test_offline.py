"""Offline means offline: a whole session over real stdio (load, real embeddings, every search mode,
query_data, a job claimed, submitted and synthesized) opens no network socket, resolves no host and
writes nothing outside the project's `.rlm/` and the model cache.

The server runs under `strace -f` (every connect/sendto/sendmsg and every file created or written
is recorded) and, where unprivileged user namespaces work, inside `unshare -rn`: a network namespace
with no route, so even a call the trace missed could not leave the machine. HOME, TMPDIR and
XDG_CACHE_HOME point at empty folders, which are compared file by file afterwards.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from ..conftest import project_env

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

NETWORK_CALLS = "connect,sendto,sendmsg,sendmmsg"
FILE_CALLS = "open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,link,linkat,symlink,symlinkat"
INTERNET = re.compile(r"\b(AF_INET6?|AF_PACKET)\b")
WRITE_FLAGS = re.compile(r"O_(WRONLY|RDWR|CREAT|TRUNC|APPEND)")
QUOTED_PATH = re.compile(r'"((?:[^"\\]|\\.)*)"')
# Files any process may write: the terminal, the null device, its own /proc entries.
HARMLESS = ("/dev/null", "/dev/tty", "/proc/self/", "/proc/thread-self/")
EMBED_WAIT = 240.0  # seconds for the real model to embed the document on a busy 2-core machine


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def _wrapper(trace: Path) -> list[str]:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace; .ci/run installs it)")
    probe = subprocess.run([strace, "-f", "-qq", "-o", os.devnull, "true"], capture_output=True, timeout=30)
    if probe.returncode != 0:  # a container that forbids ptrace
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode(errors='replace').strip()[:200]}")
    calls = f"trace={NETWORK_CALLS},{FILE_CALLS}"
    traced = [strace, "-f", "-qq", "-s", "512", "-e", calls, "-o", str(trace)]
    return (["unshare", "-rn"] if _unshare_works() else []) + traced


def _tree(root: Path) -> dict[str, int]:
    """Every file and folder under root, with its size (folders -1)."""
    found: dict[str, int] = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(folder, name), root)] = -1
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = os.lstat(path).st_size
    return found


async def _call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, {**arguments, "response_format": "json"})
    assert not result.is_error, f"{tool}: {result.content[0].text}"
    data: dict[str, Any] = json.loads(result.content[0].text)
    return data


async def _session(client: Client) -> None:
    """Everything a user does in one session, with real embeddings."""
    loaded = await _call(client, "load_document", path="docs")
    assert len(loaded["documents"]) == 2
    with anyio.fail_after(EMBED_WAIT):
        while True:
            vectors = (await _call(client, "status"))["vectors"]
            if vectors.get("vectors", 0) > 0 and vectors.get("waiting") == 0:
                break
            await anyio.sleep(0.5)
    for mode in ("semantic", "hybrid", "bm25", "regex"):
        hits = await _call(client, "search_chunks", query="lighthouse keeper", mode=mode)
        assert hits["hits"], (mode, hits)
    table = next(d["id"] for d in loaded["documents"] if d["name"].endswith("ships.csv"))
    rows = await _call(client, "query_data", sql=f"SELECT count(*) AS n FROM {table}")
    assert rows["rows"] == [[40]], rows
    plan = await _call(client, "create_job", query="What do the keepers report?")
    job = plan["job_id"]
    while (task := await _call(client, "claim_task", job_id=job, worker="w1"))["task_id"]:
        chunk = task["chunks"][0]
        finding = {"title": "Keeper's report", "evidence": chunk["text"][:40], "chunk_id": chunk["chunk_id"]}
        done = await _call(
            client, "submit_findings", task_id=task["task_id"], worker="w1", findings=[finding]
        )
        assert done["accepted"], done
    synthesis = await _call(client, "synthesize", job_id=job)
    assert synthesis["coverage"]["ratio"] == 1.0, synthesis


def _violations(trace: Path, allowed: list[Path]) -> tuple[list[str], list[str]]:
    """(network calls to the internet, files written outside `allowed`) in the strace log."""
    network, files = [], []
    roots = [str(p) for p in allowed]
    for line in trace.read_text(encoding="utf-8", errors="replace").splitlines():
        call = line.split(maxsplit=1)[-1]
        if call.startswith(("connect(", "sendto(", "sendmsg(", "sendmmsg(")):
            if INTERNET.search(call) or "htons(53)" in call:
                network.append(line)
            continue
        if call.startswith(("open(", "openat(")) and not WRITE_FLAGS.search(call):
            continue  # a read
        if "= -1 " in call or "<unfinished" in call:
            continue  # failed (nothing written), or completed on a later line
        paths = QUOTED_PATH.findall(call)
        if call.startswith(("symlink", "link")):
            paths = paths[-1:]  # the new name; the first path is what it points at
        for path in paths:
            if path.startswith("/") and not path.startswith(HARMLESS):
                real = os.path.realpath(path)
                if not any(real == r or real.startswith(r + os.sep) for r in roots):
                    files.append(line)
    return network, files


async def test_a_whole_session_over_stdio_makes_no_network_call_and_writes_only_the_store_and_model_cache(
    tmp_path: Path,
) -> None:
    project, home, tmp, cache = (tmp_path / n for n in ("project", "home", "tmp", "cache"))
    for folder in (project, home, tmp, cache):
        folder.mkdir()
    docs = project / "docs"
    docs.mkdir()
    (docs / "keepers.md").write_text(
        "\n\n".join(
            f"## Night {i}\n\nThe lighthouse keeper trimmed the wick, logged {i} ships and the wind."
            for i in range(30)
        ),
        encoding="utf-8",
    )
    (docs / "ships.csv").write_text(
        "ship,tons\n" + "".join(f"ship {i},{i * 10}\n" for i in range(40)), encoding="utf-8"
    )
    project_before = _tree(project)
    trace = tmp_path / "strace.log"
    wrapper = _wrapper(trace)
    env = project_env(
        project,
        HOME=str(home),
        TMPDIR=str(tmp),
        XDG_CACHE_HOME=str(cache),
        RLM_EMBED_BACKGROUND="1",
        PYTHONDONTWRITEBYTECODE="1",  # Python's own .pyc cache is not the product's writing
    )
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the server must turn it off itself
    server = StdioServerParameters(
        command=wrapper[0],
        args=[*wrapper[1:], sys.executable, "-m", "rlm_mcp", "serve"],
        env=env,
        cwd=project,
    )

    async with Client(server) as client:
        await _session(client)

    network, files = _violations(trace, [project / ".rlm", cache / "rlm-mcp"])
    assert not network, "network calls:\n" + "\n".join(network[:20])
    assert not files, "files written outside .rlm/ and the model cache:\n" + "\n".join(files[:20])
    assert _tree(home) == {}, _tree(home)
    assert _tree(tmp) == {}, _tree(tmp)
    assert {p.split(os.sep)[0] for p in _tree(cache)} == {"rlm-mcp"}, _tree(cache)
    after = {p: size for p, size in _tree(project).items() if p.split(os.sep)[0] != ".rlm"}
    assert after == project_before, "files in the project outside .rlm/ changed"
    assert (project / ".rlm" / "rlm.db").is_file()
