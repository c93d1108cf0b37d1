"""Search queries: FTS5 BM25 and a chunk scan for regex, both scoped by document inside the SQL.
On PostgreSQL the BM25 queries are postgres/search.py's (FTS5's formula from stored term statistics).

The top-k path of search/bm25.py reads what FTS5's bm25() reads, from FTS5's own tables, inside the
caller's read transaction: the index totals (the averages record), a row's token count (the docsize
table), a phrase's row count; and it tokenizes with FTS5's own tokenizer, through a contentless temp
table declared like chunks_fts (so its tokens are chunks_fts's tokens).
"""

import json
import re
from collections.abc import Generator, Iterator, Sequence

from .connection import Connection
from .postgres import search as pg
from .postgres.adapter import is_postgres
from .rows import ChunkText, IndexTotals
from .sql import placeholders
from .sql import scope as _scope

SNIPPET_TOKENS = 24
# FTS5's %_data rows (its file format): the averages record (varints: rows, then tokens per column)
# and the structure record (the segments; it changes with every write to the index).
AVERAGES_ID = 1
STRUCTURE_ID = 10
TOKENIZE = re.compile(r"tokenize\s*=\s*'([^']*)'", re.IGNORECASE)


def bm25_count(conn: Connection, match: str, document_ids: Sequence[int] | None, cap: int) -> int:
    if is_postgres(conn):
        return pg.bm25_count(conn, match, document_ids, cap)
    scope, params = _scope(document_ids)
    row = conn.execute(
        f"""SELECT count(*) FROM (SELECT 1 FROM chunks_fts
                JOIN chunks c ON c.id = chunks_fts.rowid
                JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
                WHERE chunks_fts MATCH ?{scope} LIMIT ?)""",
        (match, *params, cap),
    ).fetchone()
    return int(row[0])


def scan_chunks(
    conn: Connection, document_ids: Sequence[int] | None, batch: int = 500
) -> Iterator[ChunkText]:
    """Every ready chunk in the scope, in document order, fetched in batches."""
    if is_postgres(conn):
        yield from pg.scan_chunks(conn, document_ids, batch)
        return
    scope, params = _scope(document_ids)
    cursor = conn.execute(
        f"""SELECT c.id, c.document_id, c.text, c.start_line, c.end_line, c.section, d.name AS document_name
            FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
            WHERE 1 = 1{scope} ORDER BY c.document_id, c.ordinal""",
        params,
    )
    while rows := cursor.fetchmany(batch):
        for r in rows:
            yield ChunkText(r[0], r[1], r[2], r[3], r[4], r[5], r[6])


def count_scope(conn: Connection, document_ids: Sequence[int] | None) -> int:
    scope, params = _scope(document_ids)
    row = conn.execute(
        f"""SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
            WHERE 1 = 1{scope}""",
        params,
    ).fetchone()
    return int(row[0])


def bm25_candidates(
    conn: Connection, match: str, document_ids: Sequence[int] | None, limit: int
) -> list[tuple[int, float]]:
    """(id, score) of the best `limit` chunks, score -bm25 (higher is better); no snippets, for fusion."""
    if is_postgres(conn):
        return pg.bm25_candidates(conn, match, document_ids, limit)
    scope, params = _scope(document_ids)
    rows = conn.execute(
        f"""SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts
            JOIN chunks c ON c.id = chunks_fts.rowid
            JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
            WHERE chunks_fts MATCH ?{scope}
            ORDER BY bm25(chunks_fts) LIMIT ?""",
        (match, *params, limit),
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]


