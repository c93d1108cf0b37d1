"""Documents, their chunks and their columnar copies, as the store takes and returns them."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Document:
    """A document row (ready, or a staging row while it loads); `profile` decoded."""

    id: int
    name: str
    path: str
    content_type: str
    bytes: int
    content_hash: str
    profile: dict[str, Any] | None
    state: str
    loader: str | None
    loaded_at: float


@dataclass(frozen=True, slots=True)
class ListedDocument:
    document: Document
    chunks: int


@dataclass(frozen=True, slots=True)
class NewChunk:
    """A chunk as a load inserts it."""

    ordinal: int
    text: str
    context: str
    section: str
    content_hash: str
    start_line: int
    end_line: int
    start_row: int | None
    end_row: int | None


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk of a ready document with its document's name, path and content type."""

    id: int
    document_id: int
    ordinal: int
    text: str
    context: str
    section: str
    content_hash: str
    start_line: int
    end_line: int
    start_row: int | None
    end_row: int | None
    document_name: str
    document_path: str
    content_type: str


@dataclass(frozen=True, slots=True)
class ChunkMove:
    """A kept chunk row's new place in a reloaded document."""

    chunk_id: int
    ordinal: int
    context: str
    section: str
    start_line: int
    end_line: int
    start_row: int | None
    end_row: int | None


@dataclass(frozen=True, slots=True)
class Totals:
    documents: int
    bytes: int
    chunks: int
    loading: int


# ---------------------------------------------------------------- columnar copies (data_copies)


@dataclass(frozen=True, slots=True)
class CopyRow:
    """Which Parquet file holds a document's columnar copy (a `data_copies` row)."""

    document_id: int
    kind: str  # 'table' or 'lines'
    file: str  # name inside the data directory
    records: int
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type), `record` / `line` first
    warnings: tuple[str, ...]
    sha256: str | None = None  # PostgreSQL: the digest of the bytes stored in the database
    size: int | None = None  # PostgreSQL: their length
