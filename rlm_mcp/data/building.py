"""Building one document's copy alongside its chunks.

`start_copy` begins before chunking: for a table or a text, DuckDB reads the file into a staging
file in a thread of its own (it releases the GIL, so it overlaps with chunking and indexing); for
JSON the chunker feeds a sink. `CopyBuilder.finish(profile)` checks that the copy agrees with what
the chunker counted (same records, same header, same delimiter), falls back to writing the records
out in plain form where it does not, and writes the typed final file. A failure becomes a warning:
the document still loads, without a copy.
"""

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from ..hashing import PinnedFile
from . import files, lines, profiling, tables
from .built import BuiltCopy, DeferredColumns
from .conversion import (
    FINAL_MEMORY_MB,
    JSON_MEMORY_MB,
    STAGE_MEMORY_MB,
    BuildConnection,
    parquet_columns,
    parquet_rows,
    top_values,
    write_parquet,
)
from .files import DataCopy
from .jsontables import JsonRecordSink, write_json_copy

log = logging.getLogger(__name__)

TABLE_KINDS = ("csv", "tsv")
JSON_KINDS = ("json", "jsonl")
LINE_KINDS = ("text", "log", "markdown")
STAGE_THREADS = 1  # while chunking runs beside it
FINAL_THREADS = 2


@dataclass(frozen=True, slots=True)
class _Early:
    """A table's final file written in the staging thread, for the types it was written with."""

    kinds: list[str]
    path: Path
    warnings: list[str]
    top: dict[str, list[list[object]]]


def has_copy(content_type: str) -> bool:
    return content_type in TABLE_KINDS + JSON_KINDS + LINE_KINDS