def bm25_snippets(conn: Connection, match: str, chunk_ids: Sequence[int]) -> dict[int, str]:
    """Snippets around the matched words, for a page of hits only: FTS5's snippet() over a temp FTS5
    table that holds just these chunks' texts, tokenized like chunks_fts. snippet() reads only the
    row's text, its length and the match's instances in it, so it gives chunks_fts's snippets, while
    asking chunks_fts costs a lookup in each of its segments per phrase and row (`rowid = ?`) or
    reads every row the match finds (`rowid IN`): tens of ms at 100k chunks for a 15-word query."""
    if not chunk_ids:
        return {}
    if is_postgres(conn):
        return pg.bm25_snippets(conn, match, chunk_ids)
    _tokenizer(conn)
    conn.execute(
        f"""INSERT INTO temp.rlm_snippets (rowid, text)
            SELECT id, text FROM chunks WHERE id IN ({placeholders(len(chunk_ids))})""",
        tuple(dict.fromkeys(chunk_ids)),
    )
    try:
        rows = conn.execute(
            f"""SELECT rowid, snippet(rlm_snippets, 0, '«', '»', '…', {SNIPPET_TOKENS}) FROM temp.rlm_snippets
                WHERE rlm_snippets MATCH ?""",
            (match,),
        ).fetchall()
    finally:
        conn.execute("DELETE FROM temp.rlm_snippets")
    return {int(r[0]): str(r[1]) for r in rows}


def matches_at_least(conn: Connection, match: str, cap: int) -> bool:
    """Whether `match` finds `cap` chunks or more; stops reading the doclist at `cap` (no ranking)."""
    if is_postgres(conn):
        return pg.matches_at_least(conn, match, cap)
    row = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)", (match, cap)
    ).fetchone()
    return int(row[0]) >= cap


