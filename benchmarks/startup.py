"""Start-up: time from spawning `rlm-mcp serve` to its first answer, against `python -c "import mcp"`.

Each round, interleaved so machine load hits all three alike: a bare `import mcp` process (spawn to
exit), a server answering `initialize` (spawn to the answer line on stdout), a server answering the
2026-07-28 `server/discover` (the same). Medians and the ratio to the bare import are printed as JSON.
One more server runs under `python -X importtime` to list what loaded before its first answer (only
`initialize` is sent, so nothing else runs) and flags the heavy modules that must not be there.

    python benchmarks/startup.py [--rounds 9] [--repo CHECKOUT] [--smoke]

`--repo` measures another checkout of rlm-mcp (e.g. main before a change) with the same interpreter.

`--smoke` (what the test suite runs): one round and the import list; it exits 1 if anything heavy loaded.
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
ANSWER_TIMEOUT_S = 120.0


def _env(project: Path, repo: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RLM_")}
    env.update(
        CLAUDE_PROJECT_DIR=str(project), RLM_DB=str(project / ".rlm" / "rlm.db"), RLM_EMBED_BACKGROUND="0"
    )
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH", "")]))
    return env


def time_bare_import(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mcp"], env=env, check=True)
    return time.perf_counter() - start


def first_answer(
    request: dict[str, Any], env: dict[str, str], flags: tuple[str, ...] = ()
) -> tuple[float, str]:
    """Seconds from spawn to the answer line, and the server's stderr (after stdin closes)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *flags, "-m", "rlm_mcp", "serve"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(request) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()  # the server writes nothing to stdout but protocol lines
    elapsed = time.perf_counter() - start
    answer = json.loads(line)
    if "result" not in answer:
        proc.kill()
        raise SystemExit(f"{request['method']} failed: {line.strip()}")
    _, stderr = proc.communicate(timeout=ANSWER_TIMEOUT_S)  # closes stdin: the server exits
    return elapsed, stderr


def imported_before_first_answer(env: dict[str, str]) -> list[str]:
    """Top-level package names the server imported while answering `initialize` (python -X importtime)."""
    _, stderr = first_answer(INITIALIZE, env, ("-X", "importtime"))
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return sorted(names)


def run(rounds: int, repo: Path = REPO) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp), repo)
        first_answer(INITIALIZE, env)  # warm the page cache and the .pyc files; not counted
        bare, initialize, discover = [], [], []
        for _ in range(rounds):
            bare.append(time_bare_import(env))
            initialize.append(first_answer(INITIALIZE, env)[0])
            discover.append(first_answer(DISCOVER, env)[0])
        loaded = imported_before_first_answer(env)
    median = {
        name: statistics.median(v) for name, v in (("bare", bare), ("init", initialize), ("disc", discover))
    }
    return {
        "repo": str(repo),
        "rounds": rounds,
        "import_mcp_median_s": round(median["bare"], 3),
        "initialize_median_s": round(median["init"], 3),
        "discover_median_s": round(median["disc"], 3),
        "initialize_over_import_mcp": round(median["init"] / median["bare"], 3),
        "discover_over_import_mcp": round(median["disc"] / median["bare"], 3),
        "initialize_all_s": [round(x, 3) for x in initialize],
        "heavy_loaded_before_first_answer": [name for name in HEAVY if name in loaded],
        "packages_loaded_before_first_answer": len(loaded),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument(
        "--repo", type=Path, default=REPO, help="the rlm-mcp checkout to start (default: this one)"
    )
    parser.add_argument("--smoke", action="store_true", help="one round; exit 1 if anything heavy loaded")
    args = parser.parse_args()
    result = run(1 if args.smoke else args.rounds, args.repo.resolve())
    print(json.dumps(result, indent=2))
    return 1 if result["heavy_loaded_before_first_answer"] else 0


if __name__ == "__main__":
    sys.exit(main())
