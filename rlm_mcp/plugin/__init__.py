"""The Claude Code side shipped with the package: `rlm-mcp init` installs the agents and skills."""

from .installer import InstallReport, install

__all__ = ["InstallReport", "install"]
