"""Reading the store: one chunk with its context and neighbours, the list of documents, removal."""

from dataclasses import dataclass
from typing import Any

from ..answers import shorten
from ..chunking.profiles import compact_profile
from ..errors import InvalidInput, NotFound
from ..ids import MAX_ID, format_id, parse_id
from ..search.results import location
from ..store import Store
from ..store import copies as copies_db
from ..store import documents as db

MAX_LIST_LIMIT = 200
LISTED_PROFILE_ITEMS = 8  # columns or JSON paths per listed document (a 2,500-column CSV stays small)


@dataclass(frozen=True, slots=True)
class ChunkView:
    chunk_id: int
    document_id: int
    document_name: str
    location: str
    context: str
    text: str
    prev_id: int | None
    next_id: int | None
    rows: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "chunk_id": format_id("c", self.chunk_id),
            "document_id": format_id("d", self.document_id),
            "location": self.location,
            "context": self.context,
            "text": self.text,
            "prev_id": format_id("c", self.prev_id) if self.prev_id else None,
            "next_id": format_id("c", self.next_id) if self.next_id else None,
        }
        if self.rows:
            data["rows"] = list(self.rows)
        return data

    def to_text(self) -> str:
        head = f"{format_id('c', self.chunk_id)} · {format_id('d', self.document_id)} · {self.location}"
        if self.rows:
            head += f" · rows {self.rows[0]}-{self.rows[1]}"
        parts = [head]
        if self.context:
            parts.append(f"--- context (not part of this chunk) ---\n{self.context.rstrip()}")
        parts.append(f"--- text ---\n{self.text.rstrip()}")
        nav = []
        if self.prev_id:
            nav.append(f"previous: {format_id('c', self.prev_id)}")
        if self.next_id:
            nav.append(f"next: {format_id('c', self.next_id)}")
        parts.append("--- " + (" · ".join(nav) if nav else "the document's only chunk") + " ---")
        return "\n".join(parts)


def get_chunk(store: Store, chunk_id: str | int) -> ChunkView:
    number = parse_id(chunk_id, "c")
    with store.read() as conn:
        row = db.get_chunk(conn, number)
        if row is None:
            raise NotFound(
                f"No chunk {format_id('c', number)}. search_chunks or list_documents give valid ids "
                "(chunk ids change when a document is reloaded with new content)."
            )
        prev_id, next_id = db.neighbour_ids(conn, row.document_id, row.ordinal)
    rows = (row.start_row, row.end_row) if row.start_row is not None and row.end_row is not None else None
    return ChunkView(
        number,
        row.document_id,
        row.document_name,
        location(row.document_name, row.start_line, row.end_line, row.section),
        row.context,
        row.text,
        prev_id,
        next_id,
        rows,
    )


@dataclass(frozen=True, slots=True)
class DocumentList:
    documents: tuple[dict[str, Any], ...]
    total: int
    offset: int

    def to_json(self) -> dict[str, Any]:
        return {"documents": list(self.documents), "total": self.total}

    def to_text(self) -> str:
        if not self.total:
            return "The store is empty. Next: load_document(path) with a file, a directory or a glob."
        end = self.offset + len(self.documents)
        lines = [f"Documents {self.offset + 1}–{end} of {self.total}:"]
        lines += [
            f"{d['id']} {d['name']} · {d['content_type']} · {d['bytes']} bytes · {d['chunks']} chunks"
            for d in self.documents
        ]
        if end < self.total:
            lines.append(f"… {self.total - end} more; call list_documents with offset={end}.")
        lines.append(
            "Next: search_chunks(query, document_ids=[...]) or create_job(query, document_ids=[...])."
        )
        return "\n".join(lines)


def list_documents(store: Store, offset: int = 0, limit: int = 50) -> DocumentList:
    if not 0 <= offset <= MAX_ID:  # neither engine takes an integer above 2**63 - 1
        raise InvalidInput(f"offset must be between 0 and {MAX_ID} (got {offset}).")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIST_LIMIT} (got {limit}).")
    rows, total = db.list_ready(store.conn(), offset, limit)
    docs = tuple(
        {
            "id": format_id("d", r.document.id),
            "name": r.document.name,
            "path": r.document.path,
            "content_type": r.document.content_type,
            "bytes": r.document.bytes,
            "chunks": r.chunks,
            "profile": compact_profile(r.document.profile, LISTED_PROFILE_ITEMS)
            if r.document.profile
            else None,
        }
        for r in rows
    )
    return DocumentList(docs, total, offset)


@dataclass(frozen=True, slots=True)
class Removed:
    document_id: int
    name: str
    chunks: int

    def to_json(self) -> dict[str, Any]:
        return {"removed": format_id("d", self.document_id), "name": self.name, "chunks": self.chunks}

    def to_text(self) -> str:
        return (
            f"Removed {format_id('d', self.document_id)} {shorten(self.name, 120)} "
            f"and its {self.chunks} chunks. "
            "Findings of earlier jobs are kept. Next: list_documents."
        )


def remove_document(store: Store, document_id: str | int) -> Removed:
    number = parse_id(document_id, "d")
    with store.write() as conn:
        row = db.get_ready(conn, number)
        if row is None:
            raise NotFound(f"No document {format_id('d', number)}. list_documents gives valid document ids.")
        chunks = db.count_chunks(conn, number)
        copy_file = copies_db.copy_file(conn, number)
        db.delete_document(conn, number)  # its data_copies row goes with it
    if copy_file is not None:
        from ..data import discard_removed  # duckdb loads only when there is a copy to remove

        discard_removed(store, copy_file)
    return Removed(number, row.name, chunks)
