"""Build hook: the plugin's top-level folders go into the package, everything else is in pyproject.toml.

Claude Code reads `agents/`, `skills/` (and `hooks/`) at the repository root, the plugin layout; a wheel
has no repository root, so the build copies them to `rlm_mcp/plugin/bundle/`, where `rlm-mcp init`
finds them in a wheel install. The sdist carries them at the top level, as in the repository, so a
wheel built from it gets them the same way. An editable install reads them in place.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

PLUGIN_FOLDERS = ("agents", "skills", "hooks")  # a folder the tree does not have is skipped
BUNDLE = Path("rlm_mcp", "plugin", "bundle")


def plugin_files() -> list[Path]:
    """Every file of the plugin folders present, relative to the project root (the build's cwd)."""
    return [
        path
        for folder in PLUGIN_FOLDERS
        if Path(folder).is_dir()
        for path in sorted(Path(folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    ]


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # the package runs from the checkout and reads the folders there
            return
        for source in plugin_files():
            target = Path(self.build_lib, BUNDLE, source)
            self.mkpath(str(target.parent))
            self.copy_file(str(source), str(target))


class Sdist(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, [*files, *(str(p) for p in plugin_files())])


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
