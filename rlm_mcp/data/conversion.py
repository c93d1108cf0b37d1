"""The DuckDB side of building a copy: a private connection, staging files, the typed final file.

Every copy is written in two steps: the source is read into a staging Parquet file of text columns
in source order, then the final file is written from it with `record` (the staging file's row
position + 1, so record numbers are exact whatever DuckDB parallelises) and the column types.
"""

import os
from pathlib import Path

import duckdb

from .sandbox import quote_literal, quote_name
from .values import json_value

STAGE_MEMORY_MB = 64  # the staging read runs beside the chunker: peak RSS is the two together
FINAL_MEMORY_MB = 96
JSON_MEMORY_MB = 192  # read_json holds whole objects (maximum_object_size)
WIDE_COLUMN_KB = 256  # DuckDB's CSV reader and Parquet writer hold buffers per column
MAX_LINE_BYTES = 8 << 20  # a longer record or line leaves the document without a copy (a warning)
# DuckDB's CSV reader with parallel = false otherwise reads the whole file (up to 16 x max_line_size)
# into one buffer: a 400 MB CSV asked for 382 MiB and the copy failed out of memory.
READ_LIMITS = f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {2 * MAX_LINE_BYTES}"
MIN_ROW_GROUP = 1024
MAX_ROW_GROUP = 122_880
ROW_GROUP_CELLS = 4_000_000  # a 2,500-column table writes row groups of 1,600 rows, not 122,880
ROW_GROUP_BYTES = 32 << 20  # of source text: long lines or wide rows make smaller groups
STAGE_ROW_GROUP_BYTES = 2 << 20  # a staging file is read once: small groups, little memory


def build_memory(width: int, base_mb: int = FINAL_MEMORY_MB) -> str:
    """The build's memory limit: flat for narrow tables, growing with the width of wide ones."""
    return f"{base_mb + width * WIDE_COLUMN_KB // 1024}MB"


def build_connection(
    threads: int, spill: Path, width: int = 1, base_mb: int = FINAL_MEMORY_MB
) -> duckdb.DuckDBPyConnection:
    spill.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(spill, 0o700)
    return duckdb.connect(
        ":memory:",
        config={
            "threads": threads,
            "memory_limit": build_memory(width, base_mb),
            "temp_directory": str(spill),
            "preserve_insertion_order": True,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "python_enable_replacements": False,
        },
    )


class BuildConnection:
    """One DuckDB database for every copy one load builds, opened on first use.

    Trigger: a load of many documents. Why: a fresh in-memory DuckDB costs ~30 ms of CPU (its
    catalog is built each time); 40 books opened 80 of them, 2.5 s of a 7.5 s load. Outcome: the
    documents of a load take turns on one connection (a staging read, then its final write, then the
    next document's), each phase setting its own threads and memory limit first.
    """

    def __init__(self, spill: Path) -> None:
        self._spill = spill
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._settings = (0, "")

    def use(self, threads: int, width: int = 1, base_mb: int = FINAL_MEMORY_MB) -> duckdb.DuckDBPyConnection:
        wanted = (int(threads), build_memory(width, base_mb))
        if self._conn is None:
            self._conn = build_connection(threads, self._spill, width, base_mb)
        elif wanted != self._settings:  # a SET costs ~2 ms of CPU: only when the phase needs another
            self._conn.execute(f"SET threads = {wanted[0]}")
            self._conn.execute(f"SET memory_limit = '{wanted[1]}'")
        self._settings = wanted
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def row_group_rows(width: int, row_bytes: float = 0, group_bytes: int = ROW_GROUP_BYTES) -> int:
    """Rows per row group: the writer holds a whole group, so it is bounded in cells and in bytes."""
    rows = ROW_GROUP_CELLS // max(1, width)
    if row_bytes > 0:
        rows = min(rows, int(group_bytes / row_bytes))
    return max(MIN_ROW_GROUP, min(MAX_ROW_GROUP, rows))


