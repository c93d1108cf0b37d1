"""What the Claude Code tests share: the shipped files, their frontmatter, the tool calls they prescribe."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PLUGIN_ROOT = REPO  # the repository root is the plugin: agents/, skills/, .claude-plugin/
AGENTS = sorted((PLUGIN_ROOT / "agents").glob("*.md"))
SKILLS = sorted((PLUGIN_ROOT / "skills").glob("*/SKILL.md"))
ORCHESTRATION_SKILL = "rlm"
SYNTHESIZER = "rlm-synthesizer"

# The set-up commands of the README's "Claude Code set-up" section, run as they are by test_claude_cli.py
# (with CLONE replaced by a copy of the plugin); test_claude_files.py checks the README still says them.
CLONE = "/path/to/rlm-mcp"
SETUP = {
    "plugin": (
        f"claude plugin marketplace add {CLONE}",
        "claude plugin install rlm@rlm-mcp",
        "rlm-mcp init --plugin",
    ),
    "init": ("rlm-mcp init",),
    "add": ("claude mcp add --scope local rlm -- rlm-mcp serve",),
}

# A backticked call such as `claim_task(job_id, worker)` or `synthesize(job_id, offset)`.
CALL = re.compile(r"`([a-z_]+)\(([^`()]*)\)`")
# A full MCP tool name, in either install mode (project server `rlm`, or plugin `rlm` server `rlm`).
MCP_NAME = re.compile(r"\bmcp__(?:rlm|plugin_rlm_rlm)__([a-z_]+)\b")


@dataclass(frozen=True)
class Doc:
    path: Path
    meta: dict[str, Any]
    body: str


def read_doc(path: Path) -> Doc:
    """A markdown file with YAML frontmatter between `---` lines, parsed strictly."""
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, f"{path}: no frontmatter block at the top"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{path}: frontmatter is not a mapping"
    return Doc(path, meta, match.group(2))


def calls(text: str) -> list[tuple[str, list[str]]]:
    """Every backticked tool call in `text`, in order: (tool, [argument names])."""
    found = []
    for name, raw in CALL.findall(text):
        args = [a.split("=")[0].strip() for a in raw.split(",") if a.strip()]
        found.append((name, args))
    return found


def section(body: str, heading: str) -> str:
    """The text under `## heading` up to the next `## ` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", body, re.S | re.M)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def comma_list(value: Any) -> list[str]:
    """A frontmatter tool list: a comma-separated string or a YAML list."""
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]
