"""Queries on documents and chunks. A load writes into a staging row ('loading') and swaps it in."""

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .connection import Connection
from .postgres import documents as pg
from .postgres.adapter import is_postgres
from .rows import ChunkMove, Document, ListedDocument, NewChunk, StoredChunk, Totals, from_json, to_json
from .sql import json_array, placeholders

DOCUMENT_COLUMNS = (
    "d.id, d.name, d.path, d.content_type, d.bytes, d.content_hash, d.profile, d.state, d.loader, d.loaded_at"
)
CHUNK_COLUMNS = """c.id, c.document_id, c.ordinal, c.text, c.context, c.section, c.content_hash,
    c.start_line, c.end_line, c.start_row, c.end_row, d.name AS document_name, d.path AS document_path,
    d.content_type"""


def _document(row: Any) -> Document:
    return Document(
        int(row[0]), row[1], row[2], row[3], int(row[4]), row[5], from_json(row[6]), row[7], row[8], row[9]
    )


def _documents(conn: Connection, where: str, params: Sequence[object]) -> list[Document]:
    rows = conn.execute(f"SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE {where} ORDER BY d.id", params)
    return [_document(r) for r in rows]


def find_ready(conn: Connection, path: str) -> Document | None:
    found = _documents(conn, "d.path = ? AND d.state = 'ready'", (path,))
    return found[0] if found else None


def staging_rows(conn: Connection, path: str) -> list[Document]:
    """The staging rows ('loading') of a path: who loads it (`loader`) and which bytes (`content_hash`)."""
    return _documents(conn, "d.path = ? AND d.state = 'loading'", (path,))


def delete_document(conn: Connection, document_id: int) -> None:
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))


def delete_staging(conn: Connection, document_id: int) -> None:
    """Delete a staging row (never a ready document: a finished load is not a leftover)."""
    conn.execute("DELETE FROM documents WHERE id = ? AND state = 'loading'", (document_id,))


def _next_id(conn: Connection, table: str) -> int:
    """The id a new row of `table` gets: above every id it ever held (ids are never reused, 0007)."""
    if is_postgres(conn):
        return pg.next_id(conn, table)
    (value,) = conn.execute(
        f"""SELECT max(coalesce((SELECT max(id) FROM {table}), 0),
                       coalesce((SELECT last_id FROM id_high_water WHERE name = ?), 0)) + 1""",
        (table,),
    ).fetchone()
    return int(value)


def insert_staging(
    conn: Connection, name: str, path: str, content_type: str, size: int, content_hash: str, loader: str
) -> int:
    row = conn.execute(
        """INSERT INTO documents (id, name, path, content_type, bytes, content_hash, state, loader, loaded_at)
           VALUES (?, ?, ?, ?, ?, ?, 'loading', ?, ?) RETURNING id""",
        (_next_id(conn, "documents"), name, path, content_type, size, content_hash, loader, time.time()),
    ).fetchone()
    return int(row[0])


ROWS_PER_INSERT = 1024  # 11 values a row: 11,264 bound parameters, under SQLite's 32,766
CHUNK_INSERT = """INSERT INTO chunks (id, document_id, ordinal, text, context, section, content_hash,
                                      start_line, end_line, start_row, end_row) VALUES """


def insert_chunks(conn: Connection, document_id: int, rows: Iterable[NewChunk]) -> None:
    """Insert chunks and index them for BM25 (the only way chunks are inserted).

    Rows go in ROWS_PER_INSERT at a time as one multi-row VALUES statement, so SQLite runs each insert
    with the GIL released; `executemany` takes the GIL back for every row (a loader thread chunking at
    the same time then stalls the writer for a switch interval per row: 2x slower), and one JSON array
    through json_each cost 20 % more CPU (encoding 32 MB of text as JSON with the GIL held, then
    parsing it) than binding the same values. 1,024 rows a statement, not 256: a quarter of the GIL
    handoffs (a 75 MB CSV loaded ~15 % faster); a batch's remainder goes in power-of-two parts, so the
    connection's statement cache holds at most 11 statements (one per remainder size held 40 MB more).
    On Postgres the batch goes by COPY (postgres/documents.py).
    """
    if is_postgres(conn):
        pg.insert_chunks(conn, document_id, list(rows))
        conn.execute("UPDATE documents SET loaded_at = ? WHERE id = ?", (time.time(), document_id))
        return
    first_id = _next_id(conn, "chunks")
    batch = list(rows)
    start = 0
    while start < len(batch):
        size = min(ROWS_PER_INSERT, 1 << ((len(batch) - start).bit_length() - 1))  # a power of two
        part = batch[start : start + size]
        values: list[object] = []
        for offset, r in enumerate(part, start=first_id + start):
            values += (offset, document_id, r.ordinal, r.text, r.context, r.section, r.content_hash,
                       r.start_line, r.end_line, r.start_row, r.end_row)  # fmt: skip
        conn.execute(CHUNK_INSERT + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * size), values)
        start += size
    last_id = first_id - 1
    conn.execute("INSERT INTO chunks_fts (rowid, text) SELECT id, text FROM chunks WHERE id > ?", (last_id,))
    conn.execute(
        "INSERT OR IGNORE INTO embed_queue (chunk_id) SELECT id FROM chunks WHERE id > ?", (last_id,)
    )
    conn.execute("UPDATE documents SET loaded_at = ? WHERE id = ?", (time.time(), document_id))


