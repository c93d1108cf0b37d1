"""CSV and TSV copies: DuckDB reads the file itself when the chunker found it regular; otherwise the
records the chunker counted are written out again in a plain form first, so record numbers agree.

Types come from the whole file, never a sample: the chunker's profile says what each column looks
like, and DuckDB checks the candidate type over every value (`TRY_CAST` counts) before it is used.
Money-like columns (plain decimals) become DECIMAL, so their sums are exact; integers with leading
zeros (codes, zip codes) stay text; "NA", "NULL" and the like are nulls in typed columns only.
"""

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..chunking.columns import NULL_TOKENS
from ..chunking.csvrows import RecordReader
from ..chunking.tabular import looks_like_header
from ..hashing import PinnedFile
from .conversion import READ_LIMITS, name_list, positioned, write_stage
from .naming import unique_names
from .sandbox import quote_literal, quote_name

DECIMAL_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)"
MAX_DECIMAL_SCALE = 18
TOKENS = "(" + ", ".join(quote_literal(t) for t in sorted(NULL_TOKENS)) + ")"
CANDIDATES = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
EXTRA_COLUMN = "extra_fields"


@dataclass(frozen=True, slots=True)
class CsvLayout:
    delimiter: str
    header: bool
    names: list[str]  # unique, as the copy names them
    warnings: list[str]

    @property
    def width(self) -> int:
        return len(self.names)


def sniff_layout(file: PinnedFile, kind: str) -> CsvLayout | None:
    """The delimiter and header the chunker will choose (the same functions decide), from the head."""
    with _text(file) as text:
        reader = RecordReader(text, "\t" if kind == "tsv" else None)
        first = next(reader.batches(), None)
    if first is None or not first.rows:
        return None
    return layout_for(first.rows[0], reader.delimiter or ",", looks_like_header(first.rows[0]))


def layout_for(fields: list[str], delimiter: str, header: bool) -> CsvLayout:
    raw = fields if header else [f"column_{i + 1}" for i in range(len(fields))]
    names, warnings = unique_names(raw)
    return CsvLayout(delimiter, header, names, warnings)


def _text(file: PinnedFile) -> io.TextIOWrapper:
    return io.TextIOWrapper(file.open_binary(), encoding="utf-8-sig", errors="replace", newline="")


def stage_source(conn: duckdb.DuckDBPyConnection, file: Path, layout: CsvLayout, stage: Path) -> None:
    """The file (a path that opens the pinned file itself) read by DuckDB as text columns c1 … cN,
    strictly: any record the chunker would read differently (ragged, unbalanced quotes) makes this
    fail, and the caller takes the other road."""
    _stage(conn, file, layout.delimiter, layout.header, layout.width, stage)


def _stage(
    conn: duckdb.DuckDBPyConnection, file: Path, delimiter: str, header: bool, width: int, stage: Path
) -> None:
    names = [f"c{i}" for i in range(1, width + 1)]
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    source = (
        f"read_csv({quote_literal(str(file))}, columns = {columns}, header = {str(header).lower()}, "
        f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', auto_detect = false, "
        f"strict_mode = true, null_padding = false, {READ_LIMITS}, parallel = false)"
    )
    # snappy: the staging file is read a few times (profile, final file), then deleted: zstd cost CPU
    write_stage(conn, f"SELECT {name_list(names)} FROM {source}", stage, width, "snappy")


def normalize(file: PinnedFile, layout: CsvLayout, target: Path) -> tuple[int, bool]:
    """Write the records as the chunker counts them (header and blank lines out, ragged rows padded,
    surplus fields kept in one more column) to a plain CSV. Returns (records, any surplus)."""
    width = layout.width
    records, surplus = 0, False
    with _text(file) as text, target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        rows = _records(RecordReader(text, layout.delimiter))
        if layout.header:
            next(rows, None)
        for fields in rows:
            if not fields:
                continue
            records += 1
            extra = ""
            if len(fields) > width:
                extra, fields = layout.delimiter.join(fields[width:]), fields[:width]
                surplus = True
            elif len(fields) < width:
                fields = fields + [""] * (width - len(fields))
            writer.writerow([*fields, extra])
    return records, surplus


def stage_normalized(conn: duckdb.DuckDBPyConnection, normalized: Path, width: int, stage: Path) -> None:
    _stage(conn, normalized, ",", False, width + 1, stage)


def _records(reader: RecordReader) -> Iterator[list[str]]:
    for batch in reader.batches():
        yield from batch.rows


def typed_select(
    conn: duckdb.DuckDBPyConnection,
    stage: Path,
    names: list[str],
    kinds: list[str],
    surplus: bool | None,
    types: list[tuple[str, bool]] | None = None,
) -> tuple[str, list[str]]:
    """SELECT writing the final table from the staging file (c1 … cN), and what it says about types.

    `kinds` are the profile's column types; `surplus` is None for a file DuckDB read itself, else
    whether the extra column of a normalized file holds anything; `types`: checked_types of these
    kinds over this file when already computed."""
    types = types if types is not None else checked_types(conn, stage, kinds)
    parts = ["file_row_number + 1 AS record"]
    for index, (name, (sql_type, tokens)) in enumerate(zip(names, types, strict=True), start=1):
        column = f"c{index}"
        if sql_type == "VARCHAR":
            parts.append(f"{column} AS {quote_name(name)}")
        elif tokens:
            value = f"CASE WHEN {column} IN {TOKENS} THEN NULL ELSE {column} END"
            parts.append(f"CAST({value} AS {sql_type}) AS {quote_name(name)}")
        else:
            parts.append(f"CAST({column} AS {sql_type}) AS {quote_name(name)}")
    if surplus:
        parts.append(f"c{len(names) + 1} AS {quote_name(_extra_name(names))}")
    warnings = []
    if surplus:
        warnings.append(
            f"rows with more fields than the header keep the surplus in column {_extra_name(names)!r}"
        )
    return f"SELECT {', '.join(parts)} FROM {positioned(stage)}", warnings


