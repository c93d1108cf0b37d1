"""Lexical search on PostgreSQL: BM25 exactly as SQLite's FTS5 computes it, from stored statistics.

`ts_rank` is not BM25 (it ignores document frequency). Here the score is fts5Bm25Function's: for each
query word, idf = ln((N - n + 0.5) / (n + 0.5)) (1e-6 when that is not positive), times
tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl)), k1 = 1.2, b = 0.75; N, n and the tokens behind
avgdl count every chunk of the index (staging rows too, as FTS5 counts them). They are read from
`term_stats` and `chunk_totals` (schema.sql, search section), which the chunk triggers write in the
same transaction as the chunks, so a search's snapshot never mixes two versions.

Only the chunks that can reach the top k are scored (MaxScore): the rarest words' chunks first, which
gives a k-th best score; every word whose bound (idf * (k1 + 1), summed from the commonest up) stays
below it cannot lift a chunk holding only such words into the top k, so only the chunks holding one
of the other words are scored too. Each scored chunk counts all query words, so ids, order and
scores are those of scoring every matching chunk. Scoped by document inside the query.
"""

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..rows import ChunkText
from .adapter import PgConnection, native

K1 = 1.2  # fts5Bm25Function's constants
B = 0.75
MIN_IDF = 1e-6
BOUND_SLACK = 1e-9  # relative: float rounding never decides that a word cannot matter
SNIPPET_WORDS = 24
WORD_CHAR = re.compile(r"\w")
QUOTED = re.compile(r'"((?:[^"]|"")*)"')  # a word of an FTS5 query as search/lexical.py quotes it

_TERMS = """
WITH q AS (
    SELECT w.n, u.lexeme FROM unnest(%s::text[]) WITH ORDINALITY w(word, n)
    CROSS JOIN LATERAL unnest(tsvector_to_array(rlm_fts_document(w.word))) u(lexeme)
), s AS (
    SELECT lexeme, sum(df) AS df FROM term_stats WHERE lexeme IN (SELECT lexeme FROM q) GROUP BY lexeme
)
SELECT q.lexeme, coalesce(s.df, 0)::bigint, t.chunks, t.tokens
FROM q LEFT JOIN s USING (lexeme)
CROSS JOIN (SELECT coalesce(sum(chunks), 0)::bigint AS chunks, coalesce(sum(tokens), 0)::bigint AS tokens
            FROM chunk_totals) t
ORDER BY q.n
"""

_SCORE = """
SELECT c.id, sum(w.weight * (f.tf * %(k1p)s) / (f.tf + %(k1)s * (1 - %(b)s + %(b)s * c.tokens / %(avgdl)s)))
       AS score
FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
CROSS JOIN LATERAL (
    SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS tf
    FROM unnest(ts_filter(setweight(c.tsv, 'A', %(lexemes)s::text[]), '{{a}}')) u
) f
JOIN unnest(%(lexemes)s::text[], %(weights)s::float8[]) w(lexeme, weight) ON w.lexeme = f.lexeme
WHERE c.tsv @@ %(match)s::tsquery {exclude} {scope}
GROUP BY c.id
ORDER BY score DESC, c.id
LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class Term:
    lexeme: str
    weight: float  # the idf of every query word that became this lexeme, summed (FTS5 counts each)
    df: int


@dataclass(frozen=True, slots=True)
class Terms:
    terms: tuple[Term, ...]  # lexemes found in some chunk, highest weight first
    avgdl: float


def words_of(match: str) -> list[str]:
    """The words of an FTS5 query made by search/lexical.fts_query (each quoted)."""
    return [w.replace('""', '"') for w in QUOTED.findall(match)]


def idf(total_rows: int, hits: int) -> float:
    value = math.log((total_rows - hits + 0.5) / (hits + 0.5))
    return MIN_IDF if value <= 0.0 else value


def tsquery(lexemes: Sequence[str]) -> str:
    """The OR of `lexemes` as tsquery text (each quoted: never read as operators)."""
    return " | ".join("'" + lex.replace("\\", "\\\\").replace("'", "''") + "'" for lex in lexemes)


def query_terms(conn: PgConnection, words: Sequence[str]) -> Terms | None:
    """The query's lexemes with their BM25 weights, or None when no chunk holds any of them."""
    rows = native(conn).execute(_TERMS, (list(words),)).fetchall()
    if not rows or int(rows[0][2]) <= 0:
        return None
    total, tokens = int(rows[0][2]), int(rows[0][3])
    weights: dict[str, float] = {}
    frequencies: dict[str, int] = {}
    for lexeme, df, _chunks, _tokens in rows:
        if int(df) > 0:
            weights[lexeme] = weights.get(lexeme, 0.0) + idf(total, int(df))
            frequencies[lexeme] = int(df)
    if not weights:
        return None
    order = sorted(weights, key=lambda lex: (-weights[lex], frequencies[lex], lex))
    return Terms(tuple(Term(lex, weights[lex], frequencies[lex]) for lex in order), tokens / total)


def _score(
    conn: PgConnection,
    terms: Terms,
    match: Sequence[str],
    exclude: Sequence[str],
    document_ids: Sequence[int] | None,
    limit: int,
) -> list[tuple[int, float]]:
    """The best `limit` ready chunks holding one of `match` and none of `exclude`, scored on all terms."""
    scope = "AND c.document_id = ANY(%(docs)s)" if document_ids is not None else ""
    params = {
        "k1": K1,
        "k1p": K1 + 1.0,
        "b": B,
        "avgdl": terms.avgdl,
        "lexemes": [t.lexeme for t in terms.terms],
        "weights": [t.weight for t in terms.terms],
        "match": tsquery(match),
        "exclude": tsquery(exclude),
        "docs": list(document_ids or []),
        "limit": limit,
    }
    text = _SCORE.format(exclude="AND NOT c.tsv @@ %(exclude)s::tsquery" if exclude else "", scope=scope)
    return [(int(i), float(s)) for i, s in native(conn).execute(text, params).fetchall()]


