"""status: where the store is, what it holds, what search can use."""

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import __version__
from ..answers import shorten
from ..config import Settings
from ..embedding import EmbeddingWorker, vector_status
from ..ids import format_id
from ..store import Store
from ..store import documents as db
from ..store import jobs as jobs_db

MAX_OPEN_JOBS = 10


@dataclass(frozen=True, slots=True)
class Status:
    version: str
    db_path: str
    db_bytes: int
    project_dir: str
    allowed_roots: tuple[str, ...]
    totals: dict[str, int]
    vectors: dict[str, Any] = field(default_factory=dict)
    open_jobs: list[dict[str, Any]] = field(default_factory=list)
    open_jobs_total: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "db_path": self.db_path,
            "db_bytes": self.db_bytes,
            "project_dir": self.project_dir,
            "allowed_roots": list(self.allowed_roots),
            **self.totals,
            "vectors": self.vectors,
            "open_jobs": self.open_jobs,
            "open_jobs_total": self.open_jobs_total,
        }

    def to_text(self) -> str:
        t = self.totals
        lines = [
            f"rlm-mcp {self.version} · store {self.db_path} ({self.db_bytes / 1e6:.1f} MB)",
            f"{t['documents']} documents, {t['chunks']} chunks, {t['bytes'] / 1e6:.1f} MB of source text"
            + (f"; {t['loading']} load(s) in progress" if t.get("loading") else ""),
            f"Allowed roots: {', '.join(self.allowed_roots)}",
        ]
        if self.vectors:
            lines.append("Vectors: " + ", ".join(f"{k}={v}" for k, v in self.vectors.items()))
        else:
            lines.append("Vectors: not available; hybrid and semantic search answer with BM25.")
        if self.open_jobs:
            lines.append(f"Open jobs ({self.open_jobs_total}):")
            lines += [
                f"  {j['job_id']} · {j['tasks']['done']}/{j['tasks']['total']} tasks done, "
                f"{j['tasks']['pending']} pending, {j['tasks']['claimed']} claimed · "
                f"{shorten(j['query'], 80)}"
                for j in self.open_jobs
            ]
            if self.open_jobs_total > len(self.open_jobs):
                lines.append("  … list_jobs shows them all.")
            lines.append("Next: job_status(job_id) to resume a job, or list_documents / load_document(path).")
        else:
            lines.append("Next: list_documents, or load_document(path) to add more.")
        return "\n".join(lines)


def _open_jobs(store: Store) -> tuple[list[dict[str, Any]], int]:
    with store.read() as conn:
        rows = jobs_db.open_job_rows(conn, MAX_OPEN_JOBS)
        total = jobs_db.count_open_jobs(conn)
    jobs = [
        {
            "job_id": format_id("j", r.id),
            "query": r.query,
            "tasks": {
                "pending": r.pending,
                "claimed": r.claimed,
                "done": r.done,
                "total": r.tasks,
            },
        }
        for r in rows
    ]
    return jobs, total


def status(store: Store, settings: Settings, worker: EmbeddingWorker | None = None) -> Status:
    """`worker`: this process's embedding worker (the server's `Workspace` has one; the CLI none)."""
    totals = asdict(db.totals(store.conn()))
    open_jobs, open_total = _open_jobs(store)
    if store.backend == "postgres":
        size = db.schema_bytes(store.conn())
    else:
        size = sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*") if p.is_file())
    return Status(
        __version__,
        store.location,
        size,
        str(settings.project_dir),
        tuple(str(r) for r in settings.allowed_roots),
        totals,
        vector_status(store, settings, worker),
        open_jobs,
        open_total,
    )
