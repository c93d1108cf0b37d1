"""Per-record labels: what analysts judged each record to be, one value per job, record and dimension.

Callers hold the transaction (`store.write()` / `store.read()`). Rows cross this seam as `LabelRow`.
"""

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .connection import Connection
from .postgres import labels as pg
from .postgres.adapter import is_postgres
from .sql import json_array

INSERT_BATCH = 5000


@dataclass(frozen=True, slots=True)
class LabelRow:
    job_id: int
    task_id: int | None
    document_id: int
    record: int
    dimension: str
    value: str


def insert_labels(conn: Connection, rows: Iterable[LabelRow]) -> int:
    """Store labels; a label given again for the same (job, document, record, dimension) replaces the
    earlier one. Returns how many rows were written."""
    written = 0
    batch: list[list[object]] = []
    for row in rows:
        batch.append([row.job_id, row.task_id, row.document_id, row.record, row.dimension, row.value])
        if len(batch) >= INSERT_BATCH:
            written += _insert(conn, batch)
            batch = []
    if batch:
        written += _insert(conn, batch)
    return written


def _insert(conn: Connection, batch: list[list[object]]) -> int:
    if is_postgres(conn):
        return pg.insert_labels(conn, json.dumps(batch, ensure_ascii=False))
    conn.execute(
        """INSERT INTO labels (job_id, task_id, document_id, record, dimension, value)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
           FROM json_each(?) WHERE true
           ON CONFLICT (job_id, document_id, record, dimension)
           DO UPDATE SET value = excluded.value, task_id = excluded.task_id""",
        (json.dumps(batch, ensure_ascii=False),),
    )
    return len(batch)


def label_rows(
    conn: Connection,
    job_ids: Sequence[int] | None = None,
    document_ids: Sequence[int] | None = None,
    task_ids: Sequence[int] | None = None,
) -> Iterator[LabelRow]:
    """Every label, or those of some jobs, documents or tasks, ordered by job, document, record, dimension."""
    where, params = [], []
    for column, values in (("job_id", job_ids), ("document_id", document_ids), ("task_id", task_ids)):
        if values is not None:
            where.append(f"{column} IN (SELECT value FROM json_each(?))")
            params.append(json_array(values))
    sql = "SELECT job_id, task_id, document_id, record, dimension, value FROM labels"
    if where:
        sql += " WHERE " + " AND ".join(where)
    for row in conn.execute(sql + " ORDER BY job_id, document_id, record, dimension", params):
        yield LabelRow(row[0], row[1], row[2], row[3], row[4], row[5])


def count_labels(conn: Connection, job_id: int | None = None) -> int:
    if job_id is None:
        return int(conn.execute("SELECT count(*) FROM labels").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM labels WHERE job_id = ?", (job_id,)).fetchone()[0])


def delete_task_labels(conn: Connection, task_id: int) -> int:
    """Remove the labels a task submitted (a task that is planned again starts clean)."""
    return int(conn.execute("DELETE FROM labels WHERE task_id = ?", (task_id,)).rowcount)


@dataclass(frozen=True, slots=True)
class LabelCount:
    """How many records of a job carry one value of one dimension."""

    dimension: str
    value: str
    records: int


def label_distribution(conn: Connection, job_id: int) -> list[LabelCount]:
    """Records per (dimension, value) of a job's labels, by dimension, the most frequent value first."""
    rows = conn.execute(
        "SELECT dimension, value, count(*) FROM labels WHERE job_id = ? GROUP BY dimension, value "
        "ORDER BY dimension, count(*) DESC, value",
        (job_id,),
    )
    return [LabelCount(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def labelled_documents(conn: Connection, job_id: int) -> list[int]:
    """The documents a job's labels are on."""
    rows = conn.execute("SELECT DISTINCT document_id FROM labels WHERE job_id = ? ORDER BY 1", (job_id,))
    return [int(r[0]) for r in rows]
