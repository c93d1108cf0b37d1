"""The plugin's hooks, fed the JSON Claude Code sends (hooks reference: PreToolUse / PostToolUse input
with tool_name, tool_input, tool_response), run as Claude Code runs them: the command in hooks.json."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rlm_mcp.store import open_store

from .conftest import REPO, project_env

HOOKS = REPO / "hooks"
SCRIPTS = Path(sys.executable).parent
RLM_MCP = str(SCRIPTS / "rlm-mcp")
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def _command(event: str) -> list[str]:
    """The command hooks.json gives for an event, with the plugin root filled in."""
    config = json.loads((HOOKS / "hooks.json").read_text(encoding="utf-8"))
    (entry,) = config["hooks"][event]
    (hook,) = entry["hooks"]
    words = shlex.split(hook["command"].replace("${CLAUDE_PLUGIN_ROOT}", str(REPO)))
    assert words[0] == "python3" and hook["type"] == "command"
    return [PYTHON, *words[1:]]


def run_hook(event: str, payload: Any, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    done = subprocess.run(_command(event), input=data, capture_output=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr  # a hook never blocks: exit 0 whatever happens
    return done


def _read_event(path: Path, **tool_input: Any) -> dict[str, Any]:
    return {
        "session_id": "s1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(path.parent),
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Read",
        "tool_input": {"file_path": str(path), **tool_input},
        "tool_use_id": "toolu_1",
    }


def _post_event(project: Path, tool: str, response: Any) -> dict[str, Any]:
    return {
        "session_id": "s1",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": str(project),
        "permission_mode": "default",
        "hook_event_name": "PostToolUse",
        "tool_name": tool,
        "tool_input": {"query": "everything"},
        "tool_response": response,
        "tool_use_id": "toolu_2",
    }


def _env(project: Path, **extra: str) -> dict[str, str]:
    return project_env(project, **{"RLM_MCP_COMMAND": RLM_MCP, **extra})


def test_the_plugin_declares_both_hooks_with_fast_python(tmp_path: Path) -> None:
    config = json.loads((HOOKS / "hooks.json").read_text(encoding="utf-8"))
    assert set(config["hooks"]) == {"PreToolUse", "PostToolUse"}
    assert config["hooks"]["PreToolUse"][0]["matcher"] == "Read"
    assert "-S" in _command("PreToolUse")  # no site-packages: the script is standard library only
    source = (HOOKS / "rlm_hook.py").read_text(encoding="utf-8")
    assert "rlm_mcp" not in source.split('"""', 2)[2].split("def main")[0].split("import")[0]


def test_a_big_file_gets_a_suggestion_with_its_size_and_a_small_one_passes(project: Path) -> None:
    big = project / "big.log"
    big.write_text("x" * 300_000 + "\n", encoding="utf-8")
    small = project / "small.txt"
    small.write_text("hello\n", encoding="utf-8")
    env = _env(project)
    answer = json.loads(run_hook("PreToolUse", _read_event(big), env).stdout)
    out = answer["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse" and "permissionDecision" not in out  # never blocks
    assert (
        "300 KB" in out["additionalContext"]
        and f"load_document(path={str(big)!r})" in out["additionalContext"]
    )
    assert run_hook("PreToolUse", _read_event(small), env).stdout == b""
    assert run_hook("PreToolUse", _read_event(big, offset=1, limit=200), env).stdout == b""  # ranged read
    assert run_hook("PreToolUse", _read_event(project / "missing.txt"), env).stdout == b""
    assert run_hook("PreToolUse", _read_event(big), _env(project, RLM_HOOK_READ_BYTES="400000")).stdout == b""
    assert run_hook("PreToolUse", b"not json", env).stdout == b""


def _imported(command: list[str], payload: bytes, env: dict[str, str]) -> tuple[set[str], bytes]:
    """The modules a process imports (`-X importtime`, on stderr) and what it printed."""
    done = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]],
        input=payload,
        capture_output=True,
        env=env,
        check=True,
    )
    lines = done.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}, done.stdout