def hit_rows(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, ChunkText]:
    """Location and preview fields (the first 600 characters) of chunks of ready documents, by id."""
    if not chunk_ids:
        return {}
    rows = conn.execute(
        f"""SELECT c.id, c.document_id, substr(c.text, 1, 600) AS text, c.start_line, c.end_line, c.section,
                   d.name AS document_name
            FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
            WHERE c.id IN ({placeholders(len(chunk_ids))})""",
        tuple(chunk_ids),
    ).fetchall()
    return {int(r[0]): ChunkText(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


# -- what the top-k path reads (search/bm25.py) ---------------------------------------------------


def _varints(blob: bytes) -> list[int]:
    """SQLite varints (big-endian, 7 bits a byte, the 9th byte whole), as FTS5 writes them."""
    values, value, i = [], 0, 0
    while i < len(blob):
        for n in range(9):
            byte = blob[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
        value = 0
    return values


def index_totals(conn: Connection) -> IndexTotals:
    rows = dict(
        conn.execute(
            "SELECT id, block FROM chunks_fts_data WHERE id IN (?, ?)", (AVERAGES_ID, STRUCTURE_ID)
        ).fetchall()
    )
    averages = _varints(bytes(rows.get(AVERAGES_ID) or b""))
    return IndexTotals(
        averages[0] if averages else 0, sum(averages[1:]), bytes(rows.get(STRUCTURE_ID) or b"")
    )


def bm25_ranked(
    conn: Connection, match: str, document_ids: Sequence[int] | None
) -> Generator[tuple[int, float]]:
    """(id, -bm25) of every ready chunk in the scope that `match` finds, best first, read lazily."""
    scope, params = _scope(document_ids)
    cursor = conn.execute(
        f"""SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts
            JOIN chunks c ON c.id = chunks_fts.rowid
            JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
            WHERE chunks_fts MATCH ?{scope}
            ORDER BY bm25(chunks_fts)""",
        (match, *params),
    )
    try:
        while rows := cursor.fetchmany(256):
            for r in rows:
                yield int(r[0]), float(r[1])
    finally:
        cursor.close()  # a reader that stops early ends the statement (and its read lock) here


def token_counts(conn: Connection, chunk_ids: Sequence[int]) -> dict[int, int]:
    """Each chunk's length in tokens, as FTS5 stored it (the docsize table)."""
    if not chunk_ids:
        return {}
    rows = conn.execute(
        f"SELECT id, sz FROM chunks_fts_docsize WHERE id IN ({placeholders(len(chunk_ids))})",
        tuple(chunk_ids),
    )
    return {int(r[0]): sum(_varints(bytes(r[1]))) for r in rows}


def token_counts_after(conn: Connection, last_id: int) -> tuple[str, str]:
    """Every row's id and length above `last_id` (the docsize table), in id order, packed for numpy:
    the ids comma-separated, the lengths as the hex of their varints, one after the other."""
    ids, sizes = conn.execute(
        """SELECT group_concat(id), group_concat(hex(sz), '')
           FROM (SELECT id, sz FROM chunks_fts_docsize WHERE id > ? ORDER BY id)""",
        (last_id,),
    ).fetchone()
    return str(ids or ""), str(sizes or "")


def chunk_high_water(conn: Connection) -> int:
    """The highest chunk id the store ever gave (ids are never reused, 0007): it never goes down, and
    rows added to the index later all have higher ids."""
    (value,) = conn.execute(
        """SELECT max(coalesce((SELECT max(id) FROM chunks), 0),
                   coalesce((SELECT last_id FROM id_high_water WHERE name = 'chunks'), 0))"""
    ).fetchone()
    return int(value)


def rows_through(conn: Connection, last_id: int) -> int:
    """How many rows of the index have an id of `last_id` or less."""
    return int(
        conn.execute("SELECT count(*) FROM chunks_fts_docsize WHERE id <= ?", (last_id,)).fetchone()[0]
    )


def rows_at_least(conn: Connection, match: str, cap: int) -> int:
    """How many rows of the index hold `match`, counted up to `cap` (the doclist is read no further)."""
    row = conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)", (match, cap)
    ).fetchone()
    return int(row[0])


def token_rows(conn: Connection, token: str) -> int:
    """How many rows of the index hold `token` (a token of the index, not query text): fts5vocab's row
    table, which walks the token's doclist inside FTS5."""
    if not conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'rlm_index_rows'").fetchone():
        conn.execute("CREATE VIRTUAL TABLE temp.rlm_index_rows USING fts5vocab(main, chunks_fts, row)")
    row = conn.execute("SELECT doc FROM temp.rlm_index_rows WHERE term = ?", (token,)).fetchone()
    return 0 if row is None else int(row[0])


def postings(conn: Connection, token: str) -> str:
    """The row of each instance of `token` (a token of the index, not query text), comma-separated in
    id order (a row once per instance): fts5vocab's instance table, read in one string."""
    if not conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'rlm_index_vocab'").fetchone():
        conn.execute("CREATE VIRTUAL TABLE temp.rlm_index_vocab USING fts5vocab(main, chunks_fts, instance)")
    (docs,) = conn.execute(
        "SELECT group_concat(doc) FROM temp.rlm_index_vocab WHERE term = ?", (token,)
    ).fetchone()
    return str(docs or "")


def postings_above(conn: Connection, last_id: int) -> dict[str, str]:
    """`postings` of every token in the rows above `last_id` only, from their text tokenized as
    chunks_fts tokenizes it (the rows an index grew by since a version whose rows end at `last_id`)."""
    _tokenizer(conn)
    conn.execute(
        """INSERT INTO temp.rlm_tokens (rowid, text)
           SELECT id, text FROM chunks WHERE id IN (SELECT id FROM chunks_fts_docsize WHERE id > ?)""",
        (last_id,),
    )
    out = {
        str(term): str(docs)
        for term, docs in conn.execute(
            "SELECT term, group_concat(doc) FROM temp.rlm_tokens_vocab GROUP BY term ORDER BY term"
        )
    }
    conn.execute("INSERT INTO temp.rlm_tokens (rlm_tokens) VALUES ('delete-all')")
    return out


def row_frequencies(conn: Connection, chunk_ids: Sequence[int]) -> dict[str, int]:
    """How many of the chunks `chunk_ids` hold each token, tokenized as chunks_fts tokenizes them."""
    _tokenizer(conn)
    out: dict[str, int] = {}
    for start in range(0, len(chunk_ids), 500):
        part = list(chunk_ids[start : start + 500])
        conn.execute(
            f"""INSERT INTO temp.rlm_tokens (rowid, text)
                SELECT id, text FROM chunks WHERE id IN ({placeholders(len(part))})""",
            part,
        )
    for term, rows in conn.execute(
        "SELECT term, count(DISTINCT doc) FROM temp.rlm_tokens_vocab GROUP BY term"
    ):
        out[str(term)] = int(rows)
    conn.execute("INSERT INTO temp.rlm_tokens (rlm_tokens) VALUES ('delete-all')")
    return out


def chunk_ids_of(conn: Connection, document_ids: Sequence[int] | None, inside: bool) -> list[int]:
    """Ids of the chunks of ready documents in the scope (`inside`), or of every other chunk of the
    index: staging documents' chunks, and those outside the scope. Documents are few; chunks are
    read through their document index, never scanned."""
    wanted = set(document_ids or ())
    owners = [
        int(doc_id)
        for doc_id, state in conn.execute("SELECT id, state FROM documents")
        if (state == "ready" and (not wanted or doc_id in wanted)) == inside
    ]
    ids: list[int] = []
    for start in range(0, len(owners), 500):
        part = owners[start : start + 500]
        rows = conn.execute(f"SELECT id FROM chunks WHERE document_id IN ({placeholders(len(part))})", part)
        ids.extend(int(r[0]) for r in rows)
    return ids


def _tokenizer(conn: Connection) -> None:
    """The temp tables that tokenize like chunks_fts (created once per connection): a contentless one
    for tokens, and one with its text for snippets."""
    if conn.execute("SELECT 1 FROM temp.sqlite_master WHERE name = 'rlm_tokens'").fetchone():
        return
    (sql,) = conn.execute("SELECT sql FROM main.sqlite_master WHERE name = 'chunks_fts'").fetchone()
    found = TOKENIZE.search(sql)
    tokenize = f", tokenize = '{found.group(1)}'" if found else ""
    conn.execute(f"CREATE VIRTUAL TABLE temp.rlm_tokens USING fts5(text, content = ''{tokenize})")
    conn.execute(f"CREATE VIRTUAL TABLE temp.rlm_snippets USING fts5(text{tokenize})")
    conn.execute("CREATE VIRTUAL TABLE temp.rlm_tokens_vocab USING fts5vocab(temp, rlm_tokens, instance)")


def tokenize(conn: Connection, texts: Sequence[str]) -> list[list[str]]:
    """The tokens of each text, in order, as chunks_fts's tokenizer makes them."""
    _tokenizer(conn)
    conn.execute(
        "INSERT INTO temp.rlm_tokens (rowid, text) SELECT key + 1, value FROM json_each(?)",
        (json.dumps(list(texts), ensure_ascii=False),),
    )
    out: list[list[str]] = [[] for _ in texts]
    for doc, term in conn.execute("SELECT doc, term FROM temp.rlm_tokens_vocab ORDER BY doc, offset"):
        out[int(doc) - 1].append(str(term))
    conn.execute("INSERT INTO temp.rlm_tokens (rlm_tokens) VALUES ('delete-all')")
    return out


def term_frequencies(
    conn: Connection, chunk_ids: Sequence[int], terms: Sequence[str]
) -> dict[int, dict[str, int]]:
    """How often each of `terms` (tokens) occurs in each chunk, tokenized as chunks_fts tokenizes."""
    if not chunk_ids or not terms:
        return {}
    _tokenizer(conn)
    conn.execute(
        f"""INSERT INTO temp.rlm_tokens (rowid, text)
            SELECT id, text FROM chunks WHERE id IN ({placeholders(len(chunk_ids))})""",
        tuple(chunk_ids),
    )
    out: dict[int, dict[str, int]] = {}
    for doc, term, n in conn.execute(
        f"""SELECT doc, term, count(*) FROM temp.rlm_tokens_vocab WHERE term IN ({placeholders(len(terms))})
            GROUP BY doc, term""",
        tuple(terms),
    ):
        out.setdefault(int(doc), {})[str(term)] = int(n)
    conn.execute("INSERT INTO temp.rlm_tokens (rlm_tokens) VALUES ('delete-all')")
    return out
