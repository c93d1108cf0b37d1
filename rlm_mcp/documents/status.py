"""status: where the store is, what it holds, what search can use."""

from dataclasses import asdict, dataclass, field
from typing import Any

from .. import __version__
from ..config import Settings
from ..embedding import EmbeddingWorker, vector_status
from ..store import Store
from ..store import documents as db


@dataclass(frozen=True, slots=True)
class Status:
    version: str
    db_path: str
    db_bytes: int
    project_dir: str
    allowed_roots: tuple[str, ...]
    totals: dict[str, int]
    vectors: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "db_path": self.db_path,
            "db_bytes": self.db_bytes,
            "project_dir": self.project_dir,
            "allowed_roots": list(self.allowed_roots),
            **self.totals,
            "vectors": self.vectors,
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
        lines.append("Next: list_documents, or load_document(path) to add more.")
        return "\n".join(lines)


def status(store: Store, settings: Settings, worker: EmbeddingWorker | None = None) -> Status:
    """`worker`: this process's embedding worker (the server's `Workspace` has one; the CLI none)."""
    totals = asdict(db.totals(store.conn()))
    size = sum(p.stat().st_size for p in store.path.parent.glob(store.path.name + "*") if p.is_file())
    return Status(
        __version__,
        str(store.path),
        size,
        str(settings.project_dir),
        tuple(str(r) for r in settings.allowed_roots),
        totals,
        vector_status(store, settings, worker),
    )
