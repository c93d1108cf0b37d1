"""Rows of `data_copies`: which Parquet file holds a document's columnar copy. Callers hold the
transaction; the files themselves are written and deleted by rlm_mcp/data/. On PostgreSQL the row
also carries the file's sha256 and size, and the file's bytes are stored with it (postgres/copies.py),
so every member of a team reads the same copy."""

import json
import time
from collections.abc import Iterable, Iterator, Sequence

from .backend import Store
from .connection import Connection
from .postgres import copies as pg
from .postgres.adapter import is_postgres
from .rows import CopyRow
from .sql import json_array

PART_BYTES = pg.PART_BYTES  # PostgreSQL: the size of the parts a copy file is stored in
file_parts = pg.file_parts  # a file's bytes in those parts


def _row(row: Sequence[object]) -> CopyRow:
    columns = tuple((str(name), str(kind)) for name, kind in json.loads(str(row[4])))
    stored = (str(row[6]), int(str(row[7]))) if len(row) > 6 and row[6] is not None else (None, None)
    return CopyRow(
        int(str(row[0])),
        str(row[1]),
        str(row[2]),
        int(str(row[3])),
        columns,
        tuple(json.loads(str(row[5]))),
        *stored,
    )


_SELECT = "SELECT document_id, kind, file, records, columns, warnings FROM data_copies"


def _select(conn: Connection) -> str:
    return pg.SELECT if is_postgres(conn) else _SELECT


def put_copy(conn: Connection, copy: CopyRow) -> str | None:
    """Record `copy` for its document, replacing an earlier one; returns the replaced file's name."""
    if is_postgres(conn):
        return pg.put_copy(conn, copy)
    old = conn.execute("SELECT file FROM data_copies WHERE document_id = ?", (copy.document_id,)).fetchone()
    conn.execute(
        """INSERT INTO data_copies (document_id, kind, file, records, columns, warnings, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (document_id) DO UPDATE SET kind = excluded.kind, file = excluded.file,
               records = excluded.records, columns = excluded.columns, warnings = excluded.warnings,
               created_at = excluded.created_at""",
        (
            copy.document_id,
            copy.kind,
            copy.file,
            copy.records,
            json.dumps([list(c) for c in copy.columns], ensure_ascii=False),
            json.dumps(list(copy.warnings), ensure_ascii=False),
            time.time(),
        ),
    )
    return str(old[0]) if old is not None and old[0] != copy.file else None


def get_copy(conn: Connection, document_id: int) -> CopyRow | None:
    """The copy of a ready document, if it has one."""
    row = conn.execute(
        _select(conn)
        + " WHERE document_id = ? AND document_id IN (SELECT id FROM documents WHERE state = 'ready')",
        (document_id,),
    ).fetchone()
    return _row(row) if row is not None else None


def list_copies(conn: Connection, document_ids: Sequence[int] | None = None) -> list[CopyRow]:
    """Copies of ready documents, by document id (all of them, or the ones asked for)."""
    sql = _select(conn) + " WHERE document_id IN (SELECT id FROM documents WHERE state = 'ready')"
    params: list[object] = []
    if document_ids is not None:
        sql += " AND document_id IN (SELECT value FROM json_each(?))"
        params.append(json_array(document_ids))
    return [_row(r) for r in conn.execute(sql + " ORDER BY document_id", params)]


def copy_file(conn: Connection, document_id: int) -> str | None:
    """The file of any document's copy (a staging document's too): what a delete must remove."""
    row = conn.execute("SELECT file FROM data_copies WHERE document_id = ?", (document_id,)).fetchone()
    return str(row[0]) if row is not None else None


def referenced_files(conn: Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT file FROM data_copies")}


def put_copy_bytes(conn: Connection, file: str, parts: Iterable[bytes]) -> int:
    """PostgreSQL: store the bytes of a copy file whose row `put_copy` wrote (same transaction)."""
    if not is_postgres(conn):
        raise TypeError("a SQLite store keeps its copy files in its data folder, not in the database")
    return pg.put_bytes(conn, file, parts)


def stored_copy_bytes(store: Store, file: str) -> Iterator[bytes]:
    """PostgreSQL: the stored bytes of a copy file, part by part (nothing when there are none), read
    in the transaction this thread has open (a claim's, which read the row), else in a snapshot."""
    with pg.reading(store) as conn:
        yield from pg.read_bytes(conn, file)


def current_files(store: Store) -> set[str]:
    """PostgreSQL: the files data_copies names now (read like `stored_copy_bytes`)."""
    with pg.reading(store) as conn:
        return referenced_files(conn)


def stored_bytes(conn: Connection) -> tuple[int, int]:
    """(files, bytes) of the copies stored in the database: (0, 0) on SQLite, which keeps them as files."""
    return pg.stored_bytes(conn) if is_postgres(conn) else (0, 0)
