"""Shared fixtures: a project directory with its own store file, settings, a workspace with a fake
embedder and a fake clock, and the shared data."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlm_mcp.config import Settings, load_settings
from rlm_mcp.store import Store, open_store
from rlm_mcp.workspace import Workspace

from .fakes import FakeClock, FakeEmbedder

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RLM_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory (the allowed root)."""
    path = tmp_path / "project"
    path.mkdir()
    return path


def project_env(project: Path, **extra: str) -> dict[str, str]:
    """The environment a server or CLI process needs to work on `project` and nothing else."""
    env = {
        "CLAUDE_PROJECT_DIR": str(project),
        "RLM_DB": str(project / ".rlm" / "rlm.db"),
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(project)),
        "RLM_EMBED_BACKGROUND": "0",
    }
    env.update(extra)
    return env


@pytest.fixture
def settings(project: Path) -> Settings:
    return load_settings(project_env(project))


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_store(settings.db_path)
    yield opened
    opened.close()


@pytest.fixture
def embedder() -> FakeEmbedder:
    """A deterministic embedder: for tests about search and the vector store, not about the model."""
    return FakeEmbedder()


@pytest.fixture
def clock() -> FakeClock:
    """Time that stands still until the test advances it: leases expire without sleeping."""
    return FakeClock()


@pytest.fixture
def workspace(settings: Settings, embedder: FakeEmbedder, clock: FakeClock) -> Iterator[Workspace]:
    """The process state a server holds, over this test's project, with the fakes above."""
    state = Workspace(settings, embedder=embedder, clock=clock)
    yield state
    state.close()


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared data set is not beside this clone ({SHARED_DATA}); CI provides it")
    return SHARED_DATA


@pytest.fixture
def python() -> str:
    return sys.executable
