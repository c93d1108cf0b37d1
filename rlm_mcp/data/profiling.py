"""A table's column profile from its staging file (text columns c1 … cN), computed by DuckDB by the
rules of chunking/columns.py, figure for figure.

Trigger: a CSV or TSV with a columnar copy. Why: the Python profile was 4–6 s of the loading thread
on 75 MB of TPC-H lineitem, the thread every other step waits for; DuckDB runs beside it (it
releases the GIL) over the staging file it writes anyway. Outcome: the same answer, its parts exact
where the Python profile's are:
- nulls, empty fields and exact distinct counts are counted over every value; a column whose
  distinct estimate (`approx_count_distinct`, the same for the same values in every process) is
  above twice the exact cap keeps the estimate, marked so;
- a type follows from shapes that DuckDB checks over every value and that Python reads the same way
  (plain decimals of at most 18 integer digits, ISO dates and datetimes, the boolean words); a value
  of no such shape is read by Python itself (`columns.value_kinds`), so `1_000`, ` 7 ` or `١٢` count
  as Python counts them. A column is string as soon as one value reads as no kind at all.
Any disagreement between the two readings raises ProfileMismatch and the caller profiles in Python.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..chunking.columns import (
    BOOLEANS,
    KINDS,
    NULL_TOKENS,
    column_cap,
    column_summary,
    decide_kind,
    exact_bound,
    kind_of_values,
    value_kinds,
)
from . import tables
from .sandbox import quote_literal

PLAIN_NUMBER = r"[+-]?([0-9]{1,18}(\.[0-9]{0,30})?|\.[0-9]{1,30})"  # no dot: a BIGINT as well
PLAIN_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
PLAIN_DATETIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?"
)
COLUMNS_PER_QUERY = 64
SHAPED_PER_QUERY = 8  # the row-by-row shape scan: 64 columns at once held 600 MB (DuckDB untracked)
ODD_SAMPLE = 64  # values of no plain shape read first; a column with more is read whole
TOKENS = "(" + ", ".join(quote_literal(t) for t in sorted(NULL_TOKENS)) + ")"
WORDS = "(" + ", ".join(quote_literal(t) for t in sorted(BOOLEANS)) + ")"


class ProfileMismatch(Exception):
    """DuckDB and Python read a value differently: the profile is computed in Python instead."""


@dataclass(slots=True)
class _Facts:
    """What the queries found for one column."""

    empty: int
    tokens: int
    present: int
    approx: int
    low_text: str | None
    high_text: str | None
    group: str = ""  # "numeric", "dates", "boolean" or "" (decided: string or empty)
    distinct: int | None = None
    plain: int = 0
    plain_whole: int = 0  # numeric: plain values without a dot; dates: plain datetimes
    bounds: tuple[Any, Any] = (None, None)  # of the plain values: (low, high) ints or (value, text) floats
    zeros: int = 0  # plain whole numbers with a leading zero (007): codes, not quantities
    shape: int = 0  # of the plain numbers: the largest scale * 1000 + integer digits
    casts: tuple[int, int, int] = (0, 0, 0)  # present values DuckDB casts to DATE, TIMESTAMP, BOOLEAN


@dataclass(frozen=True, slots=True)
class StageProfile:
    """The profile of a staging file's columns, named once the chunker's header is known; `checks`:
    per column, the five figures tables.checked_types would count for its type, when every value
    has a plain shape (None: they are to be counted)."""

    rows: int
    columns: tuple[tuple[str, tuple[int, int], tuple[int, bool], tuple[Any, Any]], ...]
    checks: tuple[tuple[int, int, int, int, int] | None, ...]

    def summaries(self, names: list[str]) -> list[dict[str, Any]]:
        """The `column_profiles` of the load's answer; `names`: one per staging column c1 …"""
        if len(names) != len(self.columns):
            raise ProfileMismatch(f"{len(names)} names for {len(self.columns)} profiled columns")
        return [
            column_summary(name, kind, (*counts, self.rows), distinct, bounds)
            for name, (kind, counts, distinct, bounds) in zip(names, self.columns, strict=True)
        ]


