"""The plugin and both set-up paths, checked by the real Claude Code CLI (npm @anthropic-ai/claude-code).

The CLI runs without a login for `plugin validate` and `mcp list`; each test gives it a fresh HOME, so
nothing of the developer's own Claude Code set-up is read or changed. `claude mcp list` exits 0 even
when a server fails, so the tests read its text. The CLI is installed by .ci/install-claude.sh into
.ci/node/ (or named by RLM_CLAUDE_BIN); without it these tests skip and say how to get it.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .claude_support import AGENTS, CLONE, PLUGIN_ROOT, REPO, SETUP, SKILLS

LOCAL_CLI = REPO / ".ci" / "node" / "node_modules" / ".bin" / "claude"
CLAUDE_BIN = os.environ.get("RLM_CLAUDE_BIN") or (str(LOCAL_CLI) if LOCAL_CLI.exists() else None)
SCRIPTS = Path(sys.executable).parent  # where this installation's `rlm-mcp` script lives
TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    CLAUDE_BIN is None,
    reason="the Claude Code CLI is not installed: run .ci/install-claude.sh (or set RLM_CLAUDE_BIN)",
)


@pytest.fixture
def claude_env(tmp_path: Path) -> dict[str, str]:
    """A throw-away HOME, no updater, no telemetry, and this installation's rlm-mcp first on PATH."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(SCRIPTS), os.environ.get("PATH", "")]),
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "RLM_EMBED_BACKGROUND": "0",
    }


