"""Set a project up for Claude Code without the plugin: register the server, install agents and skills
(the files themselves, and how a project's copy names them, are `shipped`).

Nothing is overwritten that the user changed, unless asked (`force`); a file that cannot be parsed
stops the install before anything is written.
"""

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import InvalidInput, NotFound
from .shipped import project_files

SERVER_NAME = "rlm"
SERVER_SCRIPT = "rlm-mcp"
PROJECT_PERMISSION = "mcp__rlm__*"
PLUGIN_PERMISSION = "mcp__plugin_rlm_rlm__*"
GITIGNORE_LINE = ".rlm/"
HOOK_COMMAND = 'python3 -S "$CLAUDE_PROJECT_DIR/.claude/hooks/rlm_hook.py" {mode}'
HOOKS = {  # the plugin's hooks/hooks.json, as project settings run them
    "PreToolUse": ("Read", "read", 5),
    "PostToolUse": ("mcp__.*|Bash|WebFetch", "keep", 60),
}

Action = Literal["created", "updated", "unchanged", "kept"]
Merge = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class FileAction:
    path: str  # relative to the project
    action: Action
    note: str = ""


@dataclass(frozen=True, slots=True)
class InstallReport:
    project_dir: Path
    mode: Literal["project", "plugin"]
    server_command: tuple[str, ...]
    files: tuple[FileAction, ...]
    dry_run: bool
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "project_dir": str(self.project_dir),
            "mode": self.mode,
            "server_command": list(self.server_command) if self.mode == "project" else None,
            "dry_run": self.dry_run,
            "files": [{"path": f.path, "action": f.action, "note": f.note} for f in self.files],
            "notes": list(self.notes),
        }

    def to_text(self) -> str:
        head = "rlm-mcp init" + (" (dry run: nothing written)" if self.dry_run else "")
        lines = [f"{head}: {self.project_dir}"]
        lines += [f"  {f.action:<9} {f.path}" + (f"  ({f.note})" if f.note else "") for f in self.files]
        if any(f.action == "kept" for f in self.files):
            lines.append("Files marked kept differ from this version; rerun with --force to replace them.")
        lines += [f"Note: {n}" for n in self.notes]
        lines.append(_next_steps(self))
        return "\n".join(lines)


def _next_steps(report: InstallReport) -> str:
    if report.mode == "plugin":
        return (
            "Next: in Claude Code, /plugin marketplace add <rlm-mcp repository>, then /plugin install "
            "rlm@rlm-mcp; the allow rule above lets analysts call the rlm tools without prompts."
        )
    return (
        f"Next: start `claude` in {report.project_dir} and accept the trust prompt; `claude mcp list` "
        f"should show `{SERVER_NAME}: {' '.join(report.server_command)} serve - ✔ Connected`. "
        "Then ask about a large file, or run /rlm-analyze <path> <question>."
    )