def finalize(
    conn: Connection, staging_id: int, replaced_id: int | None, profile: dict[str, Any] | None
) -> int:
    """Make the staging row the ready document; a replaced document keeps its id (d3 stays d3)."""
    final_id = staging_id
    if replaced_id is not None:
        delete_document(conn, replaced_id)
        conn.execute("UPDATE documents SET id = ? WHERE id = ?", (replaced_id, staging_id))
        final_id = replaced_id
    conn.execute(
        "UPDATE documents SET state = 'ready', loader = NULL, profile = ?, loaded_at = ? WHERE id = ?",
        (to_json(profile), time.time(), final_id),
    )
    return final_id


def count_chunks(conn: Connection, document_id: int) -> int:
    return int(
        conn.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()[0]
    )


def list_ready(conn: Connection, offset: int, limit: int) -> tuple[list[ListedDocument], int]:
    total = conn.execute("SELECT count(*) FROM documents WHERE state = 'ready'").fetchone()[0]
    rows = conn.execute(
        f"""SELECT {DOCUMENT_COLUMNS}, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)
            FROM documents d WHERE d.state = 'ready' ORDER BY d.id LIMIT ? OFFSET ?""",
        (limit, offset),
    ).fetchall()
    return [ListedDocument(_document(r), int(r[10])) for r in rows], int(total)


def get_ready(conn: Connection, document_id: int) -> Document | None:
    found = _documents(conn, "d.id = ? AND d.state = 'ready'", (document_id,))
    return found[0] if found else None


def ready_content_types(conn: Connection, document_ids: Sequence[int]) -> dict[int, str]:
    """The content type of each of `document_ids` that is a ready document, in one query (hybrid
    weighs every candidate by its document's type: one lookup per document cost 12 % of a search)."""
    if not document_ids:
        return {}
    rows = conn.execute(
        """SELECT id, content_type FROM documents
           WHERE state = 'ready' AND id IN (SELECT value FROM json_each(?))""",
        (json.dumps(sorted({int(d) for d in document_ids})),),
    )
    return {int(r[0]): str(r[1]) for r in rows}


def existing_ids(conn: Connection, document_ids: Sequence[int]) -> set[int]:
    rows = conn.execute(
        f"SELECT id FROM documents WHERE state = 'ready' AND id IN ({placeholders(len(document_ids))})",
        tuple(document_ids),
    )
    return {int(r[0]) for r in rows}


def ready_paths(conn: Connection) -> list[tuple[int, str]]:
    """(id, path) of every ready document, by id: what a folder or glob scope is matched against."""
    rows = conn.execute("SELECT id, path FROM documents WHERE state = 'ready' ORDER BY id")
    return [(int(r[0]), str(r[1])) for r in rows]


def chunk_range(conn: Connection, document_id: int) -> tuple[int | None, int | None]:
    """The first and last chunk ids of a document."""
    row = conn.execute("SELECT min(id), max(id) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()
    return row[0], row[1]


def get_chunk(conn: Connection, chunk_id: int) -> StoredChunk | None:
    row = conn.execute(
        f"""SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.id = ? AND d.state = 'ready'""",
        (chunk_id,),
    ).fetchone()
    return StoredChunk(*row) if row is not None else None


def neighbour_ids(conn: Connection, document_id: int, ordinal: int) -> tuple[int | None, int | None]:
    prev = conn.execute(
        "SELECT id FROM chunks WHERE document_id = ? AND ordinal < ? ORDER BY ordinal DESC LIMIT 1",
        (document_id, ordinal),
    ).fetchone()
    nxt = conn.execute(
        "SELECT id FROM chunks WHERE document_id = ? AND ordinal > ? ORDER BY ordinal LIMIT 1",
        (document_id, ordinal),
    ).fetchone()
    return (int(prev[0]) if prev else None, int(nxt[0]) if nxt else None)


def totals(conn: Connection) -> Totals:
    documents = conn.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM documents WHERE state = 'ready'")
    count, size = documents.fetchone()
    chunks = conn.execute(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.state = 'ready'"
    ).fetchone()[0]
    loading = conn.execute("SELECT count(*) FROM documents WHERE state = 'loading'").fetchone()[0]
    return Totals(int(count), int(size), int(chunks), int(loading))


def schema_bytes(conn: Connection) -> int:
    """On Postgres: the bytes of the project's tables and indexes (a SQLite store is its files)."""
    row = conn.execute(
        """SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"""
    ).fetchone()
    return int(row[0])


# -- incremental reloads: chunk rows whose text did not change are kept, not re-inserted ----------


def chunk_ids_by_hash(conn: Connection, document_ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    """(id, content_hash) of every chunk of these documents, in document order."""
    for document_id in document_ids:
        for row in conn.execute(
            "SELECT id, content_hash FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,)
        ):
            yield int(row[0]), str(row[1])


def adopt_chunks(
    conn: Connection, document_id: int, moves: Sequence[ChunkMove], sources: Sequence[int]
) -> int:
    """Move kept chunk rows into `document_id` at their new place; returns how many rows moved.
    Only rows still in one of `sources` move (a concurrent load may have taken them first).
    Their FTS entries and vectors stay: only the text is indexed, and it did not change."""
    if not moves:
        return 0
    allowed = json_array(sources)
    cursor = conn.executemany(
        """UPDATE chunks SET document_id = ?, ordinal = ?, context = ?, section = ?, start_line = ?,
                  end_line = ?, start_row = ?, end_row = ?
           WHERE id = ? AND document_id IN (SELECT value FROM json_each(?))""",
        (
            (document_id, m.ordinal, m.context, m.section, m.start_line, m.end_line, m.start_row, m.end_row,
             m.chunk_id, allowed)
            for m in moves
        ),
    )  # fmt: skip
    return int(cursor.rowcount)  # summed over the statements, trigger changes not included