def profile_stage(conn: duckdb.DuckDBPyConnection, stage: Path, width: int) -> StageProfile:
    """The first `width` columns of the staging file (a normalized one has one more)."""
    source = f"read_parquet({quote_literal(str(stage))})"
    cap = column_cap(width)
    facts: list[_Facts] = []
    for start in range(0, width, COLUMNS_PER_QUERY):
        facts += _first_pass(conn, source, range(start, min(width, start + COLUMNS_PER_QUERY)))
    for fact in facts:
        if fact.present and fact.distinct is None and fact.approx <= 2 * cap:
            fact.group = "grouped"  # few values: each read once, by Python (see _grouped)
    for start in range(0, width, SHAPED_PER_QUERY):
        indices = range(start, min(width, start + SHAPED_PER_QUERY))
        _second_pass(conn, source, [(i, facts[i]) for i in indices])
    rows = int(conn.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
    columns, checks = [], []
    for index, fact in enumerate(facts):
        if fact.group == "grouped":
            kind, bounds, check = _grouped(conn, source, index, fact)
        else:
            (kind, bounds), check = _kind(conn, source, index, fact), None
            check = _checks(kind, fact)
        distinct = (fact.distinct, False) if fact.distinct is not None else (fact.approx, True)
        columns.append((kind, (fact.empty + fact.tokens, fact.empty), distinct, bounds))
        checks.append(check)
    return StageProfile(rows, tuple(columns), tuple(checks))


def _grouped(
    conn: duckdb.DuckDBPyConnection, source: str, index: int, fact: _Facts
) -> tuple[str, tuple[Any, Any], tuple[int, int, int, int, int] | None]:
    """A column of few distinct values: each value once, with its count and what tables.checked_types
    tests of it; Python reads the values by the streaming profile's own rules (columns.kind_of_values)
    and adds up the type checks, so both are the ones the row-by-row passes would give."""
    c = f"c{index + 1}"
    tests = ", ".join(tables.value_checks("v"))
    rows = conn.execute(
        f"SELECT v, n, {tests} FROM (SELECT {c} AS v, count(*) AS n FROM {source} "
        f"WHERE {c} IS NOT NULL GROUP BY {c})"
    ).fetchall()
    present = [row for row in rows if row[0] not in NULL_TOKENS]
    fact.distinct = len(present)
    kind, low, high = kind_of_values({str(row[0]) for row in present})
    if kind not in tables.CANDIDATES:
        return kind, (low, high), None
    return kind, (low, high), tables.add_checks(kind, rows)


def _checks(kind: str, fact: _Facts) -> tuple[int, int, int, int, int] | None:
    """(values, values that cast, null tokens, odd shapes, decimal shape) as tables.checked_types
    counts them, from what the scan found: plain numbers all cast (the scan checked it) and all
    match its DECIMAL_PATTERN, so only leading zeros are odd."""
    if fact.plain != fact.present or not fact.present:
        return None
    present, tokens = fact.present, fact.tokens
    if kind == "integer":
        return present, present, tokens, fact.zeros, 0
    if kind == "float":
        return present, present, tokens, 0, fact.shape
    cast = {"date": fact.casts[0], "datetime": fact.casts[1], "boolean": fact.casts[2]}.get(kind)
    return None if cast is None else (present, cast, tokens, 0, 0)


def _present(column: str) -> str:
    return f"({column} IS NOT NULL AND {column} NOT IN {TOKENS})"


def _first_pass(conn: duckdb.DuckDBPyConnection, source: str, indices: range) -> list[_Facts]:
    """Counts and text bounds of every value (plain aggregates: no per-value filter to evaluate);
    a column holding null tokens has its bounds and estimate taken again without them."""
    parts = []
    for index in indices:
        c = f"c{index + 1}"
        parts += [
            f"count(*) - count({c})",
            f"count(*) FILTER ({c} IN {TOKENS})",
            f"count({c})",
            f"approx_count_distinct({c})",
            f"min({c})",
            f"max({c})",
        ]
    row = conn.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    found = []
    for offset, index in zip(range(0, len(row), 6), indices, strict=True):
        empty, tokens, values, approx, low, high = row[offset : offset + 6]
        fact = _Facts(int(empty), int(tokens), int(values) - int(tokens), int(approx or 0), low, high)
        if not fact.present:
            fact.distinct = 0
        if fact.tokens and fact.present:
            _without_tokens(conn, source, index, fact)
        if fact.present and fact.low_text is not None and fact.high_text is not None:
            common = set(value_kinds(fact.low_text)) & set(value_kinds(fact.high_text))
            if common & {"integer", "float"}:
                fact.group = "numeric"
            elif common & {"date", "datetime"}:
                fact.group = "dates"
            elif common:
                fact.group = "boolean"
        found.append(fact)
    return found


def _without_tokens(conn: duckdb.DuckDBPyConnection, source: str, index: int, fact: _Facts) -> None:
    c, present = f"c{index + 1}", _present(f"c{index + 1}")
    row = conn.execute(
        f"SELECT approx_count_distinct({c}), min({c}), max({c}) FROM {source} WHERE {present}"
    ).fetchall()[0]
    fact.approx, fact.low_text, fact.high_text = int(row[0] or 0), row[1], row[2]


def _second_pass(conn: duckdb.DuckDBPyConnection, source: str, columns: list[tuple[int, _Facts]]) -> None:
    """Exact distinct counts, and the plain shapes of the columns that may be typed, in one scan; each
    shape is tested once per value in a projection (a FILTER clause would test it per aggregate)."""
    parts: list[str] = []
    derived: list[str] = []
    layout: list[tuple[_Facts, str, int]] = []
    for index, fact in columns:
        c = f"c{index + 1}"
        present = _present(c) if fact.tokens else f"({c} IS NOT NULL)"
        if fact.group == "numeric":
            derived += [
                f"{present} AND regexp_full_match({c}, {quote_literal(PLAIN_NUMBER)}) AS s{index}",
                f"strpos({c}, '.') AS p{index}",
                f"TRY_CAST({c} AS DOUBLE) AS d{index}",
            ]
            shaped, whole, dot = f"(s{index})", f"(s{index} AND p{index} = 0)", f"p{index}"
            signed = f"(starts_with({c}, '+') OR starts_with({c}, '-'))"
            parts += [
                f"count(*) FILTER {shaped}",
                f"count(*) FILTER {whole}",
                f"count(d{index}) FILTER {shaped}",
                f"count(TRY_CAST({c} AS BIGINT)) FILTER {whole}",
                f"min(TRY_CAST({c} AS BIGINT)) FILTER {whole}",
                f"max(TRY_CAST({c} AS BIGINT)) FILTER {whole}",
                f"arg_min({c}, d{index}) FILTER {shaped}",
                f"arg_max({c}, d{index}) FILTER {shaped}",
                # leading zeros (^[+-]?0[0-9]) of a whole number, and scale * 1000 + integer digits
                f"count(*) FILTER ({whole} AND ((starts_with({c}, '0') AND length({c}) > 1) OR "
                f"((starts_with({c}, '+0') OR starts_with({c}, '-0')) AND length({c}) > 2)))",
                f"max(CASE WHEN {dot} > 0 THEN (length({c}) - {dot}) * 1000 + {dot} - 1 ELSE length({c}) END "
                f"- CASE WHEN {signed} THEN 1 ELSE 0 END) FILTER {shaped}",
            ]
            layout.append((fact, "numeric", 10))
        elif fact.group == "dates":
            parts += [
                f"count(*) FILTER ({present} AND regexp_full_match({c}, {quote_literal(PLAIN_DATE)}))",
                f"count(*) FILTER ({present} AND regexp_full_match({c}, {quote_literal(PLAIN_DATETIME)}))",
                f"count(TRY_CAST({c} AS DATE)) FILTER {present}",
                f"count(TRY_CAST({c} AS TIMESTAMP)) FILTER {present}",
            ]
            layout.append((fact, "dates", 4))
        elif fact.group == "boolean":
            parts += [
                f"count(*) FILTER ({c} IN {WORDS})",
                f"count(TRY_CAST({c} AS BOOLEAN)) FILTER {present}",
            ]
            layout.append((fact, "boolean", 2))
    if derived:
        used = ", ".join(f"c{index + 1}" for index, _ in columns)
        source = f"(SELECT {used}, {', '.join(derived)} FROM {source})"
    if not parts:
        return
    row = conn.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchall()[0]
    offset = 0
    for fact, what, size in layout:
        values = row[offset : offset + size]
        offset += size
        if what == "numeric":
            shaped, whole, cast, cast_whole, low, high, low_text, high_text, zeros, shape = values
            fact.zeros, fact.shape = int(zeros), int(shape or 0)
            if int(cast) != int(shaped) or int(cast_whole) != int(whole):
                raise ProfileMismatch(f"DuckDB cannot cast a plain number of column {fact.low_text!r}")
            fact.plain, fact.plain_whole = int(shaped), int(whole)
            if fact.plain == fact.plain_whole and fact.plain:
                fact.bounds = (int(low), int(high))
            elif fact.plain:
                fact.bounds = ((float(low_text), low_text), (float(high_text), high_text))
        elif what == "dates":
            dates, datetimes = int(values[0]), int(values[1])
            fact.plain, fact.plain_whole = dates + datetimes, datetimes
            fact.casts = (int(values[2]), int(values[3]), 0)
        else:
            fact.plain = int(values[0])
            fact.casts = (0, 0, int(values[1]))


def _odd_values(conn: duckdb.DuckDBPyConnection, source: str, index: int, fact: _Facts) -> list[str] | None:
    """The distinct present values of no plain shape; None as soon as one reads as no kind at all."""
    c, present = f"c{index + 1}", _present(f"c{index + 1}")
    if fact.group == "numeric":
        plain = f"regexp_full_match({c}, {quote_literal(PLAIN_NUMBER)})"
    elif fact.group == "dates":
        plain = (
            f"(regexp_full_match({c}, {quote_literal(PLAIN_DATE)}) "
            f"OR regexp_full_match({c}, {quote_literal(PLAIN_DATETIME)}))"
        )
    else:
        plain = f"{c} IN {WORDS}"
    query = f"SELECT DISTINCT {c} FROM {source} WHERE {present} AND NOT {plain}"
    sample = [str(v) for (v,) in conn.execute(f"{query} LIMIT {ODD_SAMPLE + 1}").fetchall()]
    if any(not value_kinds(v) for v in sample):
        return None
    if len(sample) <= ODD_SAMPLE:
        return sample
    values = [str(v) for (v,) in conn.execute(query).fetchall()]
    return None if any(not value_kinds(v) for v in values) else values


def _kind(
    conn: duckdb.DuckDBPyConnection, source: str, index: int, fact: _Facts
) -> tuple[str, tuple[Any, Any]]:
    """The column's type and its shown bounds, by columns.decide_kind over every present value."""
    if not fact.present:
        return "", (None, None)
    if not fact.group:
        return "string", (None, None)
    odd: list[str] = []
    if fact.plain < fact.present:
        found = _odd_values(conn, source, index, fact)
        if found is None:
            return "string", (None, None)
        odd = found
    fits = {kind: all(kind in value_kinds(v) for v in odd) for kind in KINDS}
    if fact.plain:  # what the plain values read as
        plain_kinds = {
            "numeric": {"float"} | ({"integer"} if fact.plain == fact.plain_whole else set()),
            "dates": {"datetime"} | ({"date"} if fact.plain_whole == 0 else set()),
            "boolean": {"boolean"},
        }[fact.group]
        fits = {kind: fits[kind] and kind in plain_kinds for kind in KINDS}
    kind = decide_kind(fits)
    if kind == "integer":
        numbers = [int(v) for v in odd] + ([*fact.bounds] if fact.plain else [])
        return kind, (min(numbers), max(numbers))
    if kind == "float":
        pairs = [(float(v), v) for v in odd]
        if fact.plain:
            low, high = fact.bounds
            pairs += (
                [(float(low), str(low)), (float(high), str(high))]
                if fact.plain == fact.plain_whole
                else [low, high]
            )
        return kind, (exact_bound(min(pairs)[1]), exact_bound(max(pairs)[1]))
    if kind in ("date", "datetime"):
        return kind, (fact.low_text, fact.high_text)
    return kind, (None, None)
