"""Where documents and chunks differ on Postgres: ids from the identity sequences, and chunks written
with COPY (a trigger sets their tsvector and token count and keeps the term statistics, schema.sql)."""

from collections.abc import Sequence

from ..rows import NewChunk
from .adapter import PgConnection

CHUNK_COLUMNS = (
    "id, document_id, ordinal, text, context, section, content_hash, start_line, end_line, start_row, end_row"
)


def next_id(conn: PgConnection, table: str) -> int:
    """A new id of `table` from its identity sequence (never handed out twice, even after deletes)."""
    row = conn.pg.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", (table,)).fetchone()
    return int(row[0])


def insert_chunks(conn: PgConnection, document_id: int, rows: Sequence[NewChunk]) -> None:
    """The chunks of one batch with ids drawn from the sequence, and their place in the embed queue."""
    if not rows:
        return
    ids = [
        int(r[0])
        for r in conn.pg.execute(
            "SELECT nextval(pg_get_serial_sequence('chunks', 'id')) FROM generate_series(1, %s)", (len(rows),)
        ).fetchall()
    ]
    with conn.pg.cursor() as cur, cur.copy(f"COPY chunks ({CHUNK_COLUMNS}) FROM STDIN") as copy:
        for chunk_id, r in zip(ids, rows, strict=True):
            copy.write_row(
                (chunk_id, document_id, r.ordinal, r.text, r.context, r.section, r.content_hash,
                 r.start_line, r.end_line, r.start_row, r.end_row)
            )  # fmt: skip
    conn.pg.execute(
        "INSERT INTO embed_queue (chunk_id) SELECT unnest(%s::bigint[]) ON CONFLICT DO NOTHING", (ids,)
    )
