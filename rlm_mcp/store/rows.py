"""The rows that cross the store seam: frozen dataclasses of plain Python values.

Store functions take and return these (or ints, strs and lists of them), never driver rows or
positional tuples; JSON columns are decoded here, in `store/`, so callers see dicts and lists. A second
backend implements the same functions with the same rows.
"""

import json
from dataclasses import dataclass
from typing import Any

# ---------------------------------------------------------------- documents and chunks


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


# ---------------------------------------------------------------- JSON columns


def to_json(value: Any) -> str | None:
    """A JSON column's text; None stays NULL."""
    return None if value is None else json.dumps(value)


def from_json(raw: str | None) -> Any:
    """A JSON column's value; NULL and '' are None."""
    return json.loads(raw) if raw else None
