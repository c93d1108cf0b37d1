"""The BM25 index a load writes: its FTS5 settings change how it is stored, never what it scores."""

from pathlib import Path

import sqlean as sqlite3

from rlm_mcp.config import Settings
from rlm_mcp.loading.batches import FIRST_BATCH_CHUNKS
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store

QUERIES = ("harbour", "lantern tide", "customer 17", "shipped OR returned", "night")


def _files(project: Path) -> None:
    words = ["harbour", "lantern", "tide", "night", "rope", "gull", "salt", "keel"]
    for book in range(3):
        paragraphs = [
            " ".join(words[(book + p + k) % len(words)] + f" w{(p * k) % 97}" for k in range(40))
            for p in range(900)
        ]
        (project / f"book{book}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    rows = [f"{i},customer {i % 50},{'shipped' if i % 3 else 'returned'},{i * 7 % 1000}" for i in range(6000)]
    (project / "orders.csv").write_text("id,name,state,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")


def _bare_scores(texts: list[tuple[int, str]], query: str) -> list[tuple[int, float]]:
    """The same rows in a bare FTS5 table with every setting at its default, one insert each."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize = 'porter unicode61')")
    conn.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)", texts)
    rows = conn.execute(
        "SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ? ORDER BY bm25(fts), rowid", (query,)
    )
    return [(int(r[0]), float(r[1])) for r in rows]


def test_a_load_in_many_batches_scores_every_query_as_a_bare_fts5_table_does(
    project: Path, settings: Settings, store: Store
) -> None:
    _files(project)
    result = load_document(store, settings, ".")
    assert len(result.documents) == 4 and sum(d.chunks for d in result.documents) > 4 * FIRST_BATCH_CHUNKS
    conn = store.conn()
    config = dict(conn.execute("SELECT k, v FROM chunks_fts_config").fetchall())
    assert config["hashsize"] == 64 << 20
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    texts = [(int(r[0]), str(r[1])) for r in conn.execute("SELECT id, text FROM chunks ORDER BY id")]
    for query in QUERIES:
        ours = conn.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts), rowid",
            (query,),
        ).fetchall()
        expected = _bare_scores(texts, query)
        assert expected, query
        assert [(int(r[0]), float(r[1])) for r in ours] == expected, query
