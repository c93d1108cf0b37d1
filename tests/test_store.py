"""The store: one connection factory, migrations, pragmas, sqlite-vec, concurrent openers."""

import threading
from pathlib import Path

from rlm_mcp.store import open_store
from rlm_mcp.store.connection import _migrations


def test_new_store_applies_every_migration_and_uses_wal(tmp_path: Path) -> None:
    store = open_store(tmp_path / "deep" / "dir" / "rlm.db")
    conn = store.conn()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == _migrations()[-1][0]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("SELECT vec_version()").fetchone()[0].startswith("v")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"documents", "chunks", "chunks_fts"} <= tables
    store.close()


def test_reopening_a_store_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "rlm.db"
    store = open_store(path)
    with store.write() as conn:
        conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at)"
            " VALUES ('a', '/a', 'text', 1, 'h', 0)"
        )
    store.close()
    again = open_store(path)
    assert again.conn().execute("SELECT name FROM documents").fetchall()[0][0] == "a"
    again.close()


def test_failed_write_transaction_rolls_back(tmp_path: Path) -> None:
    store = open_store(tmp_path / "rlm.db")
    try:
        with store.write() as conn:
            conn.execute(
                "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at)"
                " VALUES ('a', '/a', 'text', 1, 'h', 0)"
            )
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert store.conn().execute("SELECT count(*) FROM documents").fetchone()[0] == 0
    store.close()


def test_threads_opening_the_same_new_store_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "rlm.db"
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_store(path).close()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = open_store(path)
    assert store.conn().execute("PRAGMA user_version").fetchone()[0] == _migrations()[-1][0]
    store.close()