def bm25_candidates(
    conn: PgConnection, match: str, document_ids: Sequence[int] | None, limit: int
) -> list[tuple[int, float]]:
    """(chunk_id, score) of the best `limit` ready chunks in the scope for `match`, best first."""
    terms = query_terms(conn, words_of(match))
    if terms is None or limit <= 0:
        return []
    ordered = [t.lexeme for t in terms.terms]
    first, reach = 0, 0
    while first < len(ordered) and reach < limit:  # the rarest words whose chunks may fill the k
        reach += terms.terms[first].df
        first += 1
    best = _score(conn, terms, ordered[:first], (), document_ids, limit)
    if first == len(ordered):
        return best
    threshold = best[limit - 1][1] if len(best) >= limit else 0.0
    bound, essential = 0.0, len(ordered)
    for term in reversed(terms.terms):  # the commonest words while they cannot reach the threshold
        bound += term.weight * (K1 + 1.0)
        if bound * (1.0 + BOUND_SLACK) >= threshold:
            break
        essential -= 1
    if essential <= first:
        return best
    more = _score(conn, terms, ordered[first:essential], ordered[:first], document_ids, limit)
    return sorted(best + more, key=lambda hit: (-hit[1], hit[0]))[:limit]


def _lexemes(conn: PgConnection, match: str) -> list[str]:
    rows = (
        native(conn)
        .execute(
            "SELECT DISTINCT u.lexeme FROM unnest(%s::text[]) w(word), "
            "unnest(tsvector_to_array(rlm_fts_document(w.word))) u(lexeme)",
            (words_of(match),),
        )
        .fetchall()
    )
    return sorted(str(r[0]) for r in rows)


def bm25_count(conn: PgConnection, match: str, document_ids: Sequence[int] | None, cap: int) -> int:
    """Ready chunks in the scope holding a word of `match`, counted up to `cap`."""
    lexemes = _lexemes(conn, match)
    if not lexemes:
        return 0
    scope = "AND c.document_id = ANY(%s)" if document_ids is not None else ""
    params: list[object] = [tsquery(lexemes)]
    if document_ids is not None:
        params.append(list(document_ids))
    row = (
        native(conn)
        .execute(
            f"""SELECT count(*) FROM (SELECT 1 FROM chunks c
                JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
                WHERE c.tsv @@ %s::tsquery {scope} LIMIT %s) x""",
            (*params, cap),
        )
        .fetchone()
    )
    return int(row[0])


def matches_at_least(conn: PgConnection, match: str, cap: int) -> bool:
    """Whether `match` finds `cap` chunks or more (every chunk of the index, as FTS5's doclist).
    One word: its stored document frequency; several: the index, read no further than `cap`."""
    lexemes = _lexemes(conn, match)
    if not lexemes:
        return False
    if len(lexemes) == 1:
        row = (
            native(conn)
            .execute("SELECT coalesce(sum(df), 0) FROM term_stats WHERE lexeme = %s", (lexemes[0],))
            .fetchone()
        )
        return int(row[0]) >= cap
    row = (
        native(conn)
        .execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunks WHERE tsv @@ %s::tsquery LIMIT %s) x",
            (tsquery(lexemes), cap),
        )
        .fetchone()
    )
    return int(row[0]) >= cap


def bm25_snippets(conn: PgConnection, match: str, chunk_ids: Sequence[int]) -> dict[int, str]:
    """About SNIPPET_WORDS words around the matched ones, marked «…» (FTS5's snippet(), by ts_headline),
    with … where the text goes on."""
    lexemes = _lexemes(conn, match)
    if not chunk_ids or not lexemes:
        return {}
    options = (
        f"StartSel=«, StopSel=», MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, MaxFragments=1"
    )
    sql = "SELECT id, text, ts_headline('rlm_english', text, %s::tsquery, %s) FROM chunks WHERE id = ANY(%s)"
    rows = native(conn).execute(sql, (tsquery(lexemes), options, list(chunk_ids))).fetchall()
    out: dict[int, str] = {}
    for chunk_id, text, snippet in rows:
        marked = str(snippet).strip()
        plain = marked.replace("«", "").replace("»", "")
        at = str(text).find(plain)
        before, after = (str(text)[:at], str(text)[at + len(plain) :]) if at >= 0 else ("x", "x")
        # where the text goes on, as FTS5's snippet() shows it: an ellipsis; mere punctuation: itself
        lead = "…" if WORD_CHAR.search(before) else before.lstrip()
        tail = "…" if WORD_CHAR.search(after) else after.rstrip()
        out[int(chunk_id)] = f"{lead}{marked}{tail}"
    return out


def scan_chunks(
    conn: PgConnection, document_ids: Sequence[int] | None, batch: int = 500
) -> Iterator[ChunkText]:
    """Every ready chunk in the scope, in document order, streamed through a server-side cursor (a
    client cursor would hold every chunk's text in memory before the first one is matched)."""
    pg = native(conn)
    scope = "AND c.document_id = ANY(%s)" if document_ids else ""
    with pg.transaction(), pg.cursor(name="rlm_scan_chunks") as cursor:
        cursor.itersize = batch
        cursor.execute(
            f"""SELECT c.id, c.document_id, c.text, c.start_line, c.end_line, c.section, d.name
                FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
                WHERE true {scope} ORDER BY c.document_id, c.ordinal""",
            [list(document_ids)] if document_ids else [],
        )
        for r in cursor:
            yield ChunkText(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6])
