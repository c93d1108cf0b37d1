"""Settings read from the environment, once, into a frozen value."""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidInput

DB_DIRNAME = ".rlm"
DB_FILENAME = "rlm.db"
DEFAULT_LEASE_SECONDS = 300
DEFAULT_TASK_TOKENS = 6000
DEFAULT_REGEX_BUDGET_SECONDS = 5.0
DEFAULT_QUERY_SECONDS = 10.0
DEFAULT_QUERY_MEMORY = "1GB"
# Row chunks of one CSV/TSV that get a vector: 1,000 take ~1 CPU-minute (16 chunks per CPU-second,
# every row chunk fills the 256 tokens); all of a 400 MB table (~310k chunks) would take ~5 CPU-hours.
DEFAULT_EMBED_TABLE_CHUNKS = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    project_dir: Path
    db_path: Path
    allowed_roots: tuple[Path, ...]
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    task_tokens: int = DEFAULT_TASK_TOKENS
    regex_budget_seconds: float = DEFAULT_REGEX_BUDGET_SECONDS
    embed_model: str | None = None
    embed_in_background: bool = True
    embed_table_chunks: int | None = DEFAULT_EMBED_TABLE_CHUNKS  # per table document; None: every chunk
    fusion: str = "minmax"  # hybrid search: "minmax" (measured best) or "rrf"
    rrf_k: float = 60.0
    data_copy: bool = True  # tables, JSON and text get a columnar copy at load (query_data)
    query_seconds: float = DEFAULT_QUERY_SECONDS  # query_data interrupts a query after this long
    query_memory: str = DEFAULT_QUERY_MEMORY  # DuckDB memory limit of one query (it spills beyond)
    # RLM_DB=postgresql://…: the team's server (never shown: it may hold a password; see `db_location`)
    db_url: str | None = field(default=None, repr=False)
    project_key: str = ""  # RLM_PROJECT, else the project folder's name: the schema on a shared server

    @property
    def db_location(self) -> str:
        """Where the store is, fit to show: the file, or the server's DSN without its password."""
        if self.db_url is None:
            return str(self.db_path)
        from .store import redact_dsn

        return redact_dsn(self.db_url)


def _fusion(env: Mapping[str, str]) -> tuple[str, float]:
    """RLM_FUSION: `minmax`, `rrf` (k = 60) or `rrf:K`."""
    raw = (env.get("RLM_FUSION") or "minmax").strip().lower()
    method, _, k = raw.partition(":")
    if method not in ("minmax", "rrf") or (k and method != "rrf"):
        raise InvalidInput(f"RLM_FUSION={raw!r} is not one of minmax, rrf, rrf:K")
    try:
        value = float(k) if k else 60.0
    except ValueError:
        raise InvalidInput(f"RLM_FUSION={raw!r}: K must be a number") from None
    if value <= 0:
        raise InvalidInput(f"RLM_FUSION={raw!r}: K must be positive")
    return method, value


def _positive_number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise InvalidInput(f"{name}={raw!r} must be positive")
    return value


URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def _db_url(raw: str | None) -> str | None:
    """RLM_DB=postgresql://… (or postgres://…) selects the PostgreSQL backend."""
    return raw.strip() if raw and raw.strip().lower().startswith(POSTGRES_SCHEMES) else None


def _db_path(raw: str, project: Path) -> Path:
    """RLM_DB is a file path or a PostgreSQL URL; any other URL is refused."""
    if found := URL_SCHEME.match(raw.strip()):
        scheme = found.group(0)  # never the rest: a URL may carry a password
        raise InvalidInput(
            f"RLM_DB is a URL ({scheme}…), but the store is a SQLite file path or a PostgreSQL server "
            "(postgresql://user@host/db). Set RLM_DB to one of those, or unset it to use "
            "<project>/.rlm/rlm.db."
        )
    path = Path(raw).expanduser()
    return path if path.is_absolute() else project / path


def _memory(env: Mapping[str, str]) -> str:
    """RLM_QUERY_MEMORY: a DuckDB memory size such as `512MB` or `2GB`."""
    raw = (env.get("RLM_QUERY_MEMORY") or DEFAULT_QUERY_MEMORY).strip().upper().replace(" ", "")
    number, unit = raw.rstrip("KMGTIB"), raw[len(raw.rstrip("KMGTIB")) :]
    if not number.replace(".", "", 1).isdigit() or unit not in ("KB", "MB", "GB", "TB", "KIB", "MIB", "GIB"):
        raise InvalidInput(f"RLM_QUERY_MEMORY={raw!r} is not a size like 512MB or 2GB")
    return raw


def _table_chunks(env: Mapping[str, str]) -> int | None:
    """RLM_EMBED_TABLE_CHUNKS: how many row chunks of one table get a vector (`all`, or 0 and up)."""
    raw = env.get("RLM_EMBED_TABLE_CHUNKS", "").strip().lower()
    if not raw:
        return DEFAULT_EMBED_TABLE_CHUNKS
    if raw == "all":
        return None
    if not raw.isdigit():
        raise InvalidInput(f"RLM_EMBED_TABLE_CHUNKS={raw!r} must be `all` or a whole number (0: none)")
    return int(raw)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Project from CLAUDE_PROJECT_DIR, else the working directory; RLM_DB and RLM_ALLOWED_ROOTS override."""
    env = os.environ if env is None else env
    project = Path(env.get("CLAUDE_PROJECT_DIR") or os.getcwd()).expanduser().resolve()
    db_raw = env.get("RLM_DB")
    db_url = _db_url(db_raw)
    # With a server, the local folder still holds what is per machine (reports, headless runs).
    db_path = _db_path(db_raw, project) if db_raw and not db_url else project / DB_DIRNAME / DB_FILENAME
    roots_raw = env.get("RLM_ALLOWED_ROOTS", "")
    roots = [Path(p).expanduser() for p in roots_raw.split(os.pathsep) if p.strip()]
    fusion, rrf_k = _fusion(env)
    allowed = tuple(
        dict.fromkeys((r if r.is_absolute() else project / r).resolve() for r in [project, *roots])
    )
    return Settings(
        project_dir=project,
        db_path=db_path,
        allowed_roots=allowed,
        lease_seconds=int(_positive_number(env, "RLM_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)),
        task_tokens=int(_positive_number(env, "RLM_TASK_TOKENS", DEFAULT_TASK_TOKENS)),
        regex_budget_seconds=_positive_number(env, "RLM_REGEX_BUDGET", DEFAULT_REGEX_BUDGET_SECONDS),
        embed_model=env.get("RLM_EMBED_MODEL") or None,
        embed_in_background=env.get("RLM_EMBED_BACKGROUND", "1") not in ("0", "false", "no"),
        embed_table_chunks=_table_chunks(env),
        fusion=fusion,
        rrf_k=rrf_k,
        data_copy=env.get("RLM_DATA_COPY", "1") not in ("0", "false", "no"),
        query_seconds=_positive_number(env, "RLM_QUERY_SECONDS", DEFAULT_QUERY_SECONDS),
        query_memory=_memory(env),
        db_url=db_url,
        project_key=(env.get("RLM_PROJECT") or project.name or "default").strip(),
    )
