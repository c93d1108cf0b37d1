"""Queries on documents and chunks. A load writes into a staging row ('loading') and swaps it in."""

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .connection import Connection

ChunkRow = tuple[int, str, str, str, str, int, int, int | None, int | None]
# (ordinal, text, context, section, content_hash, start_line, end_line, start_row, end_row)

CHUNK_COLUMNS = """c.id, c.document_id, c.ordinal, c.text, c.context, c.section, c.content_hash,
    c.start_line, c.end_line, c.start_row, c.end_row, d.name AS document_name, d.path AS document_path,
    d.content_type"""


def find_ready(conn: Connection, path: str) -> Any:
    return conn.execute("SELECT * FROM documents WHERE path = ? AND state = 'ready'", (path,)).fetchone()


def staging_rows(conn: Connection, path: str) -> list[Any]:
    return list(
        conn.execute(
            "SELECT id, loader, content_hash FROM documents WHERE path = ? AND state = 'loading'", (path,)
        )
    )


def delete_document(conn: Connection, document_id: int) -> None:
    conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))


def insert_staging(
    conn: Connection, name: str, path: str, content_type: str, size: int, content_hash: str, loader: str
) -> int:
    cursor = conn.execute(
        """INSERT INTO documents (name, path, content_type, bytes, content_hash, state, loader, loaded_at)
           VALUES (?, ?, ?, ?, ?, 'loading', ?, ?)""",
        (name, path, content_type, size, content_hash, loader, time.time()),
    )
    return int(cursor.lastrowid)


def insert_chunks(conn: Connection, document_id: int, rows: Iterable[ChunkRow]) -> None:
    """Insert chunks and index them for BM25 (the only way chunks are inserted).

    The batch travels as one JSON array into one statement, so SQLite runs the whole insert with the
    GIL released; `executemany` takes the GIL back for every row, and a loader thread that is
    chunking at the same time then stalls the writer for a switch interval per row (2x slower).
    """
    (last_id,) = conn.execute("SELECT coalesce(max(id), 0) FROM chunks").fetchone()
    conn.execute(
        """INSERT INTO chunks (document_id, ordinal, text, context, section, content_hash,
                               start_line, end_line, start_row, end_row)
           SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4,
                  value ->> 5, value ->> 6, value ->> 7, value ->> 8
           FROM json_each(?) ORDER BY key""",
        (document_id, json.dumps(list(rows), ensure_ascii=False)),
    )
    conn.execute("INSERT INTO chunks_fts (rowid, text) SELECT id, text FROM chunks WHERE id > ?", (last_id,))
    conn.execute(
        "INSERT OR IGNORE INTO embed_queue (chunk_id) SELECT id FROM chunks WHERE id > ?", (last_id,)
    )
    conn.execute("UPDATE documents SET loaded_at = ? WHERE id = ?", (time.time(), document_id))


def chunk_hashes(conn: Connection, document_id: int) -> list[str]:
    return [
        r[0] for r in conn.execute("SELECT content_hash FROM chunks WHERE document_id = ?", (document_id,))
    ]


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
        (json.dumps(profile) if profile is not None else None, time.time(), final_id),
    )
    return final_id


def count_chunks(conn: Connection, document_id: int) -> int:
    return int(
        conn.execute("SELECT count(*) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()[0]
    )


def list_ready(conn: Connection, offset: int, limit: int) -> tuple[list[Any], int]:
    total = conn.execute("SELECT count(*) FROM documents WHERE state = 'ready'").fetchone()[0]
    rows = conn.execute(
        """SELECT d.*, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) AS chunks
           FROM documents d WHERE d.state = 'ready' ORDER BY d.id LIMIT ? OFFSET ?""",
        (limit, offset),
    ).fetchall()
    return rows, int(total)


def get_ready(conn: Connection, document_id: int) -> Any:
    return conn.execute("SELECT * FROM documents WHERE id = ? AND state = 'ready'", (document_id,)).fetchone()


def existing_ids(conn: Connection, document_ids: Sequence[int]) -> set[int]:
    marks = ",".join("?" * len(document_ids))
    rows = conn.execute(
        f"SELECT id FROM documents WHERE state = 'ready' AND id IN ({marks})", tuple(document_ids)
    )
    return {r[0] for r in rows}


def get_chunk(conn: Connection, chunk_id: int) -> Any:
    return conn.execute(
        f"""SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.id = ? AND d.state = 'ready'""",
        (chunk_id,),
    ).fetchone()


def neighbour_ids(conn: Connection, document_id: int, ordinal: int) -> tuple[int | None, int | None]:
    prev = conn.execute(
        "SELECT id FROM chunks WHERE document_id = ? AND ordinal < ? ORDER BY ordinal DESC LIMIT 1",
        (document_id, ordinal),
    ).fetchone()
    nxt = conn.execute(
        "SELECT id FROM chunks WHERE document_id = ? AND ordinal > ? ORDER BY ordinal LIMIT 1",
        (document_id, ordinal),
    ).fetchone()
    return (prev[0] if prev else None, nxt[0] if nxt else None)


def chunk_range(conn: Connection, document_id: int) -> tuple[int | None, int | None]:
    row = conn.execute("SELECT min(id), max(id) FROM chunks WHERE document_id = ?", (document_id,)).fetchone()
    return row[0], row[1]


def totals(conn: Connection) -> dict[str, int]:
    documents = conn.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM documents WHERE state = 'ready'")
    count, size = documents.fetchone()
    chunks = conn.execute(
        "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.state = 'ready'"
    ).fetchone()[0]
    loading = conn.execute("SELECT count(*) FROM documents WHERE state = 'loading'").fetchone()[0]
    return {"documents": count, "bytes": size, "chunks": chunks, "loading": loading}


# -- incremental reloads: chunk rows whose text did not change are kept, not re-inserted ----------

ChunkMove = tuple[int, str, str, int, int, int | None, int | None, int]
# (ordinal, context, section, start_line, end_line, start_row, end_row, chunk id)


def chunk_ids_by_hash(conn: Connection, document_ids: Sequence[int]) -> Iterator[tuple[int, str]]:
    """(id, content_hash) of every chunk of these documents, in document order."""
    for document_id in document_ids:
        yield from conn.execute(
            "SELECT id, content_hash FROM chunks WHERE document_id = ? ORDER BY ordinal", (document_id,)
        )


def adopt_chunks(conn: Connection, document_id: int, moves: Sequence[ChunkMove]) -> int:
    """Move kept chunk rows into `document_id` at their new place; returns how many rows moved.
    Their FTS entries and vectors stay: only the text is indexed, and it did not change."""
    if not moves:
        return 0
    cursor = conn.executemany(
        """UPDATE chunks SET document_id = ?, ordinal = ?, context = ?, section = ?, start_line = ?,
                  end_line = ?, start_row = ?, end_row = ? WHERE id = ?""",
        ((document_id, *move) for move in moves),
    )
    return int(cursor.rowcount)  # summed over the statements, trigger changes not included
