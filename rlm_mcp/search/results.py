"""What a search answers: hits with their location and preview, and the answer's text and JSON."""

from dataclasses import dataclass
from typing import Any

import regex

from ..answers import shorten
from ..ids import format_id
from ..store.rows import ChunkText

PREVIEW_CHARS = 240
WORD = regex.compile(r"\w+", regex.UNICODE)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    document_id: int
    score: float
    location: str
    preview: str
    ranks: dict[str, int] | None = None  # hybrid: the rank of this chunk in each list it came from

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "chunk_id": format_id("c", self.chunk_id),
            "document_id": format_id("d", self.document_id),
            "score": round(self.score, 4),
            "location": self.location,
            "preview": self.preview,
        }
        if self.ranks is not None:
            data["ranks"] = self.ranks
        return data


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    mode: str
    hits: tuple[Hit, ...]
    offset: int
    total: int | None = None
    total_is_lower_bound: bool = False
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"hits": [h.to_json() for h in self.hits]}
        if self.total is not None:
            data["total"] = self.total
        if self.note:
            data["note"] = self.note
        return data

    def to_text(self) -> str:
        total = "" if self.total is None else f" of {self.total}{'+' if self.total_is_lower_bound else ''}"
        first = self.offset + 1
        last = self.offset + len(self.hits)
        lines = [f"{self.mode} search for {shorten(self.query, 80)!r}: hits {first}–{last}{total}."]
        if not self.hits:
            lines = [f"{self.mode} search for {shorten(self.query, 80)!r}: no hits."]
        if self.note:
            lines.append(f"Note: {self.note}")
        for hit in self.hits:
            ranks = ""
            if hit.ranks:
                ranks = " [" + ", ".join(f"{k} #{v}" for k, v in hit.ranks.items()) + "]"
            lines.append(
                f"{format_id('c', hit.chunk_id)} ({hit.score:.3f}{ranks}) {hit.location}\n  {hit.preview}"
            )
        more = (self.total or 0) - self.offset - len(self.hits)
        if self.hits and more > 0:
            plus = "+" if self.total_is_lower_bound else ""
            lines.append(f"… {more}{plus} more; call search_chunks with offset={last}.")
        if self.hits:
            lines.append(
                "Next: get_chunk(chunk_id) reads a hit in full; create_job(query, search=...) analyses all."
            )
        else:
            lines.append("Next: try other words, mode='regex' for exact patterns, or list_documents.")
        return "\n".join(lines)


def location(document_name: str, start_line: int, end_line: int, section: str) -> str:
    lines = f"{start_line}" if start_line == end_line else f"{start_line}-{end_line}"
    return f"{document_name}:{lines}" + (f" {section}" if section else "")


def hit_from_row(
    row: ChunkText, score: float, snippet: str | None, ranks: dict[str, int] | None = None
) -> Hit:
    """A hit from a chunk's location row (store.search.hit_rows); the preview is the snippet if any."""
    preview = snippet if snippet is not None else row.text
    return Hit(
        row.id,
        row.document_id,
        score,
        location(row.document_name, row.start_line, row.end_line, row.section),
        shorten(preview, PREVIEW_CHARS),
        ranks,
    )
