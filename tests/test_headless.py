"""`rlm-mcp analyze`: the whole job headless, with a scripted `claude` in place of the real one (no
login needed; the faked part is the model's reading, not the orchestration under test). The whole job
runs on both stores: on PostgreSQL the analysts' servers reach the run's schema through the DSN in
their 0600 MCP config."""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import project_env

FAKE = Path(__file__).with_name("fake_claude.py")
RLM_MCP = str(Path(sys.executable).parent / "rlm-mcp")


def _fake_claude(tmp_path: Path) -> Path:
    exe = tmp_path / "bin" / "claude"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(FAKE)!r}, run_name='__main__')\n")
    exe.chmod(0o755)
    return exe


def _log_lines(n: int) -> str:
    return "\n".join(f"{i:05d} request {'error' if i % 7 == 0 else 'ok'} took {i % 90} ms" for i in range(n))


def _analyze(
    project: Path, tmp_path: Path, *extra: str, store_env: dict[str, str] | None = None, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    log = tmp_path / "claude-calls.jsonl"
    run_env = project_env(project, FAKE_CLAUDE_LOG=str(log), **(store_env or {}), **env)
    done = subprocess.run(
        [RLM_MCP, "analyze", "app.log", "How many requests failed?", "--claude", str(_fake_claude(tmp_path)),
         "--json", *extra],
        cwd=project, env=run_env, capture_output=True, text=True, timeout=600,
        stdin=subprocess.PIPE,  # left open on purpose: analyze must not hand it to claude -p
    )  # fmt: skip
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@pytest.mark.slow
@pytest.mark.backends
def test_analyze_drives_a_whole_job_with_claude_p_and_writes_the_report(
    project: Path, tmp_path: Path, backend_env: dict[str, str]
) -> None:
    text = _log_lines(6000)
    (project / "app.log").write_text(text, encoding="utf-8")
    done, calls = _analyze(project, tmp_path, "--parallel", "3", "--budget-usd", "50", store_env=backend_env)
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["coverage"]["ratio"] == 1.0 and outcome["synthesized_by_model"] is True
    report = Path(outcome["report"])
    assert report == project / ".rlm" / "reports" / f"{outcome['job_id']}.md"
    errors = len(re.findall(r"\berror\b", text))
    assert (
        f'"error": {errors}' in report.read_text()
        and f"{outcome['coverage']['total']}/" in report.read_text()
    )
    analysts = [c for c in calls if "worker='" in _flag(c["argv"], "-p")]
    synth = [c for c in calls if "worker='" not in _flag(c["argv"], "-p")]
    assert len(synth) == 1 and len(analysts) == outcome["processes"] - 1 >= 2
    assert outcome["cost_usd"] == pytest.approx(0.25 * outcome["processes"])
    for call in calls:
        argv = call["argv"]
        assert call["stdin"] == "closed"  # an inherited stdin hangs claude -p
        config_file = Path(_flag(argv, "--mcp-config"))
        config = json.loads(config_file.read_text())["mcpServers"]["rlm"]
        store = backend_env.get("RLM_DB", str(project / ".rlm" / "rlm.db"))
        assert config["args"] == ["serve"] and config["env"]["RLM_DB"] == store
        assert config["env"]["RLM_PROJECT"] == backend_env.get("RLM_PROJECT", project.name)
        assert config_file.stat().st_mode & 0o777 == 0o600  # it may hold the server's password
        assert "--strict-mcp-config" in argv and "--max-budget-usd" in argv
        allowed = set(_flag(argv, "--allowedTools").split(","))
        assert allowed and all(t.startswith("mcp__rlm__") for t in allowed)
        assert "Bash" in _flag(argv, "--disallowedTools").split(",")
    assert {"mcp__rlm__claim_task", "mcp__rlm__submit_findings"} <= set(
        _flag(analysts[0]["argv"], "--allowedTools").split(",")
    )
    assert "mcp__rlm__synthesize" in _flag(synth[0]["argv"], "--allowedTools")
    assert _flag(analysts[0]["argv"], "--model") == "haiku" and _flag(synth[0]["argv"], "--model") == "sonnet"
    assert "You are a" in _flag(analysts[0]["argv"], "--append-system-prompt")  # the agent file's body


@pytest.mark.backends
def test_analysts_that_fail_leave_a_partial_report_and_exit_2(
    project: Path, tmp_path: Path, backend_env: dict[str, str]
) -> None:
    (project / "app.log").write_text(_log_lines(400), encoding="utf-8")
    done, calls = _analyze(
        project, tmp_path, "--max-rounds", "2", store_env=backend_env, FAKE_CLAUDE_FAIL_ANALYSTS="1"
    )
    assert done.returncode == 2, done.stdout + done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["coverage"]["ratio"] == 0.0 and outcome["rounds"] == 2
    assert any("exited 1" in f for f in outcome["failures"])
    assert Path(outcome["report"]).is_file()
    assert len(calls) == outcome["processes"]


def test_the_budget_stops_new_rounds(project: Path, tmp_path: Path) -> None:
    (project / "app.log").write_text(_log_lines(6000), encoding="utf-8")
    done, _ = _analyze(project, tmp_path, "--parallel", "1", "--budget-usd", "0.25")
    outcome = json.loads(done.stdout)
    assert done.returncode == 2 and outcome["processes"] == 1  # one analyst spent it; no synthesizer
    assert any("budget" in f for f in outcome["failures"]) and Path(outcome["report"]).is_file()
