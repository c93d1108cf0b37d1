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

import itertools
import json
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

_WORD_TOKENS = """
SELECT w.n, u.lexeme, p.pos FROM unnest(%s::text[]) WITH ORDINALITY w(word, n)
CROSS JOIN LATERAL unnest(rlm_fts_document(w.word)) u
CROSS JOIN LATERAL unnest(u.positions) p(pos)
ORDER BY w.n, p.pos
"""

_TOTALS = """
SELECT coalesce(sum(chunks), 0)::bigint, coalesce(sum(tokens), 0)::bigint FROM chunk_totals
"""

_SCORE = """
SELECT c.id, sum(f.weight * (f.tf * %(k1p)s) / (f.tf + %(k1)s * (1 - %(b)s + %(b)s * c.tokens / %(avgdl)s)))
       AS score
FROM chunks c JOIN documents d ON d.id = c.document_id AND d.state = 'ready'
CROSS JOIN LATERAL (
    SELECT w.weight, coalesce(array_length(u.positions, 1), 1)::float8 AS tf
    FROM unnest(ts_filter(setweight(c.tsv, 'A', %(lexemes)s::text[]), '{{a}}')) u
    JOIN unnest(%(lexemes)s::text[], %(weights)s::float8[]) w(lexeme, weight) ON w.lexeme = u.lexeme
    UNION ALL
    SELECT p.weight, p.tf FROM (
        SELECT (ph->>'weight')::float8 AS weight,
               rlm_phrase_tf(c.tsv, ARRAY(SELECT jsonb_array_elements_text(ph->'lexemes')),
                             ARRAY(SELECT jsonb_array_elements_text(ph->'offsets')::integer))::float8 AS tf
        FROM jsonb_array_elements(%(phrases)s::jsonb) ph) p
    WHERE p.tf > 0
) f
WHERE c.tsv @@ %(match)s::tsquery {exclude} {scope}
GROUP BY c.id
ORDER BY score DESC, c.id
LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class Part:
    """A query word as the index holds it: one lexeme, or (a word FTS5 splits, `foo_bar`) a phrase of
    lexemes at these offsets from the first, which FTS5 matches and counts as one term."""

    lexemes: tuple[str, ...]
    offsets: tuple[int, ...]

    @property
    def query(self) -> str:
        """tsquery text: the quoted lexeme, or the phrase (`'foo' <-> 'bar'`)."""
        if len(self.lexemes) == 1:
            return _quote(self.lexemes[0])
        steps = [f" <{b - a}> " for a, b in itertools.pairwise(self.offsets)]
        return "(" + "".join(s + _quote(x) for s, x in zip(["", *steps], self.lexemes, strict=True)) + ")"


@dataclass(frozen=True, slots=True)
class Term:
    part: Part
    weight: float  # the idf of every query word that became this term, summed (FTS5 counts each)
    df: int

    @property
    def lexeme(self) -> str | None:
        return self.part.lexemes[0] if len(self.part.lexemes) == 1 else None


@dataclass(frozen=True, slots=True)
class Terms:
    terms: tuple[Term, ...]  # terms found in some chunk, highest weight first
    avgdl: float


def words_of(match: str) -> list[str]:
    """The words of an FTS5 query made by search/lexical.fts_query (each quoted)."""
    return [w.replace('""', '"') for w in QUOTED.findall(match)]


def idf(total_rows: int, hits: int) -> float:
    value = math.log((total_rows - hits + 0.5) / (hits + 0.5))
    return MIN_IDF if value <= 0.0 else value


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsquery(parts: Sequence[Part]) -> str:
    """The OR of `parts` as tsquery text (each lexeme quoted: never read as operators)."""
    return " | ".join(p.query for p in parts)


def query_parts(conn: PgConnection, words: Sequence[str]) -> list[Part]:
    """Each word's lexemes in order, one part per word (a word without a lexeme is dropped)."""
    tokens: dict[int, list[tuple[str, int]]] = {}
    for n, lexeme, position in native(conn).execute(_WORD_TOKENS, (list(words),)).fetchall():
        tokens.setdefault(int(n), []).append((str(lexeme), int(position)))
    return [
        Part(tuple(x for x, _ in found), tuple(p - found[0][1] for _, p in found))
        for _, found in sorted(tokens.items())
    ]


