"""CSV / TSV: chunks of whole rows (a quoted field may span lines), the header row as every chunk's context.

The raw text of each row is kept exactly as in the file (quotes, CRLF), so a chunk's text is a verbatim
slice of the document. Rows per chunk follow from the width of the first rows. Ragged rows are kept
and counted; an unterminated quote is reported and cannot swallow the rest of the file.
"""

import csv
import itertools
from collections.abc import Iterator
from typing import Any, TextIO

from .base import HARD_MAX_CHARS, MAX_CHARS, TARGET_CHARS, Chunk, split_long
from .columns import ColumnProfiler
from .detect import sniff_delimiter

HEADER_CONTEXT_MAX = 2000
SAMPLE_ROWS = 32
MAX_ROWS_PER_CHUNK = 1000
RUNAWAY_ROW_CHARS = 4 << 20  # a "row" longer than this is an unterminated quote, not data
FIELD_SIZE_LIMIT = 1 << 26
REPORTED_PROBLEMS = 20


class _Runaway(Exception):
    """A quoted field that does not close within RUNAWAY_ROW_CHARS."""


class TabularChunker:
    def __init__(self, content_type: str = "csv", delimiter: str | None = None) -> None:
        self.content_type = content_type
        self.delimiter = delimiter or ("\t" if content_type == "tsv" else None)
        self._pending: list[str] = []  # physical lines of the row being parsed
        self._line = 0  # physical lines consumed by finished rows
        self._rows = 0
        self._ragged = 0
        self._blank = 0
        self._problems: list[dict[str, Any]] = []
        self._header: list[str] = []
        self._has_header = True
        self._profiler: ColumnProfiler | None = None
        self._batch: list[list[str]] = []
        self._last_raw = ""  # the last record, checked for an unterminated quote at the end
        self._last_start = 0

    # -- profile ----------------------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        self._flush_profile()
        profile: dict[str, Any] = {
            "rows": self._rows,
            "columns": len(self._header),
            "delimiter": self.delimiter,
            "header": self._has_header,
        }
        if self._ragged:
            profile["ragged_rows"] = self._ragged
        if self._blank:
            profile["blank_lines"] = self._blank
        if self._problems:
            profile["problems"] = self._problems
        profile["column_profiles"] = self._profiler.summary() if self._profiler else []
        return profile

    def _observe(self, row: list[str], line: int) -> None:
        width = len(self._header)
        if len(row) != width:
            self._ragged += 1
            if len(self._problems) < REPORTED_PROBLEMS:
                self._problems.append(
                    {"row": self._rows, "line": line, "error": f"{len(row)} fields, header has {width}"}
                )
            row = row[:width] if len(row) > width else row + [""] * (width - len(row))
        self._batch.append(row)
        if self._profiler and len(self._batch) >= self._profiler.batch_rows:
            self._flush_profile()

    def _flush_profile(self) -> None:
        if self._profiler and self._batch:
            self._profiler.add_rows(self._batch)
        self._batch = []

    # -- rows -------------------------------------------------------------------------------------

    def _source(self, lines: Iterator[str]) -> Iterator[str]:
        pending = self._pending
        for line in lines:
            pending.append(line)
            if len(pending) & 1023 == 0 and sum(map(len, pending)) > RUNAWAY_ROW_CHARS:
                raise _Runaway
            yield line

    def _rows_with_text(self, text: TextIO) -> Iterator[tuple[list[str], str, int, int]]:
        """(fields, raw text, first line, last line) for each record, header included."""
        first = text.readline()
        if not first:
            return
        if first.startswith("\ufeff"):
            first = first[1:]
        head = [first, *itertools.islice(text, 19)]
        if self.delimiter is None:
            self.delimiter = sniff_delimiter([line.rstrip("\r\n") for line in head]) or ","
        lines: Iterator[str] = itertools.chain(head, text)
        csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
        while True:
            reader = csv.reader(self._source(lines), delimiter=self.delimiter)
            pending = self._pending
            try:
                for fields in reader:
                    raw = pending[0] if len(pending) == 1 else "".join(pending)
                    start = self._line + 1
                    self._line += len(pending)
                    pending.clear()
                    yield fields, raw, start, self._line
                return
            except (_Runaway, csv.Error) as error:
                yield from self._recover(error)

    def _recover(self, error: Exception) -> Iterator[tuple[list[str], str, int, int]]:
        """Trigger: a quote that never closes, or a line csv cannot parse. Why: one bad quote must not
        turn the rest of a 400 MB file into one field. Outcome: the lines read so far become rows split
        naively on the delimiter, the problem is reported, and parsing resumes on the next line."""
        reason = "unterminated quoted field" if isinstance(error, _Runaway) else str(error)
        if len(self._problems) < REPORTED_PROBLEMS:
            self._problems.append({"line": self._line + 1, "error": reason})
        lines = list(self._pending)
        self._pending.clear()
        for line in lines:
            self._line += 1
            yield line.rstrip("\r\n").split(self.delimiter or ","), line, self._line, self._line

    # -- chunks -----------------------------------------------------------------------------------

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        records = self._rows_with_text(text)
        header = next(records, None)
        if header is None:
            return
        context = self._take_header(header)
        group: list[tuple[str, int, int]] = []
        size, per_chunk, first_row, sample_chars = 0, MAX_ROWS_PER_CHUNK, 1, 0
        for fields, raw, start, end in self._data_rows(header, records):
            if not fields:
                group.append((raw, start, end))  # a blank line: owned text, not a row
                self._blank += 1
                continue
            self._rows += 1
            self._observe(fields, start)
            if self._rows <= SAMPLE_ROWS:
                sample_chars += len(raw)
                if self._rows == SAMPLE_ROWS:
                    per_chunk = max(1, min(MAX_ROWS_PER_CHUNK, TARGET_CHARS * SAMPLE_ROWS // sample_chars))
            if len(raw) > HARD_MAX_CHARS:
                yield from self._flush(group, first_row, self._rows - 1, context)
                group, size = [], 0
                yield from self._long_row(raw, start, end, context)
                first_row = self._rows + 1
                continue
            rows_in_group = self._rows - first_row
            if group and (rows_in_group >= per_chunk or size + len(raw) > MAX_CHARS):
                yield from self._flush(group, first_row, self._rows - 1, context)
                group, size, first_row = [], 0, self._rows
            group.append((raw, start, end))
            size += len(raw)
        yield from self._flush(group, first_row, self._rows, context)
        last = self._last_raw
        if last.count('"') % 2 and not any(
            p.get("error") == "unterminated quoted field" for p in self._problems
        ):
            self._problems.append({"line": self._last_start, "error": "unterminated quoted field"})

    def _data_rows(
        self, header: tuple[list[str], str, int, int], records: Iterator[tuple[list[str], str, int, int]]
    ) -> Iterator[tuple[list[str], str, int, int]]:
        self._last_raw, self._last_start = header[1], header[2]
        if not self._has_header:
            yield header
        for record in records:
            self._last_raw, self._last_start = record[1], record[2]
            yield record

    def _take_header(self, header: tuple[list[str], str, int, int]) -> str:
        fields, raw = header[0], header[1].rstrip("\r\n")
        self._has_header = _looks_like_header(fields)
        self._header = fields if self._has_header else [f"column_{i + 1}" for i in range(len(fields))]
        self._profiler = ColumnProfiler(self._header)
        if not self._has_header:
            return f"[no header row; {len(fields)} columns]"
        if len(raw) > HEADER_CONTEXT_MAX:
            return f"{raw[:HEADER_CONTEXT_MAX]} … [header cut: {len(fields)} columns]"
        return raw

    def _flush(
        self, group: list[tuple[str, int, int]], first: int, last: int, context: str
    ) -> Iterator[Chunk]:
        if not group:
            return
        has_rows = last >= first
        yield Chunk(
            text="".join(raw for raw, _, _ in group),
            start_line=group[0][1],
            end_line=group[-1][2],
            context=context,
            section=(f"rows {first}-{last}" if last > first else f"row {first}")
            if has_rows
            else "blank lines",
            start_row=first if has_rows else None,
            end_row=last if has_rows else None,
        )

    def _long_row(self, raw: str, start: int, end: int, context: str) -> Iterator[Chunk]:
        """A row longer than HARD_MAX_CHARS: the row is owned by its first part; the rest continue it."""
        parts = split_long(raw, HARD_MAX_CHARS)
        for index, part in enumerate(parts):
            yield Chunk(
                text=part,
                start_line=start,
                end_line=end,
                context=context,
                section=f"row {self._rows} (part {index + 1}/{len(parts)})",
                start_row=self._rows if index == 0 else None,
                end_row=self._rows if index == 0 else None,
            )


def _looks_like_header(fields: list[str]) -> bool:
    """A header names its columns: no field of the first row looks like a number."""
    names = [f.strip() for f in fields]
    return bool(names) and not any(_is_number(name) for name in names if name)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