def test_the_read_hint_imports_nothing_beyond_json_and_os(project: Path, tmp_path: Path) -> None:
    # What keeps the read hint fast is what it loads: the interpreter without site-packages (-S), the
    # standard library's json and os, nothing of rlm_mcp, no subprocess. How long it takes is measured
    # by benchmarks/hooks.py, against the interpreter's own start, not here.
    big = project / "big.log"
    big.write_text("y" * 300_000, encoding="utf-8")
    env = _env(project)
    bare = tmp_path / "bare.py"
    bare.write_text("import json\nimport os\nimport sys\n", encoding="utf-8")
    baseline, _ = _imported([PYTHON, "-S", str(bare)], b"", env)
    loaded, out = _imported(_command("PreToolUse"), json.dumps(_read_event(big)).encode(), env)
    assert "300 KB" in json.loads(out)["hookSpecificOutput"]["additionalContext"]  # the hint's whole path ran
    assert {"json", "os"} <= baseline
    assert loaded - baseline == set()


def _big_text(rows: int = 3000) -> str:
    return "\n".join(f"row {i}: status={'open' if i % 3 else 'closed'} amount={i * 7}" for i in range(rows))


@pytest.mark.parametrize(
    ("tool", "shape"),
    [
        ("mcp__warehouse__query", "blocks"),
        ("mcp__warehouse__query", "content"),
        ("mcp__warehouse__query", "string"),
        ("Bash", "stdout"),
    ],
)
def test_a_result_too_big_for_context_is_kept_in_the_store_and_replaced_by_ids(
    project: Path, tool: str, shape: str
) -> None:
    text = _big_text()
    response: Any = {
        "blocks": [{"type": "text", "text": text}],
        "content": {"content": [{"type": "text", "text": text}], "isError": False},
        "string": text,
        "stdout": {"stdout": text, "stderr": "", "interrupted": False, "isImage": False},
    }[shape]
    done = run_hook("PostToolUse", _post_event(project, tool, response), _env(project))
    out = json.loads(done.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "PostToolUse"
    new = out["updatedToolOutput"]
    replaced = {
        "blocks": lambda: new[0]["text"],
        "content": lambda: new["content"][0]["text"],
        "string": lambda: new,
        "stdout": lambda: new["stdout"],
    }[shape]()
    assert type(new) is type(response) and len(replaced) < 3000
    if shape == "stdout":
        assert new["stderr"] == "" and new["interrupted"] is False  # the rest of the shape is kept
    assert f"{len(text):,} characters" in replaced and "document d1" in replaced
    assert replaced.endswith(text[:1500])
    store = open_store(project / ".rlm" / "rlm.db")
    with store.read() as conn:
        chunks = [
            r[0] for r in conn.execute("SELECT text FROM chunks WHERE document_id = 1 ORDER BY ordinal")
        ]
    store.close()
    assert "c1–c" in replaced and f"({len(chunks)} chunks" in replaced
    assert "row 2999: status=open amount=20993" in chunks[-1]  # nothing of the result is lost


def test_small_results_opt_out_own_tools_and_a_broken_store_pass_through(project: Path) -> None:
    text = _big_text()
    event = _post_event(project, "mcp__warehouse__query", [{"type": "text", "text": text}])
    never = _env(project, RLM_MCP_COMMAND=str(project / "no-such-rlm-mcp"))
    small = _post_event(project, "mcp__warehouse__query", [{"type": "text", "text": "42 rows"}])
    assert run_hook("PostToolUse", small, never).stdout == b""  # never even starts rlm-mcp
    assert run_hook("PostToolUse", event, never).stdout == b""  # rlm-mcp missing: passes through
    assert run_hook("PostToolUse", event, _env(project, RLM_HOOK_KEEP="0")).stdout == b""
    own = _post_event(project, "mcp__plugin_rlm_rlm__get_chunk", [{"type": "text", "text": text}])
    assert run_hook("PostToolUse", own, _env(project)).stdout == b""
    (project / "broken.db").write_bytes(b"this is not a database" * 100)
    broken = _env(project, RLM_DB=str(project / "broken.db"))
    assert run_hook("PostToolUse", event, broken).stdout == b""
    image = _post_event(project, "mcp__x__shot", [{"type": "image", "data": "A" * 60_000}])
    assert run_hook("PostToolUse", image, _env(project)).stdout == b""
    assert not (project / ".rlm").exists() or not list((project / ".rlm").glob("kept/*"))
    assert os.environ.get("RLM_HOOK_KEEP") is None
