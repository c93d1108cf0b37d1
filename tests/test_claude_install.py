"""`rlm-mcp init`: a project set up for Claude Code without the plugin, and nothing of the user's lost."""

import argparse
import json
from pathlib import Path

import pytest

from rlm_mcp.cli import main
from rlm_mcp.errors import InvalidInput, NotFound
from rlm_mcp.plugin import installer as install
from rlm_mcp.plugin import shipped

from .claude_support import PLUGIN_ROOT, REPO, read_doc

COMMAND = ("/opt/rlm/bin/rlm-mcp",)


def actions(report: install.InstallReport) -> dict[str, str]:
    return {f.path: f.action for f in report.files}


def test_init_registers_the_server_allows_its_tools_and_installs_agents_and_skills(project: Path) -> None:
    report = install.install(project, command=COMMAND)
    assert set(actions(report).values()) == {"created"}
    mcp = json.loads((project / ".mcp.json").read_text())
    assert mcp == {
        "mcpServers": {"rlm": {"type": "stdio", "command": COMMAND[0], "args": ["serve"], "alwaysLoad": True}}
    }
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    hooks = settings.pop("hooks")
    assert settings == {"permissions": {"allow": ["mcp__rlm__*"]}, "enabledMcpjsonServers": ["rlm"]}
    plugin_hooks = json.loads((REPO / "hooks" / "hooks.json").read_text())["hooks"]
    for event, entries in plugin_hooks.items():  # the plugin's hooks, run from the project's copy
        ((mine, theirs),) = [(h, p) for h, p in zip(hooks[event], entries, strict=True)]
        assert mine["matcher"] == theirs["matcher"]
        assert mine["hooks"][0]["command"] == theirs["hooks"][0]["command"].replace(
            '"${CLAUDE_PLUGIN_ROOT}/hooks/', '"$CLAUDE_PROJECT_DIR/.claude/hooks/'
        )
    script = project / ".claude" / "hooks" / "rlm_hook.py"
    assert script.read_text() == (REPO / "hooks" / "rlm_hook.py").read_text()
    agents = sorted(p.name for p in (project / ".claude" / "agents").iterdir())
    assert agents == sorted(p.name for p in (PLUGIN_ROOT / "agents").iterdir())
    skills = sorted(p.name for p in (project / ".claude" / "skills").iterdir())
    assert skills == ["rlm", "rlm-analyze", "rlm-load", "rlm-resume", "rlm-search", "rlm-status"]
    assert (project / ".claude" / "skills" / "rlm" / "reference.md").is_file()
    assert not (project / ".gitignore").exists()  # not a git project


def test_project_copies_differ_from_the_plugin_files_only_in_command_names(project: Path) -> None:
    install.install(project, command=COMMAND)
    for rel, text in shipped.plugin_files().items():
        parts = rel.split("/")
        if parts[0] == "skills" and parts[1] != "rlm":
            parts[1] = "rlm-" + parts[1]
        copy = (project / ".claude" / "/".join(parts)).read_text()
        assert (
            copy.replace("/rlm-", "/rlm:").replace(f"name: {parts[1]}", "name: " + rel.split("/")[1]) == text
        )
    analyze = read_doc(project / ".claude" / "skills" / "rlm-analyze" / "SKILL.md")
    assert (
        analyze.meta["name"] == "rlm-analyze"
        and "/rlm-resume" in analyze.body
        and "/rlm:" not in analyze.body
    )


def test_running_init_twice_changes_nothing(project: Path) -> None:
    install.install(project, command=COMMAND)
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    again = install.install(project, command=COMMAND)
    assert set(actions(again).values()) == {"unchanged"}
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


def test_init_merges_into_existing_settings_and_mcp_servers(project: Path) -> None:
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(
        json.dumps({"model": "opus", "permissions": {"allow": ["Bash(ls *)"], "deny": ["WebFetch"]}})
    )
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"other": {"command": "other-server"}}}))
    install.install(project, command=COMMAND)
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings["model"] == "opus" and settings["permissions"]["deny"] == ["WebFetch"]
    assert settings["permissions"]["allow"] == ["Bash(ls *)", "mcp__rlm__*"]
    servers = json.loads((project / ".mcp.json").read_text())["mcpServers"]
    assert set(servers) == {"other", "rlm"} and servers["other"] == {"command": "other-server"}


