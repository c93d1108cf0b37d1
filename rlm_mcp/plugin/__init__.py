"""The Claude Code side shipped with the package: `rlm-mcp init` installs the agents, skills and hooks;
`kept` is the PostToolUse hook's work; `headless` runs a whole job with `claude -p` (`rlm-mcp analyze`)."""

from .headless import Options, Outcome, analyze
from .installer import InstallReport, install
from .kept import DEFAULT_KEEP_CHARS, keep_result

__all__ = ["DEFAULT_KEEP_CHARS", "InstallReport", "Options", "Outcome", "analyze", "install", "keep_result"]
