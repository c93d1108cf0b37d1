"""Start-up: time from spawning `rlm-mcp serve` to its first answer, against `python -c "import mcp"`.

Each round, interleaved so machine load hits all alike: a bare `import mcp` process (spawn to exit,
and spawn to the moment the import is done, which leaves out the interpreter's teardown), a server
answering `initialize` (spawn to the answer line on stdout), a server answering the 2026-07-28
`server/discover` (the same), and a server answering `tools/list` after the `initialize` handshake
(spawn to the tool list: what Claude Code waits for before it can offer the tools). Medians and the
ratios to the bare import are printed as JSON. One more server runs under `python -X importtime` to
list what loaded before its first answer (only `initialize` is sent, so nothing else runs) and flags
the heavy libraries, and the core packages the tools import on their first call, that must not be
there.

    python benchmarks/startup.py [--rounds 9] [--repo CHECKOUT] [--smoke]

`--repo` measures another checkout of rlm-mcp (e.g. main before a change) with the same interpreter.

`--smoke` (what the test suite runs): one round and the import list; it exits 1 if anything heavy, or
any of the core, loaded before the first answer.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HEAVY = (
    "numpy",
    "sqlite_vec",
    "onnxruntime",
    "fastembed",
    "tokenizers",
    "tree_sitter_language_pack",
    "duckdb",
)
# The core the tools import on their first call (and Jinja2, the report's): none of it is needed to
# answer `initialize` or `tools/list`.
CORE = (
    *(f"rlm_mcp.{room}" for room in ("chunking", "data", "documents", "embedding", "jobs", "loading")),
    *(f"rlm_mcp.{room}" for room in ("plugin", "report", "search", "store", "synthesis")),
    "jinja2",
)
CLIENT = {"name": "startup-benchmark", "version": "0"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT},
}
DISCOVER = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "server/discover",
    "params": {
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": CLIENT,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
ANSWER_TIMEOUT_S = 120.0


def _env(project: Path, repo: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RLM_")}
    env.update(
        CLAUDE_PROJECT_DIR=str(project), RLM_DB=str(project / ".rlm" / "rlm.db"), RLM_EMBED_BACKGROUND="0"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH", "")]))
    return env


def time_bare_import(env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the exit of `python -c "import mcp"`, and to the end of its import."""
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", "import mcp, time; print(time.time())"],
        env=env,
        cwd=env["CLAUDE_PROJECT_DIR"],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.time() - start, float(done.stdout) - start


def first_answer(request: dict[str, Any], env: dict[str, str]) -> float:
    """Seconds from spawn to the answer line."""
    return answer_after_handshake([request], env)[0]


def tools_listed(env: dict[str, str]) -> float:
    """Seconds from spawn to the `tools/list` answer, the `initialize` handshake sent first."""
    return answer_after_handshake([INITIALIZE, INITIALIZED, TOOLS_LIST], env)[0]


def answer_after_handshake(
    requests: list[dict[str, Any]], env: dict[str, str], flags: tuple[str, ...] = (), kill: bool = False
) -> tuple[float, str]:
    """Send the requests one by one, each once the one before is answered; seconds from spawn to the
    last answer, and the server's stderr: after stdin closes and the server exits, or with `kill`
    what it wrote by its last answer (stderr is line-buffered)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *flags, "-m", "rlm_mcp", "serve"],
        env=env,
        cwd=env["CLAUDE_PROJECT_DIR"],  # in a checkout, `-m` would import the rlm_mcp beside it, not --repo's
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for request in requests:
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        if "id" not in request:  # a notification: no answer
            continue
        line = proc.stdout.readline()  # the server writes nothing to stdout but protocol lines
        answer = json.loads(line)
        if "result" not in answer:
            proc.kill()
            raise SystemExit(f"{request['method']} failed: {line.strip()}")
    elapsed = time.perf_counter() - start
    if kill:
        proc.kill()
    _, stderr = proc.communicate(timeout=ANSWER_TIMEOUT_S)  # closes stdin: the server exits
    return elapsed, stderr


def imported_before_first_answer(env: dict[str, str]) -> list[str]:
    """Modules the server imported while answering `initialize` (python -X importtime); the server
    exits on stdin's end only after the answer, and what it imports then is not the first answer's."""
    _, stderr = answer_after_handshake([INITIALIZE], env, ("-X", "importtime"), kill=True)
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def _loaded(names: list[str], wanted: tuple[str, ...]) -> list[str]:
    return [w for w in wanted if any(n == w or n.startswith(w + ".") for n in names)]


def run(rounds: int, repo: Path = REPO) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp), repo)
        first_answer(INITIALIZE, env)  # warm the page cache and the .pyc files; not counted
        times: dict[str, list[float]] = {"bare": [], "imported": [], "init": [], "disc": [], "tools": []}
        for _ in range(rounds):
            bare, imported = time_bare_import(env)
            times["bare"].append(bare)
            times["imported"].append(imported)
            times["init"].append(first_answer(INITIALIZE, env))
            times["disc"].append(first_answer(DISCOVER, env))
            times["tools"].append(tools_listed(env))
        loaded = imported_before_first_answer(env)
    median = {name: statistics.median(v) for name, v in times.items()}
    return {
        "repo": str(repo),
        "rounds": rounds,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "import_mcp_median_s": round(median["bare"], 3),
        "import_mcp_done_median_s": round(median["imported"], 3),
        "initialize_median_s": round(median["init"], 3),
        "discover_median_s": round(median["disc"], 3),
        "tools_list_median_s": round(median["tools"], 3),
        "initialize_over_import_mcp": round(median["init"] / median["bare"], 3),
        "discover_over_import_mcp": round(median["disc"] / median["bare"], 3),
        "initialize_over_import_mcp_done": round(median["init"] / median["imported"], 3),
        "tools_list_over_import_mcp_done": round(median["tools"] / median["imported"], 3),
        "initialize_all_s": [round(x, 3) for x in times["init"]],
        "heavy_loaded_before_first_answer": _loaded(loaded, HEAVY),
        "core_loaded_before_first_answer": _loaded(loaded, CORE),
        "packages_loaded_before_first_answer": len({name.split(".")[0] for name in loaded}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="the rlm-mcp checkout to start (default: this one)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="one round; exit 1 if anything heavy or any core loaded"
    )
    args = parser.parse_args()
    result = run(1 if args.smoke else args.rounds, args.repo.resolve())
    print(json.dumps(result, indent=2))
    return 1 if result["heavy_loaded_before_first_answer"] or result["core_loaded_before_first_answer"] else 0


if __name__ == "__main__":
    sys.exit(main())
