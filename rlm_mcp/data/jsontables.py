"""JSON and JSONL copies: the chunker hands every record to a sink as it reads it (no second parse);
the sink writes one line per record, `{"r": record, "p": path, "k": key, "v": value}`, and DuckDB
reads those lines with types inferred from all of them (`sample_size = -1`).

Object records become columns (nested objects stay STRUCTs, arrays LISTs); other records a `value`
column; a field whose records disagree on its type is widened to JSON and the warning says so.
"""

import json
from pathlib import Path
from typing import IO

import duckdb

from .conversion import write_parquet
from .naming import unique_names
from .sandbox import quote_literal, quote_name

MIN_OBJECT_BYTES = 1 << 20  # DuckDB's read buffer is twice this: sized to the longest record written
MEASURED_LINE = 1 << 17  # lines longer than this are measured in bytes (shorter: 4 bytes a character)
META = ("record", "json_path", "key")


class JsonRecordSink:
    """Receives records in record order (the n-th call is record n) and writes them one per line."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.records = 0
        self.containers: set[str] = set()
        self.members = False
        self.longest = 0  # bytes of the longest line written (an upper bound for short lines)
        self.scalar_strings = True  # every record is a JSON string or null: the types are known
        self._out: IO[str] = target.open("w", encoding="utf-8")

    def __call__(self, container: str | None, path: str | None, key: str | None, raw: str) -> None:
        """`raw` is the record's JSON text exactly as in the file; its newlines are whitespace
        between tokens (JSON strings cannot hold a raw newline), so they become spaces."""
        self.records += 1
        if container is not None:
            self.containers.add(container)
        if key is not None:
            self.members = True
        flat = raw.replace("\r", " ").replace("\n", " ").strip()
        line = f'{{"r":{self.records},"p":{json.dumps(path)},"k":{json.dumps(key)},"v":{flat}}}\n'
        size = len(line.encode("utf-8")) if len(line) > MEASURED_LINE else 4 * len(line)
        self.longest = max(self.longest, size)
        if self.scalar_strings and not flat.startswith(('"', "null")):
            self.scalar_strings = False
        self._out.write(line)

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()


def write_json_copy(
    conn: duckdb.DuckDBPyConnection, sink: JsonRecordSink, target: Path
) -> tuple[list[str], int]:
    """The final table from the sink's lines; returns warnings and the number of columns written."""
    sink.close()
    source = quote_literal(str(sink.target))
    size = max(MIN_OBJECT_BYTES, sink.longest + 1024)
    warnings: list[str] = []
    if sink.scalar_strings:
        # Trigger: every record is a string (one 48 MB JSON string, say). Why: DuckDB's type detection
        # reads every value twice at ~0.2 s/MB and sizes its buffer to 4 bytes a character, which ran out
        # of memory at 24 MB. Outcome: the column is VARCHAR, as detection would find, read once.
        relation = (
            f"read_json({source}, format = 'newline_delimited', maximum_object_size = {size}, "
            "columns = {r: 'BIGINT', p: 'VARCHAR', k: 'VARCHAR', v: 'VARCHAR'})"
        )
        return warnings, _write(conn, sink, relation, [], target)
    try:
        relation = (
            f"read_json({source}, format = 'newline_delimited', sample_size = -1, "
            f"maximum_object_size = {size}, records = true)"
        )
        described = conn.execute(f"DESCRIBE SELECT v FROM {relation}").fetchall()
        value_type = str(described[0][1])
    except duckdb.Error as error:
        # Trigger: DuckDB cannot build one schema (keys that differ only in case, say). Why: the records
        # must still be queryable. Outcome: each record is one JSON value, read with ->> or json_extract.
        relation = (
            f"read_json({source}, format = 'newline_delimited', maximum_object_size = {size}, "
            "columns = {r: 'BIGINT', p: 'VARCHAR', k: 'VARCHAR', v: 'JSON'})"
        )
        value_type = "JSON"
        warnings.append(
            "records could not share one set of columns ("
            + str(error).splitlines()[0][:160]
            + "): each is kept whole in column value (JSON)"
        )
    fields, widened = _struct_fields(conn, relation) if value_type.startswith("STRUCT") else ([], [])
    if widened:
        listed = ", ".join(widened[:10]) + (" …" if len(widened) > 10 else "")
        warnings.append(f"records disagree on the type of {len(widened)} field(s) ({listed}): stored as JSON")
    return warnings, _write(conn, sink, relation, fields, target, warnings)


def _write(
    conn: duckdb.DuckDBPyConnection,
    sink: JsonRecordSink,
    relation: str,
    fields: list[tuple[str, str]],
    target: Path,
    warnings: list[str] | None = None,
) -> int:
    """Write the final file: record, json_path and key where they say something, then the value's
    fields as columns (or `value`); returns the number of columns."""
    parts = ["r AS record"]
    if len(sink.containers) > 1:
        parts.append("p AS json_path")
    if sink.members:
        parts.append("k AS key")
    if fields:
        names, renamed = unique_names([name for name, _ in fields], reserved=[p.split()[-1] for p in parts])
        if warnings is not None:
            warnings.extend(renamed)
        parts += [
            f"v.{quote_name(field)} AS {quote_name(name)}"
            for (field, _), name in zip(fields, names, strict=True)
        ]
    else:
        parts.append("v AS value")
    write_parquet(conn, f"SELECT {', '.join(parts)} FROM {relation}", target, len(parts))
    return len(parts)


def _struct_fields(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The top-level fields of the records and the ones widened to JSON (mixed types)."""
    rows = conn.execute(f"DESCRIBE SELECT unnest(v) FROM {relation}").fetchall()
    fields = [(str(r[0]), str(r[1])) for r in rows]
    return fields, [name for name, kind in fields if kind == "JSON"]
