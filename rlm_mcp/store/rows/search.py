"""What search and the embedding queue read from the store."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChunkText:
    """A chunk of a ready document with what a hit shows: its text (a search hit's: the first 600
    characters), lines, section and document name."""

    id: int
    document_id: int
    text: str
    start_line: int
    end_line: int
    section: str
    document_name: str


@dataclass(frozen=True, slots=True)
class EmbedInput:
    """A chunk waiting for a vector: its id, the hash its vector is cached under, its text."""

    id: int
    content_hash: str
    text: str


@dataclass(frozen=True, slots=True)
class BitBlock:
    """One vec0 storage block of up to 1024 rows: validity bitmap, rowids (int64), binary vectors and
    document ids (int64), as packed bytes."""

    validity: bytes
    rowids: bytes
    vectors: bytes
    document_ids: bytes


@dataclass(frozen=True, slots=True)
class IndexTotals:
    """What FTS5's bm25() reads of the whole index: rows and tokens (every row, staging ones too),
    and `version`, bytes that change with every write to the index (a key for caches of it)."""

    rows: int
    tokens: int
    version: bytes
