"""The Read hook's cost: spawn → exit of `hooks/rlm_hook.py read` (as hooks.json runs it, `python3 -S`)
on a file big enough to get the hint, against the bare interpreter's own start in the same run.

Each round, interleaved so machine load hits all alike: `python3 -S -c pass` (the interpreter alone),
`python3 -S` of a script that imports json and os (what the hint may load), and the hook answering a
PreToolUse event for a 300 KB file. Medians, the hook's overhead over the bare start and its ratio to
it are printed as JSON. What keeps the hook fast (it imports nothing beyond json and os) is checked by
tests/test_hooks.py; how fast it is, here.

    python benchmarks/hooks.py [--rounds 15]
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def hook_command() -> list[str]:
    """The PreToolUse command of hooks/hooks.json, with the plugin root filled in."""
    config = json.loads((REPO / "hooks" / "hooks.json").read_text(encoding="utf-8"))
    command = config["hooks"]["PreToolUse"][0]["hooks"][0]["command"]
    words = shlex.split(command.replace("${CLAUDE_PLUGIN_ROOT}", str(REPO)))
    return [PYTHON, *words[1:]]


def timed(command: list[str], payload: bytes, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, input=payload, capture_output=True, env=env, check=True)
    return time.perf_counter() - start


def measure(rounds: int, work: Path) -> dict[str, object]:
    big = work / "big.log"
    big.write_text("y" * 300_000, encoding="utf-8")
    imports = work / "imports.py"
    imports.write_text("import json\nimport os\nimport sys\n", encoding="utf-8")
    event = {"hook_event_name": "PreToolUse", "tool_name": "Read", "tool_input": {"file_path": str(big)}}
    payload = json.dumps(event).encode()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RLM_")}
    hook = hook_command()
    answer = subprocess.run(hook, input=payload, capture_output=True, env=env, check=True).stdout
    assert "additionalContext" in json.loads(answer)["hookSpecificOutput"], answer  # the hint's path
    runs: dict[str, list[float]] = {"bare": [], "json_os": [], "hook": []}
    for _ in range(rounds):
        runs["bare"].append(timed([PYTHON, "-S", "-c", "pass"], b"", env))
        runs["json_os"].append(timed([PYTHON, "-S", str(imports)], b"", env))
        runs["hook"].append(timed(hook, payload, env))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    return {
        "python": PYTHON,
        "rounds": rounds,
        "load_average": os.getloadavg()[0],
        "median_ms": {name: round(value * 1000, 2) for name, value in medians.items()},
        "hook_overhead_ms": round((medians["hook"] - medians["bare"]) * 1000, 2),
        "hook_over_json_os_ms": round((medians["hook"] - medians["json_os"]) * 1000, 2),
        "hook_ratio_to_bare": round(medians["hook"] / medians["bare"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        print(json.dumps(measure(args.rounds, Path(work)), indent=2))


if __name__ == "__main__":
    main()
