"""Where the columnar copies differ on Postgres: a copy's Parquet bytes are stored in the database.

A team's members work on different machines, so no member's data folder can hold the copy the others
query. The bytes go into `copy_parts` (PART_BYTES each, in order) inside the transaction that swaps
the document in, owned by their `data_copies` row: a reload replaces the row (its old parts go by
cascade), a removal deletes it. Each machine writes what it reads into its own cache folder once
(rlm_mcp/data/files.py), checked against the row's sha256.
"""

import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..rows import CopyRow
from .adapter import PgConnection

PART_BYTES = 4 << 20


def file_parts(path: Path) -> Iterator[bytes]:
    """A file's bytes in the parts `copy_parts` stores."""
    with open(path, "rb") as handle:
        while part := handle.read(PART_BYTES):
            yield part


SELECT = "SELECT document_id, kind, file, records, columns, warnings, sha256, size FROM data_copies"


def put_copy(conn: PgConnection, copy: CopyRow) -> str | None:
    """Record `copy` for its document, replacing an earlier one (whose parts go with its row)."""
    old = conn.pg.execute(
        "DELETE FROM data_copies WHERE document_id = %s RETURNING file", (copy.document_id,)
    ).fetchone()
    conn.pg.execute(
        "INSERT INTO data_copies (document_id, kind, file, records, columns, warnings, created_at, sha256, "
        "size) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (copy.document_id, copy.kind, copy.file, copy.records,
         json.dumps([list(c) for c in copy.columns], ensure_ascii=False),
         json.dumps(list(copy.warnings), ensure_ascii=False), time.time(), copy.sha256, copy.size),
    )  # fmt: skip
    return str(old[0]) if old is not None and old[0] != copy.file else None


def put_bytes(conn: PgConnection, file: str, parts: Iterable[bytes]) -> int:
    """Store a copy file's bytes, part by part (its data_copies row must exist); returns the bytes."""
    return put_native(conn.pg, file, parts)


def put_native(pg: Any, file: str, parts: Iterable[bytes]) -> int:
    """put_bytes on a psycopg connection (binary COPY: no hex text of the bytes)."""
    total = 0
    with (
        pg.cursor() as cur,
        cur.copy("COPY copy_parts (file, part, bytes) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["text", "int4", "bytea"])
        for number, part in enumerate(parts):
            copy.write_row((file, number, part))
            total += len(part)
    return total


def read_bytes(conn: PgConnection, file: str) -> Iterator[bytes]:
    """A copy file's bytes, one part at a time (memory stays at one part whatever the file's size)."""
    number = 0
    with conn.pg.cursor(binary=True) as cur:
        while True:
            row = cur.execute(
                "SELECT bytes FROM copy_parts WHERE file = %s AND part = %s", (file, number)
            ).fetchone()
            if row is None:
                return
            yield bytes(row[0])
            number += 1


def stored_bytes(conn: PgConnection) -> tuple[int, int]:
    """(files, bytes) of every copy stored in the database."""
    row = conn.pg.execute(
        "SELECT count(DISTINCT file), coalesce(sum(length(bytes)), 0) FROM copy_parts"
    ).fetchone()
    return int(row[0]), int(row[1])


def in_transaction(conn: PgConnection) -> bool:
    from psycopg.pq import TransactionStatus

    return bool(conn.pg.info.transaction_status != TransactionStatus.IDLE)


@contextmanager
def reading(store: Any) -> Iterator[PgConnection]:
    """Where a copy's bytes are read: inside the transaction this thread already has open (a claim
    reads its task's records within it, so it sees the row it read), else a snapshot of its own."""
    conn: PgConnection = store.conn()
    if in_transaction(conn):
        yield conn
        return
    with store.read() as snapshot:
        yield snapshot