def _extra_name(names: list[str]) -> str:
    taken = {n.lower() for n in names}
    name, suffix = EXTRA_COLUMN, 2
    while name in taken:
        name, suffix = f"{EXTRA_COLUMN}_{suffix}", suffix + 1
    return name


def checked_types(
    conn: duckdb.DuckDBPyConnection,
    stage: Path,
    kinds: list[str],
    known: Sequence[Sequence[int] | None] | None = None,
) -> list[tuple[str, bool]]:
    """(type, whether null tokens occur) per column, each candidate checked over every value: one
    UNPIVOT per candidate type, so a 2,500-column table costs five aggregates, not 12,500. `known`:
    per column, the five figures of _checks when the profile's scan already counted them."""
    result: list[tuple[str, bool]] = [("VARCHAR", False)] * len(kinds)
    counted = list(known) if known is not None else [None] * len(kinds)
    for index, (kind, figures) in enumerate(zip(kinds, counted, strict=True)):
        if kind in CANDIDATES and figures is not None:
            result[index] = _decide(kind, list(figures))
    for kind in CANDIDATES:
        columns = [f"c{i + 1}" for i, k in enumerate(kinds) if k == kind and counted[i] is None]
        if not columns:
            continue
        unpivot = (
            f"(UNPIVOT (SELECT {', '.join(columns)} FROM {positioned(stage)}) "
            f"ON {', '.join(columns)} INTO NAME name VALUE v)"
        )
        rows = conn.execute(
            f"SELECT name, {', '.join(_checks(kind))} FROM {unpivot} GROUP BY name"
        ).fetchall()
        for name, *values in rows:
            result[int(str(name)[1:]) - 1] = _decide(kind, values)
    return result


def _checks(kind: str) -> list[str]:
    """Five numbers per column: values, values that cast, null tokens, odd shapes (leading zeros of
    an integer, a float that is no plain decimal), and scale * 1000 + integer digits of a decimal."""
    present = f"v NOT IN {TOKENS}"
    target = CANDIDATES[kind]
    odd = (
        f"count(*) FILTER (WHERE {present} AND NOT regexp_full_match(v, '{DECIMAL_PATTERN}'))"
        if kind == "float"
        else f"count(*) FILTER (WHERE {present} AND regexp_matches(v, '^[+-]?0[0-9]'))"
    )
    shape = (
        "max(CASE WHEN strpos(v, '.') > 0 THEN length(v) - strpos(v, '.') ELSE 0 END * 1000 "
        f"+ length(split_part(ltrim(v, '+-'), '.', 1))) FILTER (WHERE {present})"
        if kind == "float"
        else "0"
    )
    return [
        f"count(*) FILTER (WHERE {present})",
        f"count(TRY_CAST(v AS {target})) FILTER (WHERE {present})",
        f"count(*) FILTER (WHERE v IN {TOKENS})",
        odd,
        shape,
    ]


def value_checks(v: str) -> list[str]:
    """Per distinct value `v`, what _checks counts: a null token, whether it casts to each of
    CANDIDATES (in their order), the two odd shapes, and the decimal shape (the same expressions)."""
    return [
        f"{v} IN {TOKENS}",
        *(f"TRY_CAST({v} AS {target}) IS NOT NULL" for target in CANDIDATES.values()),
        f"regexp_matches({v}, '^[+-]?0[0-9]')",
        f"NOT regexp_full_match({v}, '{DECIMAL_PATTERN}')",
        f"CASE WHEN strpos({v}, '.') > 0 THEN length({v}) - strpos({v}, '.') ELSE 0 END * 1000 "
        f"+ length(split_part(ltrim({v}, '+-'), '.', 1))",
    ]


def add_checks(kind: str, rows: Sequence[Sequence[Any]]) -> tuple[int, int, int, int, int]:
    """_checks' five figures for `kind` from (value, count, *value_checks) rows of a column."""
    cast_at = 3 + list(CANDIDATES).index(kind)
    present = cast = tokens = odd = 0
    shape: int | None = None
    for row in rows:
        count = int(row[1])
        if row[2]:
            tokens += count
            continue
        present += count
        cast += count if row[cast_at] else 0
        odd += count if row[-2 if kind == "float" else -3] else 0
        if kind == "float":
            shape = max(int(row[-1]), shape if shape is not None else int(row[-1]))
    return present, cast, tokens, odd, shape or 0


def _decide(kind: str, values: tuple[Any, ...] | list[Any]) -> tuple[str, bool]:
    present, cast, tokens, odd, shape = (int(v or 0) for v in values)
    if present == 0 or cast != present:
        return "VARCHAR", False
    if kind == "integer" and odd:  # 007, 0123: identifiers, not quantities
        return "VARCHAR", False
    if kind == "float" and not odd:
        scale, digits = divmod(shape, 1000)
        if scale <= MAX_DECIMAL_SCALE and digits + scale <= 38:
            return f"DECIMAL({min(38, max(18, digits + scale))}, {scale})", tokens > 0
    return CANDIDATES[kind], tokens > 0
