"""A team on one PostgreSQL schema, each member with a local folder of their own: every member's
query_data (and a projected job's record reads) sees the copy one member loaded, a reload by one is
what the others read next, a removal takes the copy away for all, and bytes that do not match their
sha256 are refused. Against the real server the tests start (skipped without the postgres extra)."""

import itertools
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rlm_mcp import data
from rlm_mcp.config import Settings, load_settings
from rlm_mcp.data import files as data_files
from rlm_mcp.documents.reading import remove_document
from rlm_mcp.errors import NotFound
from rlm_mcp.hashing import hash_file
from rlm_mcp.loading import load_document
from rlm_mcp.store import Store, open_backend
from rlm_mcp.store import copies as copies_db
from rlm_mcp.store import labels as labels_db

from .conftest import project_env

STATUSES = ("open", "closed", "pending")
_teams = itertools.count(1)


class Member:
    """One member of the team: a project folder of their own, the team's schema."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        folder.mkdir()
        self.folder = folder
        self.env = project_env(folder, **env)
        self.settings: Settings = load_settings(self.env)
        self.store: Store = open_backend(
            self.settings.db_path, self.settings.db_url, self.settings.project_key
        )
        self.copy = data.open_copy(self.settings, self.store)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        return list(data.query(self.copy, sql, limit=1000).rows)

    def cached(self) -> list[str]:
        return sorted(p.name for p in self.copy.directory.glob("*.parquet*"))


@pytest.fixture
def team(pg_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Member, Member]]:
    monkeypatch.setattr(data_files, "CACHE_GRACE_SECONDS", 0.0)  # no other process reads these caches
    env = {"RLM_DB": pg_server, "RLM_PROJECT": f"team{os.getpid()}_{next(_teams)}"}
    alice, bob = Member(tmp_path / "alice", env), Member(tmp_path / "bob", env)
    yield alice, bob
    alice.store.close()
    bob.store.close()


def _orders(n: int, seed: int) -> list[tuple[int, str, Decimal]]:
    import random

    rng = random.Random(seed)
    return [(i, rng.choice(STATUSES), Decimal(rng.randint(0, 99_999)) / 100) for i in range(1, n + 1)]


def _write(member: Member, orders: list[tuple[int, str, Decimal]]) -> None:
    text = "id,status,amount\n" + "".join(f"{i},{s},{a:.2f}\n" for i, s, a in orders)
    (member.folder / "orders.csv").write_text(text, encoding="utf-8")


def _truth(orders: list[tuple[int, str, Decimal]]) -> list[tuple[object, ...]]:
    counts = Counter(s for _, s, _ in orders)
    sums = {s: sum((a for _, t, a in orders if t == s), Decimal(0)) for s in counts}
    return [(s, counts[s], sums[s]) for s in sorted(counts)]


TOTALS = "SELECT status, count(*), sum(amount) FROM d1 GROUP BY 1 ORDER BY 1"


def test_two_members_query_one_copy_and_see_each_others_reload_and_removal(
    team: tuple[Member, Member],
) -> None:
    alice, bob = team
    first = _orders(3000, seed=1)
    _write(alice, first)
    doc = load_document(alice.store, alice.settings, "orders.csv").documents[0]
    assert doc.id == 1 and bob.cached() == []
    assert bob.rows(TOTALS) == _truth(first)  # bob's machine never saw the file: the copy came from the store
    row = data.copy_info(bob.copy, 1)
    assert bob.cached() == [row.file] == alice.cached()
    cached = hash_file(bob.copy.directory / row.file)
    assert (cached.sha256, cached.size) == (row.sha256, row.size)
    picked = list(data.select_records(bob.copy, 1, ["status"], "id % 500 = 0"))  # a projected job's read
    assert picked == [(i, {"status": first[i - 1][1]}) for i in range(500, 3001, 500)]

    with alice.store.write() as conn:  # alice's analysts label the records; bob cross-tabs them
        job = conn.execute(
            "INSERT INTO jobs (query, scope, task_tokens, lease_seconds, max_attempts, chunks, created_at)"
            " VALUES ('q', '{}', 6000, 300, 3, 1, 0) RETURNING id"
        ).fetchone()[0]
        labels = [labels_db.LabelRow(job, None, 1, r, "big", str(a > 500)) for r, _, a in first]
        labels_db.insert_labels(conn, labels)
    crosstab = bob.rows(
        "SELECT d.status, l.value, count(*) FROM d1 d JOIN labels l ON l.record = d.record "
        "WHERE l.document_id = 'd1' GROUP BY ALL ORDER BY ALL"
    )
    truth = Counter((s, str(a > 500)) for _, s, a in first)
    assert crosstab == [(*k, n) for k, n in sorted(truth.items())]

    second = _orders(4500, seed=2)
    _write(alice, second)
    assert load_document(alice.store, alice.settings, "orders.csv").documents[0].status == "updated"
    assert bob.rows(TOTALS) == _truth(second)  # bob reads the new version without being told
    new = data.copy_info(bob.copy, 1)
    assert new.file != row.file and bob.cached() == [new.file]  # the replaced file left bob's cache
    assert copies_db.stored_bytes(bob.store.conn()) == (1, new.size)  # one version in the store

    remove_document(alice.store, 1)
    assert copies_db.stored_bytes(bob.store.conn()) == (0, 0)
    with pytest.raises(NotFound, match="No document d1"):
        bob.rows(TOTALS)


def test_another_process_of_another_member_reads_the_copy_through_the_cli(
    team: tuple[Member, Member],
) -> None:
    alice, bob = team
    orders = _orders(1200, seed=3)
    _write(alice, orders)
    load_document(alice.store, alice.settings, "orders.csv")
    out = subprocess.run(
        [sys.executable, "-m", "rlm_mcp", "query", TOTALS, "--json"],
        env=bob.env, cwd=bob.folder, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    answer = json.loads(out)
    assert answer["rows"] == [[s, n, float(total)] for s, n, total in _truth(orders)]
    assert bob.cached() == [data.copy_info(bob.copy, 1).file]


def test_stored_bytes_that_do_not_match_their_sha256_are_refused_and_not_cached(
    team: tuple[Member, Member],
) -> None:
    alice, bob = team
    _write(alice, _orders(500, seed=4))
    load_document(alice.store, alice.settings, "orders.csv")
    with alice.store.write() as conn:
        conn.pg.execute("UPDATE copy_parts SET bytes = overlay(bytes PLACING '\\x00'::bytea FROM 100 FOR 1)")
    with pytest.raises(data_files.CopyChanged, match="does not match its sha256"):
        bob.rows(TOTALS)
    assert bob.cached() == []  # no half or damaged file is left to be read later
    cached = alice.copy.directory / data.copy_info(alice.copy, 1).file
    cached.write_bytes(cached.read_bytes()[:-10])  # a damaged cache file is noticed by its size
    with pytest.raises(data_files.CopyChanged):
        alice.rows(TOTALS)