def write_parquet(
    conn: duckdb.DuckDBPyConnection,
    select: str,
    target: Path,
    width: int,
    row_bytes: float = 0,
    group_bytes: int = ROW_GROUP_BYTES,
    compression: str = "zstd",
    level: int | None = None,
) -> None:
    """`row_bytes`: source bytes per row when known (file size / rows); `level`: zstd's, else its default."""
    options = f"COMPRESSION {compression}" + (
        f", COMPRESSION_LEVEL {int(level)}" if level is not None else ""
    )
    conn.execute(
        f"COPY ({select}) TO {quote_literal(str(target))} (FORMAT parquet, {options}, "
        f"ROW_GROUP_SIZE {row_group_rows(width, row_bytes, group_bytes)})"
    )


def write_stage(
    conn: duckdb.DuckDBPyConnection, select: str, target: Path, width: int, compression: str = "zstd"
) -> None:
    """A staging file: row groups of ~STAGE_ROW_GROUP_BYTES of source (≥ 100 bytes a row assumed)."""
    write_parquet(conn, select, target, width, max(100.0, 4.0 * width), STAGE_ROW_GROUP_BYTES, compression)


def parquet_rows(conn: duckdb.DuckDBPyConnection, path: Path) -> int:
    """Rows of a Parquet file, from its footer."""
    rows = conn.execute(
        f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata({quote_literal(str(path))})"
    ).fetchall()
    return int(rows[0][0])


def parquet_columns(conn: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    rows = conn.execute(f"DESCRIBE SELECT * FROM read_parquet({quote_literal(str(path))})").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def positioned(stage: Path) -> str:
    """The staging file as a relation with `_position` (0-based row in the file)."""
    return f"read_parquet({quote_literal(str(stage))}, file_row_number = true)"


def name_list(names: list[str]) -> str:
    return ", ".join(quote_name(n) for n in names)


TOP_DISTINCT = 20  # a column with at most this many distinct values gets its exact counts in the profile
SCREEN_DISTINCT = 2 * TOP_DISTINCT  # the estimate that makes a column worth an exact count
MAX_TOP_COLUMNS = 60
DISTINCT_PER_QUERY = 200
TOP_VALUE_CHARS = 200  # a column holding a longer text is not a category (and the profile stays small)
COUNTABLE = ("VARCHAR", "BOOLEAN", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT",
             "DOUBLE", "FLOAT", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")  # fmt: skip
META_COLUMNS = ("record", "line", "json_path")


def top_values(
    conn: duckdb.DuckDBPyConnection, path: Path, columns: list[tuple[str, str]]
) -> dict[str, list[list[object]]]:
    """Exact value counts of the low-cardinality columns, most frequent first: they often answer
    the question outright (how many open tickets) before any query is written.

    Columns are screened with DuckDB's distinct-count estimate (constant memory: an exact
    count(DISTINCT) of a comment column holds every distinct string), then counted exactly; a column
    whose exact count has more than TOP_DISTINCT values is left out, so every count shown is exact."""
    source = f"read_parquet({quote_literal(str(path))})"
    kinds = dict(columns)
    candidates = [name for name, kind in columns if _countable(kind) and name not in META_COLUMNS]
    low: list[str] = []
    for start in range(0, len(candidates), DISTINCT_PER_QUERY):
        batch = candidates[start : start + DISTINCT_PER_QUERY]
        measures = [
            f"approx_count_distinct({quote_name(n)}), "
            + (f"coalesce(max(strlen({quote_name(n)})), 0)" if kinds[n] == "VARCHAR" else "0")
            for n in batch
        ]
        found = conn.execute("SELECT " + ", ".join(measures) + f" FROM {source}").fetchall()[0]
        low += [
            n
            for i, n in enumerate(batch)
            if 0 < int(found[2 * i]) <= SCREEN_DISTINCT and int(found[2 * i + 1]) <= TOP_VALUE_CHARS
        ]
    result: dict[str, list[list[object]]] = {}
    for name in low:
        rows = conn.execute(
            f"SELECT {quote_name(name)}, count(*) AS n FROM {source} GROUP BY 1 "
            f"ORDER BY n DESC, 1 NULLS LAST LIMIT {TOP_DISTINCT + 1}"
        ).fetchall()
        if len(rows) <= TOP_DISTINCT:
            result[name] = [[json_value(value), int(n)] for value, n in rows]
            if len(result) >= MAX_TOP_COLUMNS:
                break
    return result


def _countable(kind: str) -> bool:
    return kind in COUNTABLE or kind.startswith("DECIMAL")
