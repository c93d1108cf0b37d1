"""The Claude Code files: agents, skills, plugin and marketplace manifests, project settings.

Claude Code skips an agent or skill with bad frontmatter silently (a debug-log line), so every field
is checked here, against the fields the plugin format honours.
"""

import json
import re
import tomllib
from pathlib import Path

import pytest

import rlm_mcp
from rlm_mcp.jobs import analysts
from rlm_mcp.plugin import shipped

from .claude_support import (
    AGENTS,
    ORCHESTRATION_SKILL,
    PLUGIN_ROOT,
    REPO,
    SETUP,
    SKILLS,
    SYNTHESIZER,
    calls,
    comma_list,
    read_doc,
    section,
)

AGENT_FIELDS = {  # plugin agents honour these (hooks, mcpServers, permissionMode are ignored)
    "name", "description", "model", "effort", "maxTurns", "tools", "disallowedTools", "skills", "memory",
    "background", "isolation", "color",
}  # fmt: skip
SKILL_FIELDS = {
    "name", "description", "when_to_use", "argument-hint", "arguments", "disable-model-invocation",
    "user-invocable", "allowed-tools", "disallowed-tools", "model", "effort", "context", "agent", "hooks",
    "paths", "shell", "metadata", "license", "compatibility",
}  # fmt: skip
COLORS = {"red", "blue", "green", "yellow", "purple", "orange", "pink", "cyan"}
NEVER_FOR_SUBAGENTS = {"Agent", "Task", "Bash", "PowerShell", "Write", "Edit", "NotebookEdit", "WebFetch"}
COMMANDS = {"analyze", "load", "search", "status", "resume"}
PLUGIN = json.loads((REPO / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
MARKETPLACE = json.loads((REPO / ".claude-plugin" / "marketplace.json").read_text(encoding="utf-8"))
ANALYST_FILES = [p for p in AGENTS if p.stem != SYNTHESIZER]


def test_there_is_one_agent_per_analyst_the_jobs_assign_plus_the_synthesizer() -> None:
    assert {p.stem for p in AGENTS} == {*analysts.ANALYSTS, SYNTHESIZER}


@pytest.mark.parametrize("path", AGENTS, ids=lambda p: p.stem)
def test_agent_frontmatter_is_valid_for_claude_code(path: Path) -> None:
    doc = read_doc(path)
    assert set(doc.meta) <= AGENT_FIELDS, f"unknown fields: {set(doc.meta) - AGENT_FIELDS}"
    assert doc.meta["name"] == path.stem and re.fullmatch(r"[a-z][a-z0-9-]*", doc.meta["name"])
    assert 50 <= len(doc.meta["description"]) <= 1024
    assert doc.meta["model"] == ("sonnet" if path.stem == SYNTHESIZER else "haiku")
    assert doc.meta["color"] in COLORS
    assert isinstance(doc.meta["maxTurns"], int) and 10 <= doc.meta["maxTurns"] <= 60


@pytest.mark.parametrize("path", AGENTS, ids=lambda p: p.stem)
def test_agents_restrict_tools_with_a_denylist_that_keeps_the_rlm_tools(path: Path) -> None:
    """A `tools:` allowlist can drop MCP tools when the server connects late; a denylist cannot."""
    doc = read_doc(path)
    assert "tools" not in doc.meta
    denied = set(comma_list(doc.meta["disallowedTools"]))
    assert denied >= NEVER_FOR_SUBAGENTS
    assert not any("*" in tool for tool in denied)  # never a whole-server pattern
    for needed in (
        ("job_status", "get_chunk") if path.stem == SYNTHESIZER else ("claim_task", "submit_findings")
    ):
        assert not any(tool.endswith("__" + needed) for tool in denied)
    # each denied rlm tool is denied under both install modes' names
    project = {t.removeprefix("mcp__rlm__") for t in denied if t.startswith("mcp__rlm__")}
    plugin = {
        t.removeprefix("mcp__plugin_rlm_rlm__") for t in denied if t.startswith("mcp__plugin_rlm_rlm__")
    }
    assert project == plugin and "remove_document" in project


@pytest.mark.parametrize("path", ANALYST_FILES, ids=lambda p: p.stem)
def test_analyst_loop_claims_then_submits_with_a_bounded_task_count_and_ends_with_one_line(
    path: Path,
) -> None:
    loop = section(read_doc(path).body, "Loop")
    tools = [name for name, _ in calls(loop)]
    assert tools[:2] == ["claim_task", "submit_findings"], tools
    claim_args = dict(calls(loop))["claim_task"]
    assert claim_args == ["job_id", "worker", "analyst"]
    assert f"with analyst `{path.stem}`" in loop
    submit_args = dict(calls(loop))["submit_findings"]
    assert submit_args[:3] == ["task_id", "worker", "findings"] and "relevance" in submit_args
    assert re.search(r"`max_tasks` \(default \d+\)", read_doc(path).body)
    assert "submitted `max_tasks` tasks" in loop
    assert "final answer is one line" in loop
    assert "REDUCE" in loop  # reduce-level tasks reach analysts too
    assert "verbatim" in loop


def test_tabular_analysts_submit_counts_and_stats_and_code_analyst_gives_line_and_symbol() -> None:
    by_name = {p.stem: section(read_doc(p).body, "Loop") for p in ANALYST_FILES}
    for name in (analysts.DATA, analysts.JSON):
        assert {"counts", "stats"} <= set(dict(calls(by_name[name]))["submit_findings"])
    code = by_name[analysts.CODE]
    assert "`line`" in code and "starts with the symbol" in code
    modes = section(read_doc(PLUGIN_ROOT / "agents" / f"{analysts.CODE}.md").body, "Modes")
    for mode in ("general", "security", "architecture", "performance"):
        assert f"- {mode}:" in modes


def test_synthesizer_pages_synthesize_checks_coverage_and_cites_chunk_ids() -> None:
    body = read_doc(PLUGIN_ROOT / "agents" / f"{SYNTHESIZER}.md").body
    steps = section(body, "Steps")
    assert [name for name, _ in calls(steps)][:3] == ["job_status", "synthesize", "synthesize"]
    assert ("synthesize", ["job_id", "offset"]) in calls(steps)
    report = section(body, "The report")
    assert "[c1042]" in report and "Coverage" in report and "Below 100 %" in report


@pytest.mark.parametrize("path", SKILLS, ids=lambda p: p.parent.name)
def test_skill_frontmatter_is_valid_and_named_after_its_directory(path: Path) -> None:
    doc = read_doc(path)
    assert set(doc.meta) <= SKILL_FIELDS, f"unknown fields: {set(doc.meta) - SKILL_FIELDS}"
    assert doc.meta["name"] == path.parent.name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", doc.meta["name"]) and len(doc.meta["name"]) <= 64
    assert 1 <= len(doc.meta["description"]) <= 1024
    assert len(doc.meta["description"]) + len(doc.meta.get("when_to_use", "")) <= 1536
    assert len(doc.body.splitlines()) < 500
    for link in re.findall(r"\]\(([^)#]+)\)", doc.body):
        assert (path.parent / link).is_file(), f"{path}: broken link {link}"


def test_commands_are_user_invoked_skills_that_pass_their_arguments() -> None:
    names = {p.parent.name for p in SKILLS}
    assert names == COMMANDS | {ORCHESTRATION_SKILL}
    for path in SKILLS:
        doc = read_doc(path)
        assert doc.meta["argument-hint"]
        if path.parent.name == ORCHESTRATION_SKILL:
            assert "disable-model-invocation" not in doc.meta  # the model must find the playbook itself
            continue
        assert doc.meta["disable-model-invocation"] is True
        assert "$ARGUMENTS" in doc.body
        assert set(comma_list(doc.meta["allowed-tools"])) == {"mcp__rlm__*", "mcp__plugin_rlm_rlm__*"}


def test_orchestration_skill_covers_the_whole_playbook() -> None:
    body = read_doc(PLUGIN_ROOT / "skills" / ORCHESTRATION_SKILL / "SKILL.md").body
    for phrase in (
        "just Read the file",  # small inputs bypass RLM
        "one message",  # analysts spawned in parallel
        "at most 8",  # bounded fan-out
        "job_status(job_id)",
        "rlm-synthesizer",
        "Resume after /compact",
        "Consent before cost",
        "Do not pass a `model` parameter",
    ):
        assert phrase in body, phrase
    used = {name for name, _ in calls(body)}
    assert used >= {
        "load_document",
        "search_chunks",
        "get_chunk",
        "create_job",
        "job_status",
        "list_documents",
    }


def test_large_jobs_wait_for_the_users_yes_and_reports_are_saved_where_the_user_is_told() -> None:
    for name in (ORCHESTRATION_SKILL, "analyze"):
        body = " ".join(read_doc(PLUGIN_ROOT / "skills" / name / "SKILL.md").body.replace("**", "").split())
        assert "50 tasks" in body and "wait for their yes" in body, name
        assert "query_data" in body and "projected job" in body, name  # the cheaper routes, offered first
    for name in (ORCHESTRATION_SKILL, "analyze", "resume"):
        body = " ".join(read_doc(PLUGIN_ROOT / "skills" / name / "SKILL.md").body.split())
        assert ".rlm/reports/<job id>.md" in body and "Write tool" in body, name
    assert "list_jobs()" in read_doc(PLUGIN_ROOT / "skills" / "resume" / "SKILL.md").body


def test_aggregate_questions_go_to_query_data_before_any_job() -> None:
    """Counting is the engine's work: the playbook and /rlm:analyze reach query_data before create_job."""
    for name in (ORCHESTRATION_SKILL, "analyze"):
        body = " ".join(read_doc(PLUGIN_ROOT / "skills" / name / "SKILL.md").body.split())
        assert "Exact answers first" in body, name
        assert body.index("`query_data(") < body.index("`create_job("), name
        for kind in ("counts", "sums", "percentiles", "regex tallies", "cross-tabs"):
            assert kind in body, (name, kind)


@pytest.mark.parametrize("path", AGENTS, ids=lambda p: p.stem)
def test_agents_do_not_send_analysts_to_tool_search_which_custom_subagents_lack(path: Path) -> None:
    assert "ToolSearch" not in path.read_text(encoding="utf-8")


def test_plugin_manifest_uses_the_default_agents_and_skills_folders() -> None:
    """Manifest paths make `claude plugin details` show `Agents (0)`; the default folders show them all."""
    assert PLUGIN["name"] == "rlm"
    assert "agents" not in PLUGIN and "skills" not in PLUGIN
    assert AGENTS and SKILLS and all(p.parent.parent == PLUGIN_ROOT for p in AGENTS)
    server = PLUGIN["mcpServers"]["rlm"]
    assert (server["command"], server["args"]) == ("rlm-mcp", ["serve"]) and server["alwaysLoad"] is True
    assert not (REPO / ".mcp.json").exists()  # it would be read twice: as the plugin's and the project's


def test_plugin_marketplace_and_package_versions_agree() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (entry,) = MARKETPLACE["plugins"]
    assert PLUGIN["version"] == entry["version"] == pyproject["project"]["version"] == rlm_mcp.__version__
    assert (entry["name"], entry["source"]) == (PLUGIN["name"], "./")
    assert MARKETPLACE["name"] == "rlm-mcp" and MARKETPLACE["owner"]["name"]


def test_the_top_level_folders_are_the_single_source_of_the_shipped_files() -> None:
    """`rlm-mcp init` reads agents/ and skills/ at the top level in a checkout; no copy to drift."""
    assert shipped.shipped_root() == REPO
    on_disk = {
        p.relative_to(REPO).as_posix()
        for folder in ("agents", "skills")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__" not in p.as_posix()
    }
    assert set(shipped.plugin_files()) == on_disk
    assert (
        not (REPO / "rlm_mcp" / "claude").exists() and not (REPO / "rlm_mcp" / "plugin" / "bundle").exists()
    )


def test_the_installer_knows_every_agent_and_skill_the_top_level_folders_hold() -> None:
    """init checks what it finds against these names, so a new agent or skill must be added there too."""
    assert tuple(p.stem for p in AGENTS) == shipped.SHIPPED_AGENTS
    assert tuple(p.parent.name for p in SKILLS) == shipped.SHIPPED_SKILLS


def test_repository_settings_allow_the_rlm_tools_in_both_install_modes() -> None:
    settings = json.loads((REPO / ".claude" / "settings.json").read_text(encoding="utf-8"))
    assert {"mcp__rlm__*", "mcp__plugin_rlm_rlm__*"} <= set(settings["permissions"]["allow"])


def test_readme_gives_the_set_up_commands_the_cli_tests_run() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    set_up = readme.split("## Claude Code set-up", 1)[1].split("\n## ", 1)[0]
    for line in (line for lines in SETUP.values() for line in lines):
        assert line in set_up, f"README set-up no longer says: {line}"
    for command in COMMANDS:
        assert f"/rlm:{command}" in set_up and f"/rlm-{command}" in set_up