def claude(env: dict[str, str], *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert CLAUDE_BIN is not None
    return subprocess.run(
        [CLAUDE_BIN, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def server_line(output: str, name: str) -> str:
    """The `claude mcp list` line of one server, e.g. `rlm: /x/rlm-mcp serve - ✔ Connected`."""
    lines = [line for line in output.splitlines() if line.startswith(f"{name}: ")]
    assert len(lines) == 1, output
    return lines[0]


def connected(output: str, name: str) -> bool:
    return server_line(output, name).endswith("✔ Connected")


def trust(env: dict[str, str], project: Path) -> None:
    """What accepting Claude Code's workspace-trust prompt in `project` records."""
    config = Path(env["HOME"]) / ".claude.json"
    config.write_text(json.dumps({"projects": {str(project): {"hasTrustDialogAccepted": True}}}))


def validate(env: dict[str, str], target: Path) -> dict[str, object]:
    result = claude(env, "plugin", "validate", str(target), "--strict", "--json")
    report: dict[str, object] = json.loads(result.stdout)
    assert result.returncode == 0 and report["success"] is True, result.stdout + result.stderr
    return report


def test_the_plugin_validates_strictly_and_provides_every_agent_skill_and_the_server(
    claude_env: dict[str, str],
) -> None:
    report = validate(claude_env, REPO / ".claude-plugin" / "plugin.json")
    manifest = report["manifest"]
    assert isinstance(manifest, dict) and manifest["errors"] == [] and manifest["warnings"] == []
    provides = report["provides"]
    assert isinstance(provides, dict)
    assert sorted(provides["agents"]) == sorted(f"rlm:{p.stem}" for p in AGENTS)
    assert sorted(provides["skills"]) == sorted(f"rlm:{p.parent.name}" for p in SKILLS)
    assert provides["mcpServers"] == [
        {"name": "rlm", "type": "stdio", "target": "rlm-mcp", "args": ["serve"]}
    ]
    hooks = {(h["event"], h["matcher"]) for h in provides["hooks"]}
    assert hooks == {("PreToolUse", "Read"), ("PostToolUse", "mcp__.*|Bash|WebFetch")}
    assert all("${CLAUDE_PLUGIN_ROOT}/hooks/rlm_hook.py" in h["command"] for h in provides["hooks"])


def test_the_repository_root_validates_as_a_marketplace_and_a_plugin(claude_env: dict[str, str]) -> None:
    result = claude(claude_env, "plugin", "validate", ".", "--strict")
    assert result.returncode == 0 and "✔ Validation passed" in result.stdout, result.stdout + result.stderr
    validate(claude_env, REPO / ".claude-plugin" / "marketplace.json")


def plugin_tree(tmp_path: Path) -> Path:
    """The files the plugin consists of (a git clone has them; the clone's .ci/node/ is not needed)."""
    tree = tmp_path / "marketplace"
    for folder in (".claude-plugin", "agents", "skills", "hooks"):
        if (PLUGIN_ROOT / folder).is_dir():
            shutil.copytree(PLUGIN_ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def readme(env: dict[str, str], path: str, cwd: Path, clone: Path | None = None) -> None:
    """Run the README's commands for one set-up path, word for word (the clone is a copy of the plugin)."""
    for line in SETUP[path]:
        words = [str(clone) if word == CLONE and clone else word for word in shlex.split(line)]
        program = CLAUDE_BIN if words[0] == "claude" else shutil.which(words[0], path=str(SCRIPTS))
        assert program is not None, f"{words[0]} is not installed here: pip install -e ."
        done = subprocess.run(
            [program, *words[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"


def test_plugin_set_up_as_the_readme_says_starts_a_connected_server(
    tmp_path: Path, project: Path, claude_env: dict[str, str]
) -> None:
    readme(claude_env, "plugin", project, clone=plugin_tree(tmp_path))
    listed = claude(claude_env, "mcp", "list", cwd=project)
    assert connected(listed.stdout, "plugin:rlm:rlm"), listed.stdout + listed.stderr
    assert "rlm-mcp serve" in server_line(listed.stdout, "plugin:rlm:rlm")
    settings = json.loads((project / ".claude" / "settings.json").read_text(encoding="utf-8"))
    assert settings["permissions"]["allow"] == ["mcp__plugin_rlm_rlm__*"]


def session_start_log(env: dict[str, str], cwd: Path) -> str:
    """What a session start prints and logs: it loads plugins, agents and skills, then stops at the login
    check (the env has no credentials, so nothing is sent anywhere)."""
    started = claude(env, "-p", "hi", "--debug", cwd=cwd)
    assert "Not logged in" in started.stdout + started.stderr, started.stdout + started.stderr
    logs = sorted((Path(env["HOME"]) / ".claude" / "debug").glob("*.txt"))
    texts = [
        started.stdout,
        started.stderr,
        *(log.read_text(encoding="utf-8", errors="replace") for log in logs),
    ]
    return "\n".join(texts)


def test_a_session_loads_the_plugin_agents_and_skills_from_the_default_folders(
    tmp_path: Path, project: Path, claude_env: dict[str, str]
) -> None:
    """`plugin validate` reads the manifest; this checks that a session really loads the folders."""
    readme(claude_env, "plugin", project, clone=plugin_tree(tmp_path))
    log = session_start_log(claude_env, project)
    assert f"Loaded {len(AGENTS)} agents from plugin rlm default directory" in log, log[-3000:]
    assert f"Loaded {len(SKILLS)} skills from plugin rlm default directory" in log


def test_plugin_details_on_the_working_tree_shows_every_agent_and_skill(claude_env: dict[str, str]) -> None:
    """With manifest paths instead of the default folders, details said `Agents (0)`."""
    shown = claude(claude_env, "--plugin-dir", str(REPO), "plugin", "details", "rlm")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    agents = re.search(r"^  Agents \((\d+)\)  (.*)$", shown.stdout, re.M)
    skills = re.search(r"^  Skills \((\d+)\)  (.*)$", shown.stdout, re.M)
    assert agents and skills, shown.stdout
    assert int(agents[1]) == len(AGENTS) and sorted(agents[2].split(", ")) == [p.stem for p in AGENTS]
    assert int(skills[1]) == len(SKILLS) and sorted(skills[2].split(", ")) == [p.parent.name for p in SKILLS]


def test_rlm_mcp_init_as_the_readme_says_registers_a_server_that_connects_in_a_trusted_project(
    project: Path, claude_env: dict[str, str]
) -> None:
    readme(claude_env, "init", project)
    pending = claude(claude_env, "mcp", "list", cwd=project)
    assert "Pending approval" in server_line(pending.stdout, "rlm")  # until the trust prompt is accepted
    trust(claude_env, project)
    listed = claude(claude_env, "mcp", "list", cwd=project)
    assert connected(listed.stdout, "rlm"), listed.stdout + listed.stderr
    shown = claude(claude_env, "mcp", "get", "rlm", cwd=project)
    assert "Project config" in shown.stdout
    validate(claude_env, project / ".claude")
    log = session_start_log(claude_env, project)
    assert f"project: {len(SKILLS)}," in log  # /rlm and the five /rlm-* commands
    assert "permissions.allow" not in log  # no "Ignoring/Dropped … entry": the rule applies once trusted


def test_claude_mcp_add_as_the_readme_says_connects(project: Path, claude_env: dict[str, str]) -> None:
    readme(claude_env, "add", project)
    listed = claude(claude_env, "mcp", "list", cwd=project)
    assert connected(listed.stdout, "rlm"), listed.stdout + listed.stderr


def test_a_server_that_cannot_start_is_reported_as_failed_even_though_the_exit_code_is_zero(
    project: Path, claude_env: dict[str, str]
) -> None:
    """The checks above read the text because `claude mcp list` exits 0 whatever happens."""
    broken = [sys.executable, "-c", "raise SystemExit(3)"]
    claude(claude_env, "mcp", "add", "--scope", "local", "rlm", "--", *broken, cwd=project)
    listed = claude(claude_env, "mcp", "list", cwd=project)
    assert listed.returncode == 0 and not connected(listed.stdout, "rlm")
    assert re.search(r"✘|Failed", server_line(listed.stdout, "rlm"))


def test_init_with_an_rlm_mcp_not_on_path_registers_it_in_local_scope_and_it_connects(
    project: Path, claude_env: dict[str, str]
) -> None:
    """The team-shared .mcp.json never gets this machine's venv path; Claude Code's local scope does."""
    env = {**claude_env, "PATH": os.pathsep.join(p for p in claude_env["PATH"].split(os.pathsep)
                                                if Path(p) != SCRIPTS)}  # fmt: skip
    done = subprocess.run([str(SCRIPTS / "rlm-mcp"), "init"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    assert done.returncode == 0 and "local scope" in done.stdout, done.stdout + done.stderr
    assert not (project / ".mcp.json").exists()
    listed = claude(env, "mcp", "list", cwd=project)
    line = server_line(listed.stdout, "rlm")
    assert line.endswith("✔ Connected") and str(SCRIPTS / "rlm-mcp") in line, listed.stdout
    shown = claude(env, "mcp", "get", "rlm", cwd=project)
    assert "Local config" in shown.stdout, shown.stdout
    validate(env, project / ".claude")
