"""What a load answers: each document loaded (id, counts, profile, warnings) and the load as a whole,
as JSON for the tool's structured output and as text for the model."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..chunking import profiles
from ..ids import format_id

MAX_LISTED_DOCUMENTS = 25
MAX_IDS_IN_NEXT = 5  # more ids than this and the Next line scopes by folder instead


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    id: int
    name: str
    path: str
    content_type: str
    bytes: int
    chunks: int
    status: str  # loaded / unchanged / updated
    changed_chunks: int | None = None
    profile: dict[str, Any] | None = None
    warnings: tuple[str, ...] = ()
    embedded: tuple[int, int] | None = None  # a table's (chunks that get a vector, chunks)

    @property
    def sampled(self) -> bool:
        return self.embedded is not None and self.embedded[0] < self.embedded[1]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": format_id("d", self.id),
            "name": self.name,
            "path": self.path,
            "content_type": self.content_type,
            "bytes": self.bytes,
            "chunks": self.chunks,
            "status": self.status,
        }
        if self.changed_chunks is not None:
            data["changed_chunks"] = self.changed_chunks
        if self.profile is not None:
            data["profile"] = profiles.compact_profile(self.profile)
        if self.warnings:
            data["warnings"] = list(self.warnings)
        if self.sampled and self.embedded is not None:
            data["embedded_chunks"] = self.embedded[0]
        return data

    def sample_line(self) -> str | None:
        if not self.sampled or self.embedded is None:
            return None
        kept, total = self.embedded
        which = (
            f"{kept} of {total} row chunks, evenly spaced, get a vector"
            if kept
            else "no row chunk gets a vector"
        )
        return (
            f"  embeddings: {which} (RLM_EMBED_TABLE_CHUNKS; every row chunk would take hours): semantic "
            "search sees that sample of this table; bm25, query_data and jobs see every row."
        )


@dataclass(frozen=True, slots=True)
class LoadResult:
    documents: tuple[LoadedDocument, ...]
    skipped: dict[str, int] = field(default_factory=dict)
    failed: tuple[tuple[str, str], ...] = ()
    embeddings_waiting: int = 0  # chunks of these documents still waiting for a vector (background)
    scope_path: str | None = None  # the folder of all loaded documents, for `path=` in search and jobs

    def to_json(self) -> dict[str, Any]:
        return {
            "documents": [d.to_json() for d in self.documents],
            "skipped": dict(self.skipped),
            "failed": [{"path": p, "error": e} for p, e in self.failed],
            "embeddings_waiting": self.embeddings_waiting,
        }

    def to_text(self) -> str:
        by_status = Counter(d.status for d in self.documents)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "nothing loaded"
        lines = [f"{len(self.documents)} document(s): {summary}."]
        detailed = len(self.documents) <= 3
        if not detailed:
            lines.append(profiles.summarize_documents([(d.content_type, d.profile) for d in self.documents]))
        for doc in self.documents[:MAX_LISTED_DOCUMENTS]:
            changed = f", {doc.changed_chunks} changed" if doc.changed_chunks is not None else ""
            lines.append(
                f"{format_id('d', doc.id)} {doc.name} · {doc.content_type} · {_size(doc.bytes)} · "
                f"{doc.chunks} chunks{changed} · {doc.status}"
            )
            if detailed and doc.profile:
                lines.append("  profile: " + render_profile(doc.profile))
            lines.extend(f"  warning: {w}" for w in doc.warnings[:5])
            if sample := doc.sample_line():
                lines.append(sample)
        if len(self.documents) > MAX_LISTED_DOCUMENTS:
            lines.append(
                f"… {len(self.documents) - MAX_LISTED_DOCUMENTS} more; list_documents shows them all."
            )
        if self.skipped:
            lines.append(
                "Skipped: " + ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) + "."
            )
        lines.extend(f"Failed: {path}: {error}" for path, error in self.failed[:10])
        if self.embeddings_waiting:
            lines.append(
                f"Embeddings: {self.embeddings_waiting} chunks waiting, computed in the background; bm25 "
                "search works now, hybrid and semantic fill in as they finish (status shows the backlog)."
            )
        ids = [format_id("d", d.id) for d in self.documents]
        if len(ids) > MAX_IDS_IN_NEXT and self.scope_path:
            lines.append(
                f"Next: search_chunks(query, path={self.scope_path!r}) to find passages in these "
                f"{len(ids)} documents, or create_job(query, path={self.scope_path!r}) to analyse them in "
                "full (path scopes to the documents loaded under that folder)."
            )
        elif len(ids) > MAX_IDS_IN_NEXT:
            lines.append(
                f"Next: search_chunks(query, document_ids=[...]) or create_job(query, document_ids=[...]) "
                f"over these {len(ids)} documents: ids {ids[0]}–{ids[-1]} (list_documents lists them)."
            )
        elif ids:
            lines.append(
                f"Next: search_chunks(query, document_ids={ids}) to find passages, or "
                f"create_job(query, document_ids={ids}) to analyse them in full."
            )
        return "\n".join(lines)


def render_profile(profile: dict[str, Any], limit: int = 1500) -> str:
    """A profile on a line or a few: compact even for a 2,500-column CSV (see chunking/profiles.py)."""
    return profiles.render_profile(profile, limit)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