class CopyBuilder:
    """The copy of one file of one content type; `sink` is set for JSON (the chunker feeds it)."""

    def __init__(
        self,
        copy: DataCopy,
        file: PinnedFile,
        content_type: str,
        stem: str,
        connection: BuildConnection | None = None,
    ) -> None:
        self.copy = copy
        self._own_connection = connection is None
        self._connection = connection or BuildConnection(copy.spill_directory)
        self.file = file
        self.content_type = content_type
        self.stem = stem
        self.sink: JsonRecordSink | None = None
        self._temps: list[Path] = []
        self._thread: threading.Thread | None = None
        self._stage_error: BaseException | None = None
        self._stage: Path | None = None
        self._layout: tables.CsvLayout | None = None
        self._scan: lines.LineScan | None = None
        # a table's column profile and type checks, computed in the staging thread (see profiling.py)
        self.profiles_columns = content_type in TABLE_KINDS and file.duckdb_path is not None
        self._stage_profile: profiling.StageProfile | None = None
        self._stage_types: tuple[list[str], list[tuple[str, bool]]] | None = None
        self._early: _Early | None = None  # the final file written in the staging thread
        self._early_top: dict[str, list[list[object]]] | None = None

    def _row_bytes(self, rows: int) -> float:
        """Source bytes per record: the final writer's row groups are bounded by them."""
        return self.file.size / rows if rows > 0 else 0.0

    def _temp(self, label: str) -> Path:
        path = files.temp_path(self.copy, f"{self.stem}.{label}")
        self._temps.append(path)
        return path

    # -- before chunking ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.content_type in JSON_KINDS:
            self.sink = JsonRecordSink(self._temp("records"))
            return
        self._stage = self._temp("stage")
        self._thread = threading.Thread(target=self._run_stage, name="rlm-copy", daemon=True)
        self._thread.start()

    def _run_stage(self) -> None:
        assert self._stage is not None
        source = self.file.duckdb_path  # this very file; None: no such path here, Python reads it
        try:
            if self.content_type in TABLE_KINDS:
                self._layout = tables.sniff_layout(self.file, self.content_type)
                if self._layout is not None and source is not None:
                    width = self._layout.width
                    conn = self._connection.use(STAGE_THREADS, width, STAGE_MEMORY_MB)
                    tables.stage_source(conn, source, self._layout, self._stage)
                    self._profile_stage(conn, width)
                return
            self._scan = scan = lines.scan_lines(self.file)
            if scan.plain and source is not None:  # the final file at once: see _finish_lines
                conn = self._connection.use(STAGE_THREADS, 1, STAGE_MEMORY_MB)
                row_bytes = self._row_bytes(scan.lines)
                lines.write_lines(conn, source, self._stage, False, scan.returns, row_bytes)
        except (duckdb.Error, OSError, ValueError) as error:
            self._stage_error = error

    def _profile_stage(self, conn: duckdb.DuckDBPyConnection, width: int) -> None:
        """While the chunker runs: the columns' profile and their candidate types, checked; `finish`
        uses them when the chunker's records turn out to be the ones DuckDB read."""
        assert self._stage is not None
        try:
            profile = profiling.profile_stage(conn, self._stage, width)
        except (profiling.ProfileMismatch, duckdb.Error) as error:  # the staging file stays good
            log.info("%s: the profile is computed after chunking (%s)", self.file, error)
            return
        self._stage_profile = profile
        kinds = [kind or "empty" for kind, *_ in profile.columns]
        try:
            types = tables.checked_types(conn, self._stage, kinds, profile.checks)
            self._stage_types = (kinds, types)
            self._write_early(conn, width, kinds, types)
        except duckdb.Error as error:  # finish checks and writes it all again (and falls back if need be)
            log.info("%s: the final copy is written after chunking (%s)", self.file, error)

    def _write_early(
        self, conn: duckdb.DuckDBPyConnection, width: int, kinds: list[str], types: list[tuple[str, bool]]
    ) -> None:
        """The final file too, and its exact top values, while the chunker still runs: `finish` takes
        them when DuckDB read the chunker's very records (else, or if a cast fails here, it writes
        the final file itself)."""
        assert self._layout is not None and self._stage is not None and self._stage_profile is not None
        select, warnings = tables.typed_select(conn, self._stage, self._layout.names, kinds, None, types)
        early = self._temp("early")
        conn = self._connection.use(STAGE_THREADS, width, FINAL_MEMORY_MB)
        try:
            write_parquet(conn, select, early, width + 1, self._row_bytes(self._stage_profile.rows))
        except duckdb.Error as error:
            files.discard_temp(early)
            log.info("%s: the final copy is written after chunking (%s)", self.file, error)
            return
        top = top_values(conn, early, parquet_columns(conn, early))
        self._early = _Early(kinds, early, warnings, top)

    # -- after chunking -----------------------------------------------------------------------------

    def finish(
        self, profile: dict[str, Any] | None, deferred: DeferredColumns | None = None
    ) -> BuiltCopy | None:
        """The finished copy, or None when the document has nothing to copy; with `deferred`, the
        profile's `column_profiles` are set here (before the types they decide are applied)."""
        if self._thread is not None:
            self._thread.join()
        target = self._temp("final")
        try:
            kind = "lines" if self.content_type in LINE_KINDS else "table"
            conn = self._final_connection(profile)
            warnings = self._write_final(conn, profile or {}, target, deferred)
            if warnings is None:
                return None
            records = parquet_rows(conn, target)
            columns = lines.LINE_COLUMNS if kind == "lines" else tuple(parquet_columns(conn, target))
            top = self._early_top
            if top is None:
                top = top_values(conn, target, list(columns)) if kind == "table" else {}
            self._temps.remove(target)
            return BuiltCopy(target, kind, records, columns, tuple(warnings), top)
        finally:
            self.discard_temps()

    def _final_connection(self, profile: dict[str, Any] | None) -> duckdb.DuckDBPyConnection:
        """A lines copy finishes with the settings its stage ran with: the stage wrote the file (what is
        left is a count, or the same one-thread write again), and changing them costs two SETs (~4 ms
        of CPU) per document, twice over (the next document's stage sets them back): the 40 books' copies
        took 0.83 s of CPU, 0.67 s without."""
        if self.content_type in LINE_KINDS:
            return self._connection.use(STAGE_THREADS, 1, STAGE_MEMORY_MB)
        width = int((profile or {}).get("columns") or 1)
        memory = JSON_MEMORY_MB if self.content_type in JSON_KINDS else FINAL_MEMORY_MB
        return self._connection.use(FINAL_THREADS, width, memory)

    def _write_final(
        self,
        conn: duckdb.DuckDBPyConnection,
        profile: dict[str, Any],
        target: Path,
        columns: DeferredColumns | None = None,
    ) -> list[str] | None:
        if self.content_type in JSON_KINDS:
            assert self.sink is not None
            if self.sink.records == 0:
                return None
            warnings, _ = write_json_copy(conn, self.sink, target)
            return warnings
        if self.content_type in TABLE_KINDS:
            return self._finish_table(conn, profile, target, columns)
        return self._finish_lines(conn, target)

    def _finish_table(
        self,
        conn: duckdb.DuckDBPyConnection,
        profile: dict[str, Any],
        target: Path,
        columns: DeferredColumns | None = None,
    ) -> list[str] | None:
        rows = int(profile.get("rows") or 0)
        width = int(profile.get("columns") or 0)
        if rows == 0 or width == 0:
            return None
        header = self._profile_header(profile, columns)
        layout = self._layout
        regular = not (profile.get("ragged_rows") or profile.get("blank_lines") or profile.get("problems"))
        direct = (
            layout is not None
            and self._stage_error is None
            and regular
            and layout.delimiter == profile.get("delimiter")
            and layout.header == bool(profile.get("header", True))
            and layout.width == width
            and self._stage is not None
            and self._stage.exists()
            and self.file.unchanged()  # DuckDB read the whole file: only the pinned bytes if it did not grow
            and parquet_rows(conn, self._stage) == rows
            and (columns is None or columns.clean)
        )
        if not direct:
            fields = header if header is not None else [f"column_{i + 1}" for i in range(width)]
            layout = tables.layout_for(
                fields, str(profile.get("delimiter") or ","), bool(profile.get("header", True))
            )
            normalized = self._temp("rows")
            counted, surplus = tables.normalize(self.file, layout, normalized)
            self._stage = self._temp("stage2")
            tables.stage_normalized(conn, normalized, layout.width, self._stage)
            if counted != rows:
                log.warning("%s: %d records re-read, the chunker counted %d", self.file, counted, rows)
        assert layout is not None and self._stage is not None
        if columns is not None:
            profile["column_profiles"] = self._column_profiles(conn, columns, direct, rows)
        kinds = [str(c.get("type", "string")) for c in profile.get("column_profiles") or []]
        kinds = (kinds + ["string"] * layout.width)[: layout.width]
        early = self._early
        if direct and early is not None and early.kinds == kinds:
            os.replace(early.path, target)
            self._early_top = early.top
            return [*layout.warnings, *early.warnings]
        checked = (
            self._stage_types if direct and self._stage_types and self._stage_types[0] == kinds else None
        )
        select, warnings = tables.typed_select(
            conn,
            self._stage,
            layout.names,
            kinds,
            None if direct else surplus,
            checked[1] if checked else None,
        )
        row_bytes = self._row_bytes(rows)
        try:
            write_parquet(conn, select, target, layout.width + 1, row_bytes)
        except duckdb.Error as error:
            # Trigger: a cast the checks passed still failed (a value DuckDB parses differently when it
            # casts). Why: never lose a record for a type. Outcome: every column stays text.
            select, _ = tables.typed_select(
                conn, self._stage, layout.names, ["string"] * layout.width, None if direct else surplus
            )
            write_parquet(conn, select, target, layout.width + 1, row_bytes)
            warnings.append(
                f"column types could not be applied ({str(error).splitlines()[0][:120]}): "
                "all columns are text"
            )
        return [*layout.warnings, *warnings]

    def _profile_header(self, profile: dict[str, Any], columns: DeferredColumns | None) -> list[str] | None:
        if not profile.get("header", True):
            return None
        if columns is not None:
            return list(columns.names) or None
        names = [str(c.get("name", "")) for c in profile.get("column_profiles") or []]
        return names or None

    def _column_profiles(
        self, conn: duckdb.DuckDBPyConnection, columns: DeferredColumns, direct: bool, rows: int
    ) -> list[dict[str, Any]]:
        """DuckDB's profile of the records the chunker counted: the staging thread's when DuckDB read
        the file itself, else one of the normalized records; Python's when neither agrees."""
        assert self._stage is not None
        try:
            stage_profile = self._stage_profile if direct else None
            if stage_profile is None:
                stage_profile = profiling.profile_stage(conn, self._stage, len(columns.names))
            if stage_profile.rows == rows:
                return stage_profile.summaries(columns.names)
            log.warning(
                "%s: %d records profiled, the chunker counted %d", self.file, stage_profile.rows, rows
            )
        except (profiling.ProfileMismatch, duckdb.Error) as error:
            log.info("%s: the profile is computed in Python (%s)", self.file, error)
        return columns.fallback()

    def _finish_lines(self, conn: duckdb.DuckDBPyConnection, target: Path) -> list[str] | None:
        """The lines file DuckDB wrote beside the chunker, when it read exactly the pinned bytes and
        found the lines they hold; else the lines as Python reads them, written out and read again."""
        scan = self._scan or lines.scan_lines(self.file)
        stage = self._stage
        ok = (
            scan.plain
            and self._stage_error is None
            and stage is not None
            and stage.exists()
            and self.file.unchanged()
            and parquet_rows(conn, stage) == scan.lines
        )
        if ok and stage is not None:
            os.replace(stage, target)
            return []
        normalized = self._temp("lines")
        lines.normalize_lines(self.file, normalized)  # universal newlines: no \r is left in a line
        lines.write_lines(conn, normalized, target, True, False, self._row_bytes(scan.lines))
        return []

    def discard_temps(self) -> None:
        if self.sink is not None:
            self.sink.close()
        if self._thread is not None:
            self._thread.join()
        for path in self._temps:
            files.discard_temp(path)
        self._temps.clear()
        if self._own_connection:
            self._connection.close()


def start_copy(
    copy: DataCopy,
    file: PinnedFile,
    content_type: str,
    stem: str,
    connection: BuildConnection | None = None,
) -> CopyBuilder | None:
    """A builder already reading `file`, or None when copies are off or the type has none;
    `connection`: the load's DuckDB connection, shared by its documents in turn (else one of its own)."""
    if not copy.copy_enabled or not has_copy(content_type):
        return None
    builder = CopyBuilder(copy, file, content_type, stem, connection)
    builder.start()
    return builder
