"""The top-level agents/ and skills/ reach every install: wheel, sdist, a plugin-cache copy, a checkout.

Each artifact is built from a copy of the tree (a build writes build/ and egg-info beside the sources)
and installed with pip --no-deps into a fresh venv that sees this environment's dependencies through a
.pth line naming this site-packages as a plain path entry. The .pth files inside it, the editable
rlm_mcp's among them, are not run from there, so the venv imports only the rlm_mcp under test: what is
tested is the packaging, not dependency resolution. `rlm-mcp init` then sets up an empty project and the
files it wrote are counted against the top-level folders.
"""

import shutil
import site
import subprocess
import sys
import tarfile
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from rlm_mcp.errors import IncompleteInstall
from rlm_mcp.plugin import installer as install
from rlm_mcp.plugin import shipped

from .claude_support import AGENTS, REPO, SKILLS

PLUGIN_FOLDERS = ("agents", "skills", "hooks")  # what setup.py maps into the package, when present
BUNDLE = "rlm_mcp/plugin/bundle"
NOT_SOURCES = (".git", ".venv", ".ci", "build", "dist", "*.egg-info", "__pycache__", "*_cache", ".rlm")
TIMEOUT = 120

SETUPTOOLS = int(version("setuptools").split(".")[0])

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        SETUPTOOLS < 77,
        reason=f"building needs setuptools>=77 (this venv has {SETUPTOOLS}): pip install -e '.[test]'",
    ),
]


def plugin_files() -> list[str]:
    """Every file of the plugin folders in this tree, relative to the repository."""
    return sorted(
        p.relative_to(REPO).as_posix()
        for folder in PLUGIN_FOLDERS
        if (REPO / folder).is_dir()
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )


def run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def build(kind: str, source: Path, out: Path) -> Path:
    """Call the PEP 517 backend as pip and `python -m build` do: `kind` is "sdist" or "wheel"."""
    name = run(
        sys.executable,
        "-c",
        f"import sys, setuptools.build_meta as b; print(b.build_{kind}(sys.argv[1]))",
        out,
        cwd=source,
    )
    return out / name.strip().splitlines()[-1]


def bare_venv(path: Path) -> Path:
    """A venv without pip or rlm_mcp that imports this environment's dependencies; returns its python."""
    venv.create(path, with_pip=False)
    python = path / "bin" / "python"
    own = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=path).strip()
    Path(own, "_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    return python


def pip_install(python: Path, artifact: Path) -> None:
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--no-index", "--no-build-isolation", "--ignore-installed", artifact,
        cwd=artifact.parent,
    )  # fmt: skip


