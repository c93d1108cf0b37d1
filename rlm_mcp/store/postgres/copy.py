"""`rlm-mcp migrate --to postgresql://…`: a SQLite store's rows copied into a project's schema.

Rows keep their ids (findings cite c1042 and t17), so a copy is re-runnable: rows already there are
left alone (ON CONFLICT DO NOTHING), and after every table the copy checks that each SQLite row is
in Postgres — a count that does not match stops the copy with the table's name. The SQLite side is
read in one snapshot, so the tables agree with each other even while the store is in use. Columnar
copy files go into the database with their rows (where a team's copies live, postgres/copies.py).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import Conflict, NotFound
from ...hashing import hash_file
from ..connection import Connection
from ..connection import connect as sqlite_connect
from . import copies as pg_copies
from .adapter import native
from .connection import PgStore

PgConnection = Any  # the psycopg connection (native SQL) of the target

# Parents before children (foreign keys); each with the key that identifies a row.
TABLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("documents", ("id",)),
    ("chunks", ("id",)),
    ("jobs", ("id",)),
    ("tasks", ("id",)),
    ("task_chunks", ("task_id", "position")),
    ("task_records", ("task_id",)),
    ("findings", ("id",)),
    ("labels", ("job_id", "document_id", "record", "dimension")),
    ("embeddings", ("content_hash", "model")),
    ("embed_queue", ("chunk_id",)),
    ("vector_meta", ("key",)),
    ("data_copies", ("document_id",)),
)
BATCH_ROWS = 2000
IDENTITY_TABLES = ("documents", "chunks", "jobs", "tasks", "findings")
DATA_DIRNAME = "data"  # the SQLite store's copy files: <store dir>/data/ (rlm_mcp/data/files.py)


@dataclass(frozen=True, slots=True)
class CopiedTable:
    """One table's copy: rows in SQLite, rows this run inserted, rows found in Postgres afterwards."""

    table: str
    source: int
    inserted: int
    present: int


def _sqlite_columns(conn: Connection, table: str) -> list[str]:
    return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]


def _pg_columns(pg: PgConnection, table: str) -> set[str]:
    rows = pg.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s AND is_generated = 'NEVER'",
        (table,),
    ).fetchall()
    return {str(r[0]) for r in rows}


def copy_table(conn: Connection, pg: PgConnection, table: str, key: tuple[str, ...]) -> CopiedTable:
    """Copy one table in batches; the caller holds the Postgres transaction."""
    wanted = _pg_columns(pg, table)
    have = _sqlite_columns(conn, table)
    if missing := [c for c in have if c not in wanted]:
        # Trigger: a SQLite migration added a column the Postgres schema lacks. Why: copying the rest
        # would drop data silently. Outcome: the copy stops, naming the columns.
        raise Conflict(
            f"migrate: the PostgreSQL schema has no column {', '.join(missing)} of {table}; this version "
            "of rlm-mcp cannot copy this store yet (nothing was copied)."
        )
    columns = have
    names = ", ".join(columns)
    insert = (
        f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING"
    )
    key_at = [columns.index(k) for k in key]
    source = inserted = present = 0
    cursor = conn.execute(f"SELECT {names} FROM {table} ORDER BY {', '.join(key)}")
    while batch := cursor.fetchmany(BATCH_ROWS):
        rows = [tuple(r) for r in batch]
        with pg.cursor() as cur:
            cur.executemany(insert, rows)
            inserted += max(cur.rowcount, 0)
        source += len(rows)
        present += _present(pg, table, key, [tuple(r[i] for i in key_at) for r in rows])
    if present != source:
        raise Conflict(
            f"migrate: {table} has {source} rows in SQLite but only {present} of them are in PostgreSQL "
            "(a row with the same id and other content?); nothing of this run was kept — inspect the "
            "target schema, or migrate into a fresh project (RLM_PROJECT)."
        )
    return CopiedTable(table, source, inserted, present)


def _present(pg: PgConnection, table: str, key: tuple[str, ...], keys: list[tuple[Any, ...]]) -> int:
    types = dict(
        pg.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        ).fetchall()
    )
    arrays = ", ".join(f"%s::{types[k]}[]" for k in key)
    row = pg.execute(
        f"SELECT count(*) FROM {table} WHERE ({', '.join(key)}) IN (SELECT * FROM unnest({arrays}))",
        [[k[i] for k in keys] for i in range(len(key))],
    )
    return int(row.fetchone()[0])