def test_files_the_user_changed_are_kept_unless_forced(project: Path) -> None:
    install.install(project, command=COMMAND)
    agent = project / ".claude" / "agents" / "rlm-data-analyzer.md"
    agent.write_text(agent.read_text() + "\nAlways count the empty cells too.\n")
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"rlm": {"command": "my-own-rlm"}}}))
    kept = install.install(project, command=COMMAND)
    assert actions(kept)[".claude/agents/rlm-data-analyzer.md"] == "kept"
    assert actions(kept)[".mcp.json"] == "kept" and "--force" in kept.to_text()
    assert "Always count the empty cells" in agent.read_text()
    assert json.loads((project / ".mcp.json").read_text())["mcpServers"]["rlm"] == {"command": "my-own-rlm"}
    forced = install.install(project, command=COMMAND, force=True)
    assert actions(forced)[".claude/agents/rlm-data-analyzer.md"] == "updated"
    assert "Always count the empty cells" not in agent.read_text()
    assert json.loads((project / ".mcp.json").read_text())["mcpServers"]["rlm"]["command"] == COMMAND[0]


@pytest.mark.parametrize(
    ("rel", "content", "message"),
    [
        (".claude/settings.json", "{ not json", "is not valid JSON"),
        (".mcp.json", "[1, 2]", "holds no JSON object"),
        (".claude/settings.json", '{"permissions": {"allow": "mcp__rlm__*"}}', "not a list of strings"),
        (".mcp.json", '{"mcpServers": []}', "not a JSON object"),
    ],
)
def test_a_file_init_cannot_parse_stops_it_before_anything_is_written(
    project: Path, rel: str, content: str, message: str
) -> None:
    (project / rel).parent.mkdir(parents=True, exist_ok=True)
    (project / rel).write_text(content)
    with pytest.raises(InvalidInput, match=message) as error:
        install.install(project, command=COMMAND)
    assert "nothing was written" in str(error.value)
    assert [p for p in project.rglob("*") if p.is_file()] == [project / rel]
    assert (project / rel).read_text() == content


def test_dry_run_reports_the_plan_and_writes_nothing(project: Path) -> None:
    report = install.install(project, command=COMMAND, dry_run=True)
    assert set(actions(report).values()) == {"created"} and "dry run" in report.to_text()
    assert list(project.iterdir()) == []


def test_plugin_mode_only_allows_the_plugin_tools(project: Path) -> None:
    report = install.install(project, plugin=True)
    assert list(actions(report)) == [".claude/settings.json"]
    settings = json.loads((project / ".claude" / "settings.json").read_text())
    assert settings == {"permissions": {"allow": ["mcp__plugin_rlm_rlm__*"]}}
    assert "/plugin install rlm@rlm-mcp" in report.to_text()


def test_a_git_project_gets_the_store_ignored_once(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".gitignore").write_text("node_modules/")
    install.install(project, command=COMMAND)
    install.install(project, command=COMMAND)
    assert (project / ".gitignore").read_text() == "node_modules/\n.rlm/\n"


def test_a_missing_project_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No directory"):
        install.install(tmp_path / "nowhere")


def test_default_server_command_is_this_installations_rlm_mcp() -> None:
    (command,) = install.default_server_command()
    assert command == "rlm-mcp" or (Path(command).name.startswith("rlm-mcp") and Path(command).is_file())


def test_cli_init_prints_json_and_text(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(project), "--server-command", *COMMAND, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "project" and report["server_command"] == list(COMMAND)
    assert {f["action"] for f in report["files"]} == {"created"}
    assert main(["init", str(project), "--server-command", *COMMAND]) == 0
    out = capsys.readouterr().out
    assert "unchanged .mcp.json" in " ".join(out.split()) and "claude mcp list" in out
    assert main(["init", str(project / "missing")]) == 1
    assert "No directory" in capsys.readouterr().err


def test_init_subcommand_registers_on_any_parser() -> None:
    from rlm_mcp.cli import setup

    parser = argparse.ArgumentParser()
    setup.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["init", "--plugin", "--dry-run"])
    assert (args.project, args.plugin, args.dry_run, args.force) == (".", True, True, False)


def test_a_machine_specific_rlm_mcp_goes_to_local_scope_not_the_shared_mcp_json(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".claude.json").write_text(json.dumps({"projects": {"/other": {"x": 1}}, "numStartups": 3}))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(install, "default_server_command", lambda: ("/venvs/rlm/bin/rlm-mcp",))
    report = install.install(project)
    assert not (project / ".mcp.json").exists()
    config = json.loads((home / ".claude.json").read_text())
    assert config["numStartups"] == 3 and config["projects"]["/other"] == {"x": 1}
    assert config["projects"][str(project)]["mcpServers"]["rlm"] == {
        "type": "stdio", "command": "/venvs/rlm/bin/rlm-mcp", "args": ["serve"], "alwaysLoad": True
    }  # fmt: skip
    local = json.loads((project / ".claude" / "settings.local.json").read_text())
    assert local["env"]["RLM_MCP_COMMAND"] == "/venvs/rlm/bin/rlm-mcp"
    assert any("local scope" in n for n in report.notes) and "local scope" in report.to_text()
    assert install.install(project).files == tuple(
        install.FileAction(f.path, "unchanged") for f in install.install(project, dry_run=True).files
    )
