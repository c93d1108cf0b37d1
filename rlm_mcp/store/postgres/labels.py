"""Where labels differ on PostgreSQL: a batch inserted from a JSON array, typed for Postgres' columns.
Called by store/labels.py with the batch it would insert on SQLite.
"""

import json

from .adapter import PgConnection


def insert_labels(conn: PgConnection, batch: str) -> int:
    """A JSON batch of [job_id, task_id, document_id, record, dimension, value] labels, typed for
    Postgres' columns; a label given again for the same key replaces the earlier one (the last of a
    batch wins, as on SQLite)."""
    rows = conn.pg.execute(
        """INSERT INTO labels (job_id, task_id, document_id, record, dimension, value)
           SELECT DISTINCT ON (j, d, r, dim) j, t, d, r, dim, val FROM (
               SELECT (v ->> 0)::bigint AS j, (v ->> 1)::bigint AS t, (v ->> 2)::bigint AS d,
                      (v ->> 3)::bigint AS r, v ->> 4 AS dim, v ->> 5 AS val, n
               FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(v, n)) batch
           ORDER BY j, d, r, dim, n DESC
           ON CONFLICT (job_id, document_id, record, dimension)
           DO UPDATE SET value = excluded.value, task_id = excluded.task_id""",
        (batch,),
    )
    return len(json.loads(batch)) if rows is not None else 0
