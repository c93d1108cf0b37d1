"""Per-record labels in the store (migration 0006): typed rows in, typed rows out, one per dimension."""

import pytest

from rlm_mcp.store import Store
from rlm_mcp.store import labels as labels_db
from rlm_mcp.store.labels import LabelRow


def _job(store: Store) -> tuple[int, int]:
    with store.write() as conn:
        job = conn.execute(
            "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at)"
            " VALUES ('q', '{}', 6000, 300, 3, 1, 0)"
        ).lastrowid
        task = conn.execute(
            "INSERT INTO tasks (job_id, ordinal, analyst, tokens) VALUES (?, 0, 'rlm-data-analyst', 10)",
            (job,),
        ).lastrowid
    return int(job), int(task)


def test_labels_round_trip_as_typed_rows_and_a_repeat_replaces(store: Store) -> None:
    job, task = _job(store)
    rows = [
        LabelRow(job, task, 3, record, "sentiment", "pos" if record % 3 else "neg")
        for record in range(1, 7001)
    ]
    with store.write() as conn:
        assert labels_db.insert_labels(conn, rows) == 7000
        labels_db.insert_labels(conn, [LabelRow(job, task, 3, 1, "sentiment", "mixed")])
    with store.read() as conn:
        got = list(labels_db.label_rows(conn, document_ids=[3]))
        assert labels_db.count_labels(conn, job) == 7000
    assert len(got) == 7000 and got[0] == LabelRow(job, task, 3, 1, "sentiment", "mixed")
    assert sum(r.value == "neg" for r in got) == sum(1 for n in range(1, 7001) if n % 3 == 0)
    with store.read() as conn:
        assert list(labels_db.label_rows(conn, document_ids=[4])) == []
        assert len(list(labels_db.label_rows(conn, job_ids=[job], task_ids=[task]))) == 7000


def test_deleting_a_job_deletes_its_labels_and_a_task_can_start_clean(store: Store) -> None:
    job, task = _job(store)
    with store.write() as conn:
        labels_db.insert_labels(conn, [LabelRow(job, task, 1, 5, "cause", "auth")])
        labels_db.insert_labels(conn, [LabelRow(job, task, 1, 6, "cause", "network")])
        assert labels_db.delete_task_labels(conn, task) == 2
        labels_db.insert_labels(conn, [LabelRow(job, task, 1, 5, "cause", "auth")])
        conn.execute("DELETE FROM jobs WHERE id = ?", (job,))
    with store.read() as conn:
        assert labels_db.count_labels(conn) == 0


def test_a_label_for_an_unknown_job_is_refused(store: Store) -> None:
    import sqlean

    with pytest.raises(sqlean.IntegrityError), store.write() as conn:
        labels_db.insert_labels(conn, [LabelRow(999, None, 1, 1, "cause", "auth")])
