"""Lexical search on PostgreSQL: Okapi BM25 (k1 = 1.2, b = 0.75, FTS5's constants) computed from the
GIN-indexed tsvector — document frequencies counted through the index at query time, chunk lengths
stored at insert — because `ts_rank` is not BM25 (it ignores document frequency). Scoped by document
inside the query, like the SQLite store."""

from collections.abc import Sequence

from .adapter import PgConnection, native

K1 = 1.2
B = 0.75

_BM25 = """
WITH terms AS (
    SELECT DISTINCT lexeme, quote_literal(lexeme)::tsquery AS query
    FROM unnest(to_tsvector('english', %(text)s))
), corpus AS (
    SELECT count(*)::float8 AS n, coalesce(avg(tokens), 1)::float8 AS avgdl FROM chunks
), weights AS (
    SELECT t.lexeme, ln(1 + (c.n - df.df + 0.5) / (df.df + 0.5)) AS idf
    FROM terms t CROSS JOIN corpus c
    CROSS JOIN LATERAL (SELECT count(*)::float8 AS df FROM chunks WHERE tsv @@ t.query) df
), matching AS (
    SELECT id, tsv, tokens FROM chunks
    WHERE tsv @@ (SELECT CASE WHEN count(*) = 0 THEN ''::tsquery
                              ELSE string_agg(query::text, ' | ')::tsquery END FROM terms)
    {scope}
)
SELECT m.id, sum(w.idf * (u.tf * (%(k1)s + 1)) /
                 (u.tf + %(k1)s * (1 - %(b)s + %(b)s * m.tokens / (SELECT avgdl FROM corpus)))) AS score
FROM matching m
CROSS JOIN LATERAL (SELECT lexeme, coalesce(array_length(positions, 1), 1) AS tf FROM unnest(m.tsv)) u
JOIN weights w ON w.lexeme = u.lexeme
GROUP BY m.id
ORDER BY score DESC, m.id
LIMIT %(limit)s
"""


def bm25_candidates(
    conn: PgConnection, text: str, document_ids: Sequence[int] | None, limit: int
) -> list[tuple[int, float]]:
    """(chunk_id, score) best first: every chunk holding one of the text's terms, BM25-ranked."""
    scope = "AND document_id = ANY(%(docs)s)" if document_ids is not None else ""
    params = {"text": text, "k1": K1, "b": B, "limit": limit, "docs": list(document_ids or [])}
    rows = native(conn).execute(_BM25.format(scope=scope), params).fetchall()
    return [(int(chunk_id), float(score)) for chunk_id, score in rows]