def install(
    project_dir: Path,
    *,
    plugin: bool = False,
    command: Sequence[str] | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> InstallReport:
    """Plan every file first (a bad existing file raises before anything is written), then write."""
    project = project_dir.expanduser().resolve()
    if not project.is_dir():
        raise NotFound(f"No directory {project}: give an existing project directory to rlm-mcp init.")
    server_command = tuple(command) if command else default_server_command()
    # A path to this machine's venv does not belong in the team-shared .mcp.json: Claude Code's local
    # scope (~/.claude.json, this project only, this user only) gets it instead.
    local = not plugin and not command and Path(server_command[0]).is_absolute()
    notes: list[str] = []
    plans = [_planned_json(project, ".claude/settings.json", lambda d: _merge_settings(d, plugin))]
    if not plugin:
        plans.append(
            _planned_local(project, server_command, force)
            if local
            else _planned_mcp(project, server_command, force)
        )
        plans += [
            _Plan(rel, _read(project / rel), text, merged=False) for rel, text in project_files().items()
        ]
    if local:
        notes.append(
            f"the rlm-mcp on your PATH is not this one ({server_command[0]}), so the server is registered "
            "in Claude Code's local scope (~/.claude.json, this project, you only), not in the shared "
            ".mcp.json; teammates run rlm-mcp init themselves. The hooks find it through RLM_MCP_COMMAND "
            "in .claude/settings.local.json."
        )
        plans.append(
            _planned_json(project, ".claude/settings.local.json", lambda d: _merge_env(d, server_command))
        )
    elif command and Path(server_command[0]).is_absolute():
        notes.append(
            f".mcp.json names a path on this machine ({server_command[0]}); teammates may need another."
        )
    gitignore = _planned_gitignore(project)
    if gitignore is not None:
        plans.append(gitignore)
    actions = tuple(_apply(project, plan, force, dry_run) for plan in plans)
    return InstallReport(
        project, "plugin" if plugin else "project", server_command, actions, dry_run, tuple(notes)
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    rel: str
    old: str | None
    new: str
    merged: bool = True  # a merge keeps everything the user had, so it may always be written
    kept_note: str = ""  # set when the user's own setting was left in place


def _apply(project: Path, plan: _Plan, force: bool, dry_run: bool) -> FileAction:
    if plan.old == plan.new:
        return FileAction(plan.rel, "kept" if plan.kept_note else "unchanged", plan.kept_note)
    if plan.old is not None and not plan.merged and not force:
        return FileAction(plan.rel, "kept", "differs from the shipped version")
    if not dry_run:
        target = project / plan.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(plan.new, encoding="utf-8")
    return FileAction(plan.rel, "created" if plan.old is None else "updated")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, IsADirectoryError) as error:
        raise InvalidInput(
            f"Cannot read {path} ({error}): fix or move it, then run rlm-mcp init again."
        ) from None


def _planned_json(project: Path, rel: str, merge: Merge) -> _Plan:
    old = _read(project / rel)
    try:
        data = json.loads(old) if old and old.strip() else {}
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{project / rel} is not valid JSON ({error}); nothing was written. "
            "Fix or remove it, then run rlm-mcp init again."
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{project / rel} holds no JSON object; nothing was written. Fix or remove it.")
    merged = merge(data)
    if old is not None and merged == data:
        return _Plan(rel, old, old)
    return _Plan(rel, old, json.dumps(merged, indent=2, ensure_ascii=False) + "\n")


def _server_entry(server_command: tuple[str, ...]) -> dict[str, Any]:
    # alwaysLoad: analysts must see the tools when they are spawned, not behind ToolSearch
    return {
        "type": "stdio",
        "command": server_command[0],
        "args": [*server_command[1:], "serve"],
        "alwaysLoad": True,
    }


def _planned_mcp(project: Path, server_command: tuple[str, ...], force: bool) -> _Plan:
    wanted = _server_entry(server_command)
    kept: list[str] = []

    def merge(data: dict[str, Any]) -> dict[str, Any]:
        servers = _object(data.get("mcpServers", {}), "mcpServers in .mcp.json")
        if SERVER_NAME in servers and servers[SERVER_NAME] != wanted and not force:
            kept.append(f"its own {SERVER_NAME!r} server entry; --force replaces it")
            return data
        return {**data, "mcpServers": {**servers, SERVER_NAME: wanted}}

    plan = _planned_json(project, ".mcp.json", merge)
    return _Plan(plan.rel, plan.old, plan.new, kept_note=kept[0]) if kept else plan


def _planned_local(project: Path, server_command: tuple[str, ...], force: bool) -> _Plan:
    """The server in Claude Code's local scope: projects[<project>].mcpServers.rlm in ~/.claude.json."""
    wanted = _server_entry(server_command)
    home = Path.home()
    kept: list[str] = []

    def merge(data: dict[str, Any]) -> dict[str, Any]:
        projects = _object(data.get("projects", {}), "projects in ~/.claude.json")
        entry = _object(projects.get(str(project), {}), "this project's entry in ~/.claude.json")
        servers = _object(entry.get("mcpServers", {}), "mcpServers in ~/.claude.json")
        if SERVER_NAME in servers and servers[SERVER_NAME] != wanted and not force:
            kept.append(f"its own {SERVER_NAME!r} server entry; --force replaces it")
            return data
        entry = {**entry, "mcpServers": {**servers, SERVER_NAME: wanted}}
        return {**data, "projects": {**projects, str(project): entry}}

    plan = _planned_json(home, ".claude.json", merge)
    rel = str(home / ".claude.json")
    return _Plan(rel, plan.old, plan.new, kept_note=kept[0] if kept else "")


def _merge_env(data: dict[str, Any], server_command: tuple[str, ...]) -> dict[str, Any]:
    env = _object(data.get("env", {}), "env in .claude/settings.local.json")
    return {**data, "env": {**env, "RLM_MCP_COMMAND": server_command[0]}}


def _merge_hooks(hooks: dict[str, Any]) -> dict[str, Any]:
    """Add the rlm hooks to settings' hooks, once; every other hook stays as it is."""
    result = dict(hooks)
    for event, (matcher, mode, timeout) in HOOKS.items():
        command = HOOK_COMMAND.format(mode=mode)
        entries = result.get(event, [])
        if not isinstance(entries, list):
            raise InvalidInput(f"hooks.{event} in .claude/settings.json is not a list; nothing was written.")
        present = any(
            isinstance(e, dict)
            and any(isinstance(h, dict) and h.get("command") == command for h in e.get("hooks", []))
            for e in entries
        )
        if not present:
            hook = {"type": "command", "command": command, "timeout": timeout}
            result[event] = [*entries, {"matcher": matcher, "hooks": [hook]}]
    return result


def _merge_settings(data: dict[str, Any], plugin: bool) -> dict[str, Any]:
    """Allow the rlm tools (so analysts are not stopped by prompts) and approve the project server."""
    result = dict(data)
    permissions = _object(result.get("permissions", {}), "permissions in .claude/settings.json")
    allow = _string_list(permissions.get("allow", []), "permissions.allow in .claude/settings.json")
    rule = PLUGIN_PERMISSION if plugin else PROJECT_PERMISSION
    result["permissions"] = {**permissions, "allow": allow + [rule] * (rule not in allow)}
    if not plugin:
        enabled = _string_list(result.get("enabledMcpjsonServers", []), "enabledMcpjsonServers")
        result["enabledMcpjsonServers"] = enabled + [SERVER_NAME] * (SERVER_NAME not in enabled)
        result["hooks"] = _merge_hooks(_object(result.get("hooks", {}), "hooks in .claude/settings.json"))
    return result


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} is not a JSON object; nothing was written. Fix it and run init again.")
    return value


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            f"{what} is not a list of strings; nothing was written. Fix it and run init again."
        )
    return list(value)


def _planned_gitignore(project: Path) -> _Plan | None:
    """Keep the store out of git, in projects that use git."""
    old = _read(project / ".gitignore")
    if old is None and not (project / ".git").exists():
        return None
    lines = (old or "").splitlines()
    if GITIGNORE_LINE in lines or "/" + GITIGNORE_LINE in lines:
        return _Plan(".gitignore", old, old or "")
    prefix = old if not old or old.endswith("\n") else old + "\n"
    return _Plan(".gitignore", old, f"{prefix or ''}{GITIGNORE_LINE}\n")


def default_server_command() -> tuple[str, ...]:
    """`rlm-mcp` when the one on PATH is this installation's, else its absolute path (a venv not on PATH)."""
    scripts = Path(sys.executable).parent
    here = shutil.which(SERVER_SCRIPT, path=str(scripts))
    on_path = shutil.which(SERVER_SCRIPT)
    if here is None:
        return (SERVER_SCRIPT,)
    if on_path is not None and Path(on_path).resolve() == Path(here).resolve():
        return (SERVER_SCRIPT,)
    return (str(Path(here).absolute()),)