def init_files(command: list[str | Path], project: Path, env: dict[str, str] | None = None) -> list[str]:
    """Run `rlm-mcp init` into an empty project; every file it wrote, relative to the project."""
    project.mkdir()
    done = subprocess.run(
        [*command, "init", project, "--server-command", "rlm-mcp"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file())


def expected_project_files() -> list[str]:
    """What init writes, counted from the top-level folders directly (skills get their project names)."""
    files = [".mcp.json", ".claude/settings.json", *(f".claude/agents/{p.name}" for p in AGENTS)]
    files.append(".claude/hooks/rlm_hook.py")  # the hooks' script; their entries are in settings.json
    for skill in (p.parent for p in SKILLS):
        name = skill.name if skill.name == "rlm" else f"rlm-{skill.name}"
        files += [f".claude/skills/{name}/{f.name}" for f in skill.iterdir() if f.is_file()]
    return sorted(files)


def imported_from(python: Path) -> Path:
    out = run(python, "-c", "import rlm_mcp; print(rlm_mcp.__file__)", cwd=python.parent)
    return Path(out.strip()).parent


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An sdist built from a copy of the tree, and a wheel built from the same tree."""
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    out = root / "dist"
    out.mkdir()
    return {"sdist": build("sdist", source, out), "wheel": build("wheel", source, out)}


def test_the_wheel_carries_the_top_level_folders_inside_the_package(artifacts: dict[str, Path]) -> None:
    with zipfile.ZipFile(artifacts["wheel"]) as wheel:
        bundled = sorted(n.removeprefix(BUNDLE + "/") for n in wheel.namelist() if n.startswith(BUNDLE))
        assert not any(n.startswith("rlm_mcp/claude/") for n in wheel.namelist())
    assert bundled == plugin_files()
    assert len([f for f in bundled if f.startswith("agents/")]) == len(AGENTS) == 5


def test_the_sdist_carries_the_top_level_folders_at_its_top_level(artifacts: dict[str, Path]) -> None:
    with tarfile.open(artifacts["sdist"]) as sdist:
        names = [n.split("/", 1)[1] for n in sdist.getnames() if "/" in n]
    assert [n for n in sorted(names) if n.startswith(PLUGIN_FOLDERS) and "." in n] == plugin_files()
    assert "setup.py" in names and "pyproject.toml" in names


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_init_from_an_installed_artifact_writes_every_agent_and_skill(
    kind: str, artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """The sdist is installed as pip installs one: it builds a wheel from it, so both mappings run."""
    python = bare_venv(tmp_path / "venv")
    pip_install(python, artifacts[kind])
    assert imported_from(python).is_relative_to(tmp_path / "venv")
    written = init_files([python.parent / "rlm-mcp"], tmp_path / "project")
    assert written == expected_project_files()
    assert len([f for f in written if f.startswith(".claude/agents/")]) == len(AGENTS)


def test_init_from_a_wheel_whose_bundle_lost_its_agents_exits_1_naming_them(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """The wheel unpacked as an installer lays it out, its agents then removed: init must not succeed."""
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(artifacts["wheel"]) as wheel:
        wheel.extractall(unpacked)
    shutil.rmtree(unpacked / BUNDLE / "agents")
    python = bare_venv(tmp_path / "venv")
    project = tmp_path / "project"
    project.mkdir()
    done = subprocess.run(
        [python, "-m", "rlm_mcp", "init", project],
        cwd=project,  # `python -m` puts the cwd first on sys.path: not the checkout
        env={"PYTHONPATH": str(unpacked), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"has 0 of {len(AGENTS)} agents and {len(SKILLS)} of {len(SKILLS)} skills" in done.stderr
    assert "agents/rlm-synthesizer.md" in done.stderr and list(project.iterdir()) == []


def test_init_from_a_plugin_cache_copy_reads_the_folders_beside_the_package(tmp_path: Path) -> None:
    """Claude Code's plugin cache holds the repository as it is (~/.claude/plugins/cache/<m>/<p>/<v>/)."""
    cache = tmp_path / "plugins" / "cache" / "rlm-mcp" / "rlm" / "0.1.0"
    for folder in (".claude-plugin", "rlm_mcp", *PLUGIN_FOLDERS):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, cache / folder, ignore=shutil.ignore_patterns("__pycache__"))
    python = bare_venv(tmp_path / "venv")
    env = {"PYTHONPATH": str(cache), "PATH": str(python.parent), "HOME": str(tmp_path)}
    where = subprocess.run(
        [python, "-c", "import rlm_mcp; print(rlm_mcp.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=True,
    )  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(cache)
    written = init_files([python, "-m", "rlm_mcp"], tmp_path / "project", env=env)
    assert written == expected_project_files()


def test_an_editable_install_reads_the_top_level_folders() -> None:
    assert shipped.shipped_root() == REPO
    assert len(shipped.project_files()) == len(expected_project_files()) - 2  # less .mcp.json, settings


def partial_copy(tmp_path: Path, drop: tuple[str, ...]) -> Path:
    root = tmp_path / "bundle"
    for folder in ("agents", "skills"):
        shutil.copytree(REPO / folder, root / folder)
    for rel in drop:
        target = root / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return root


def test_init_fails_loudly_and_writes_nothing_when_agents_or_skills_are_missing(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partial = partial_copy(tmp_path, ("agents/rlm-synthesizer.md", "skills/load"))
    monkeypatch.setattr(shipped, "shipped_root", lambda: partial)
    with pytest.raises(IncompleteInstall) as raised:
        install.install(project, command=("rlm-mcp",))
    message = str(raised.value)
    assert (
        f"{len(AGENTS) - 1} of {len(AGENTS)} agents and {len(SKILLS) - 1} of {len(SKILLS)} skills" in message
    )
    assert "agents/rlm-synthesizer.md, skills/load/SKILL.md" in message and "Reinstall" in message
    assert list(project.iterdir()) == []


def test_init_fails_loudly_when_the_package_holds_no_agents_at_all(
    tmp_path: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel built without the mapping: nothing to copy must not be reported as success."""
    monkeypatch.setattr(shipped, "shipped_root", lambda: tmp_path / "empty")
    with pytest.raises(IncompleteInstall, match=rf"0 of {len(AGENTS)} agents and 0 of {len(SKILLS)} skills"):
        install.install(project, command=("rlm-mcp",), dry_run=True)
    assert install.install(project, plugin=True).mode == "plugin"  # the plugin brings its own files