def _frequencies(conn: PgConnection, parts: Sequence[Part]) -> dict[Part, int]:
    """Chunks of the whole index (staging rows too, as FTS5 counts them) holding each part: a lexeme's
    from the stored term statistics, a phrase's counted through the index."""
    pg = native(conn)
    lexemes = sorted({p.lexemes[0] for p in parts if len(p.lexemes) == 1})
    rows = pg.execute(
        "SELECT lexeme, sum(df) FROM term_stats WHERE lexeme = ANY(%s) GROUP BY lexeme", (lexemes,)
    ).fetchall()
    stored = {str(lexeme): int(df) for lexeme, df in rows}
    out: dict[Part, int] = {}
    for part in dict.fromkeys(parts):
        if len(part.lexemes) == 1:
            out[part] = stored.get(part.lexemes[0], 0)
        else:
            sql = "SELECT count(*) FROM chunks WHERE tsv @@ %s::tsquery"
            out[part] = int(pg.execute(sql, (part.query,)).fetchone()[0])
    return out


def query_terms(conn: PgConnection, words: Sequence[str]) -> Terms | None:
    """The query's terms with their BM25 weights, or None when no chunk holds any of them."""
    parts = query_parts(conn, words)
    total, tokens = (int(v) for v in native(conn).execute(_TOTALS).fetchone())
    if not parts or total <= 0:
        return None
    frequencies = _frequencies(conn, parts)
    weights: dict[Part, float] = {}
    for part in parts:
        if frequencies[part] > 0:
            weights[part] = weights.get(part, 0.0) + idf(total, frequencies[part])
    if not weights:
        return None
    order = sorted(weights, key=lambda p: (-weights[p], frequencies[p], p.lexemes))
    return Terms(tuple(Term(p, weights[p], frequencies[p]) for p in order), tokens / total)


def _score(
    conn: PgConnection,
    terms: Terms,
    match: Sequence[Part],
    exclude: Sequence[Part],
    document_ids: Sequence[int] | None,
    limit: int,
) -> list[tuple[int, float]]:
    """The best `limit` ready chunks holding one of `match` and none of `exclude`, scored on all terms."""
    scope = "AND c.document_id = ANY(%(docs)s)" if document_ids is not None else ""
    single = [t for t in terms.terms if t.lexeme is not None]
    phrases = [
        {"lexemes": t.part.lexemes, "offsets": t.part.offsets, "weight": t.weight}
        for t in terms.terms
        if t.lexeme is None
    ]
    params = {
        "k1": K1,
        "k1p": K1 + 1.0,
        "b": B,
        "avgdl": terms.avgdl,
        "lexemes": [t.lexeme for t in single],
        "weights": [t.weight for t in single],
        "phrases": json.dumps(phrases),
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
    ordered = [t.part for t in terms.terms]
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


def _match_query(conn: PgConnection, match: str) -> str:
    """`match` as tsquery text ('' when none of its words has a lexeme)."""
    return tsquery(list(dict.fromkeys(query_parts(conn, words_of(match)))))


def bm25_count(conn: PgConnection, match: str, document_ids: Sequence[int] | None, cap: int) -> int:
    """Ready chunks in the scope holding a word of `match`, counted up to `cap`."""
    query = _match_query(conn, match)
    if not query:
        return 0
    scope = "AND c.document_id = ANY(%s)" if document_ids is not None else ""
    params: list[object] = [query]
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
    One word: its stored document frequency; several (or a phrase): the index, read no further than
    `cap`."""
    parts = list(dict.fromkeys(query_parts(conn, words_of(match))))
    if not parts:
        return False
    if len(parts) == 1 and len(parts[0].lexemes) == 1:
        row = (
            native(conn)
            .execute("SELECT coalesce(sum(df), 0) FROM term_stats WHERE lexeme = %s", (parts[0].lexemes[0],))
            .fetchone()
        )
        return int(row[0]) >= cap
    row = (
        native(conn)
        .execute(
            "SELECT count(*) FROM (SELECT 1 FROM chunks WHERE tsv @@ %s::tsquery LIMIT %s) x",
            (tsquery(parts), cap),
        )
        .fetchone()
    )
    return int(row[0]) >= cap


def bm25_snippets(conn: PgConnection, match: str, chunk_ids: Sequence[int]) -> dict[int, str]:
    """About SNIPPET_WORDS words around the matched ones, marked «…» (FTS5's snippet(), by ts_headline),
    with … where the text goes on."""
    query = _match_query(conn, match)
    if not chunk_ids or not query:
        return {}
    options = (
        f"StartSel=«, StopSel=», MaxWords={SNIPPET_WORDS}, MinWords={SNIPPET_WORDS // 2}, MaxFragments=1"
    )
    sql = "SELECT id, text, ts_headline('rlm_english', text, %s::tsquery, %s) FROM chunks WHERE id = ANY(%s)"
    rows = native(conn).execute(sql, (query, options, list(chunk_ids))).fetchall()
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
