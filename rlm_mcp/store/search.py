"""Search queries: FTS5 BM25 and a chunk scan for regex, both scoped by document inside the SQL."""

from collections.abc import Iterator, Sequence

from .connection import Connection
from .rows import ChunkText
from .sql import placeholders
from .sql import scope as _scope

SNIPPET_TOKENS = 24


def bm25_count(conn: Connection, match: str, document_ids: Sequence[int] | None, cap: int) -> int:
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
    """Snippets around the matched words, for a page of hits only (snippet() costs per row)."""
    if not chunk_ids:
        return {}
    rows = conn.execute(
        f"""SELECT rowid, snippet(chunks_fts, 0, '«', '»', '…', {SNIPPET_TOKENS}) FROM chunks_fts
            WHERE chunks_fts MATCH ? AND rowid IN ({placeholders(len(chunk_ids))})""",
        (match, *chunk_ids),
    )
    return {int(r[0]): str(r[1]) for r in rows}


def matches_at_least(conn: Connection, match: str, cap: int) -> bool:
    """Whether `match` finds `cap` chunks or more; stops reading the doclist at `cap` (no ranking)."""
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
