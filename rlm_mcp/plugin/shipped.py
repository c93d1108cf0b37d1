"""The agent, skill and hook files this version ships, and their project copies (`rlm-mcp init`).

They have one source, the repository's top-level agents/, skills/ and hooks/: Claude Code reads them
there as the plugin's default folders, and the build copies them into the package (setup.py) for
wheel installs; see shipped_root. A project copy differs from the plugin only where Claude Code names
things differently: project skills are not namespaced, so the plugin's `/rlm:load` (skill `load`)
becomes `/rlm-load` (skill `rlm-load`).
"""

import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ..errors import IncompleteInstall

ORCHESTRATION_SKILL = "rlm"  # keeps its name in a project; the command skills get the prefix below
COMMAND_PREFIX = "rlm-"
# What this version ships (tests/test_packaging.py checks these against the top-level folders); init
# refuses to report success when it finds fewer.
SHIPPED_AGENTS = (
    "rlm-chunk-analyzer",
    "rlm-code-analyzer",
    "rlm-data-analyzer",
    "rlm-json-analyzer",
    "rlm-synthesizer",
)
SHIPPED_SKILLS = ("analyze", "load", "resume", "rlm", "search", "status")
SHIPPED_FOLDERS = ("agents", "skills")  # what a project gets; the plugin's hooks/ is the plugin's own
PLUGIN_MANIFEST = ".claude-plugin/plugin.json"
BUNDLE = "bundle"  # where setup.py puts the top-level folders inside this package
HOOK_SCRIPT = ".claude/hooks/rlm_hook.py"


def shipped_root() -> Traversable:
    """The folder holding agents/ and skills/: the tree the package runs from, else the build's copy.

    Trigger: the package is imported from a checkout (an editable install) or from a copy of the
    plugin (Claude Code's plugin cache holds the repository as it is). Why: there the top-level
    folders are the single source, and the build's copy does not exist. Outcome: read them in place;
    in a wheel install, read rlm_mcp/plugin/bundle/, where setup.py copies them at build time.
    """
    tree = Path(__file__).resolve().parents[2]
    if (tree / PLUGIN_MANIFEST).is_file() and (tree / "agents").is_dir():
        return tree
    return resources.files("rlm_mcp.plugin").joinpath(BUNDLE)


def plugin_files() -> dict[str, str]:
    """Every shipped file as the plugin has it: {"agents/x.md" or "skills/<name>/<file>": text}.

    Raises IncompleteInstall, naming what is missing, unless every agent and skill this version ships
    is there: an install that copies nothing must not report success.
    """
    root = shipped_root()
    files: dict[str, str] = {}
    for folder in SHIPPED_FOLDERS:
        node = root.joinpath(folder)
        if node.is_dir():
            files.update(_walk(node, f"{folder}/"))
    _check_complete(root, files)
    return files


def _check_complete(root: Traversable, files: dict[str, str]) -> None:
    missing = [f"agents/{name}.md" for name in SHIPPED_AGENTS if f"agents/{name}.md" not in files]
    missing += [
        f"skills/{name}/SKILL.md" for name in SHIPPED_SKILLS if f"skills/{name}/SKILL.md" not in files
    ]
    if missing:
        agents = len(SHIPPED_AGENTS) - sum(m.startswith("agents/") for m in missing)
        skills = len(SHIPPED_SKILLS) - sum(m.startswith("skills/") for m in missing)
        raise IncompleteInstall(
            f"This rlm-mcp installation is incomplete: {root} has {agents} of {len(SHIPPED_AGENTS)} agents "
            f"and {skills} of {len(SHIPPED_SKILLS)} skills (missing {', '.join(missing)}); nothing was "
            "written. Reinstall the package (pip install --force-reinstall rlm-mcp; from a checkout, "
            "pip install . or -e . with the top-level agents/ and skills/ present), then run rlm-mcp init "
            "again."
        )


def _walk(node: Traversable, prefix: str) -> Iterator[tuple[str, str]]:
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith((".", "__")):
            continue
        if child.is_dir():
            yield from _walk(child, f"{prefix}{child.name}/")
        else:
            yield prefix + child.name, child.read_text(encoding="utf-8")


def hook_script() -> str:
    """hooks/rlm_hook.py, from where the agents and skills are (a checkout, a plugin copy, the wheel)."""
    script = shipped_root().joinpath("hooks", "rlm_hook.py")
    if not script.is_file():
        raise IncompleteInstall(
            f"This rlm-mcp installation is incomplete: {shipped_root()} has no hooks/rlm_hook.py; nothing "
            "was written. Reinstall the package, then run rlm-mcp init again."
        )
    return script.read_text(encoding="utf-8")


def project_files() -> dict[str, str]:
    """The same files as a project gets them under .claude/, with project command names; the hooks'
    script under .claude/hooks/ (their entries go into .claude/settings.json)."""
    shipped = plugin_files()  # first: it names every missing agent and skill
    result: dict[str, str] = {HOOK_SCRIPT: hook_script()}
    for rel, text in shipped.items():
        parts = rel.split("/")
        if parts[0] == "hooks":
            continue
        if parts[0] == "skills" and parts[1] != ORCHESTRATION_SKILL:
            parts[1] = COMMAND_PREFIX + parts[1]
            if parts[-1] == "SKILL.md":
                text = re.sub(r"(?m)^name: .*$", f"name: {parts[1]}", text, count=1)
        result[".claude/" + "/".join(parts)] = to_project_names(text)
    return result


def to_project_names(text: str) -> str:
    """`/rlm:load` (plugin command) → `/rlm-load` (project skill): project skills are not namespaced."""
    return re.sub(r"/rlm:(?=[a-z])", "/" + COMMAND_PREFIX, text)