def copy_vectors(conn: Connection, pg: PgConnection) -> CopiedTable:
    """sqlite-vec's vectors into pgvector (as text, which both sides read exactly for float32)."""
    source = inserted = present = 0
    cursor = conn.execute(
        "SELECT chunk_id, document_id, vec_to_json(embedding) FROM chunks_vec ORDER BY chunk_id"
    )
    while batch := cursor.fetchmany(BATCH_ROWS):
        with pg.cursor() as cur:
            cur.executemany(
                "INSERT INTO chunks_vec (chunk_id, document_id, embedding) VALUES (%s, %s, %s::vector) "
                "ON CONFLICT DO NOTHING",
                [tuple(r) for r in batch],
            )
            inserted += max(cur.rowcount, 0)
        source += len(batch)
        present += _present(pg, "chunks_vec", ("chunk_id",), [(r[0],) for r in batch])
    if present != source:
        raise Conflict(
            f"migrate: chunks_vec has {source} rows in SQLite but {present} of them in PostgreSQL."
        )
    return CopiedTable("chunks_vec", source, inserted, present)


def copy_files(conn: Connection, pg: PgConnection, directory: Path) -> CopiedTable:
    """The columnar copy files the SQLite store's data_copies rows name, into copy_parts (with their
    sha256 and size on the row); a row already holding its bytes is left alone."""
    source = inserted = 0
    for document_id, file in conn.execute("SELECT document_id, file FROM data_copies ORDER BY document_id"):
        source += 1
        stored = pg.execute("SELECT sha256 FROM data_copies WHERE file = %s", (file,)).fetchone()
        if stored is not None and stored[0] is not None:
            continue
        path = directory / str(file)
        if not path.is_file():
            # Trigger: a copy file the SQLite store names is gone. Why: the team would get a row whose
            # query fails. Outcome: nothing is copied; the message says how to remake the copy.
            raise Conflict(
                f"migrate: the columnar copy of d{document_id} ({path}) is missing; load_document that "
                f"file again (or remove_document d{document_id}) in the SQLite store, then migrate again "
                "(nothing was copied)."
            )
        found = hash_file(path)
        pg.execute(
            "UPDATE data_copies SET sha256 = %s, size = %s WHERE file = %s", (found.sha256, found.size, file)
        )
        pg_copies.put_native(pg, str(file), pg_copies.file_parts(path))
        inserted += 1
    present = int(pg.execute("SELECT count(*) FROM data_copies WHERE sha256 IS NOT NULL").fetchone()[0])
    return CopiedTable("copy_files", source, inserted, min(present, source))


def advance_identities(pg: PgConnection, high_water: dict[str, int]) -> None:
    """New rows made on Postgres start above the copied ids, and above every id SQLite ever handed out
    (its id_high_water: the ids of removed documents are never given again)."""
    for table in IDENTITY_TABLES:
        pg.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"greatest((SELECT coalesce(max(id), 0) FROM {table}), %s, 1))",
            (high_water.get(table, 0),),
        )


def _high_water(conn: Connection) -> dict[str, int]:
    return {str(r[0]): int(r[1]) for r in conn.execute("SELECT name, last_id FROM id_high_water")}


def migrate_sqlite(sqlite_path: Path, dsn: str, project: str) -> list[CopiedTable]:
    """Copy the SQLite store at `sqlite_path` into the project's schema on `dsn`, in one Postgres
    transaction (all or nothing) from one SQLite snapshot, checking every table's count. Safe to run
    again."""
    if not sqlite_path.exists():
        raise NotFound(
            f"No SQLite store at {sqlite_path}: pass --db PATH (or RLM_DB) naming the store to copy."
        )
    source = sqlite_connect(sqlite_path)
    target = PgStore(dsn, project)
    try:
        copied = []
        source.execute("BEGIN")
        with target.write() as conn:
            pg = native(conn)
            for table, key in TABLES:
                copied.append(copy_table(source, pg, table, key))
            copied.append(copy_vectors(source, pg))
            copied.append(copy_files(source, pg, sqlite_path.parent / DATA_DIRNAME))
            advance_identities(pg, _high_water(source))
        return copied
    finally:
        target.close()
        source.close()
