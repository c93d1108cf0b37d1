"""CSV / TSV: chunks of whole rows (a quoted field may span lines), the header row as every chunk's context.

The raw text of each row is kept exactly as in the file (quotes, CRLF), so a chunk's text is a verbatim
slice of the document. Rows per chunk follow from the width of the first rows, and chunk ends are
content-defined (boundaries.py) so that an edit changes only the chunks it touches. Ragged rows are
kept and counted; an unterminated quote is reported and cannot swallow the rest of the file. Regular
batches are cut a chunk at a time (prefix sums of row lengths), not a row at a time.

`profile_columns=False` (the loader's choice when DuckDB profiles the columns from the copy's
staging file, data/profiling.py): no column profile here, and clean blocks are not parsed at all;
`header` and `clean` then tell the caller what the profile needs.
"""

import bisect
import itertools
from collections.abc import Iterator
from typing import Any, TextIO

from .base import HARD_MAX_CHARS, MAX_CHARS, Chunk, split_long
from .boundaries import Cutter, records_per_chunk
from .columns import ColumnProfiler
from .csvrows import REPORTED_PROBLEMS, Batch, RecordReader
from .detect import looks_like_key_values

HEADER_CONTEXT_MAX = 2000
SAMPLE_ROWS = 32


class TabularChunker:
    def __init__(
        self, content_type: str = "csv", delimiter: str | None = None, profile_columns: bool = True
    ) -> None:
        self.content_type = content_type
        self.profile_columns = profile_columns
        self.delimiter = delimiter or ("\t" if content_type == "tsv" else None)
        self._rows = 0
        self._ragged = 0
        self._blank = 0
        self._problems: list[dict[str, Any]] = []
        self._reader: RecordReader | None = None
        self._header: list[str] = []
        self._has_header = True
        self._profiler: ColumnProfiler | None = None
        self._batch: list[list[str]] = []
        self._context = ""
        self._cutter: Cutter | None = None
        # the chunk being filled: raw texts, first/last line, first row, rows in it, characters
        self._group: list[str] = []
        self._group_lines = (0, 0)
        self._group_first_row = 0
        self._group_rows = 0
        self._group_size = 0

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
        problems = (self._reader.problems if self._reader else []) + self._problems
        if problems:
            profile["problems"] = problems[:REPORTED_PROBLEMS]
        if self.profile_columns:
            profile["column_profiles"] = self._profiler.summary() if self._profiler else []
        return profile

    @property
    def header(self) -> list[str]:
        """The columns' names as the profile gives them (`column_N` without a header row)."""
        return list(self._header)

    @property
    def clean(self) -> bool:
        """Every record was one clean line of the header's width (csvrows.clean_records)."""
        return self._reader is not None and self._reader.clean and not self._ragged and not self._blank

    def _flush_profile(self) -> None:
        if self._profiler and self._batch:
            self._profiler.add_rows(self._batch)
        self._batch = []

    def _profile_rows(self, rows: list[list[str]]) -> None:
        if self._profiler is None:
            return
        self._batch.extend(rows)
        if self._profiler and len(self._batch) >= self._profiler.batch_rows:
            self._flush_profile()

    def _fit(self, row: list[str], line: int) -> list[str]:
        """A ragged row, counted and padded or cut to the header's width for the profile."""
        width = len(self._header)
        self._ragged += 1
        if len(self._problems) < REPORTED_PROBLEMS:
            self._problems.append(
                {"row": self._rows, "line": line, "error": f"{len(row)} fields, header has {width}"}
            )
        return row[:width] if len(row) > width else row + [""] * (width - len(row))

    # -- chunks -----------------------------------------------------------------------------------

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        self._reader = RecordReader(text, self.delimiter, parse=self.profile_columns)
        batches = self._reader.batches()
        first = next(batches, None)
        if first is None:
            return
        self.delimiter = self._reader.delimiter
        self._take_header(first)
        last = ("", 0)
        for batch in itertools.chain([first], batches):
            if not batch.raws:
                continue
            last = (batch.raws[-1], batch.starts[-1])
            if self._cutter is None:
                self._cutter = Cutter(records_per_chunk(batch.raws[:SAMPLE_ROWS]))
            if batch.regular or _of_width(batch.rows, len(self._header)):
                self._profile_rows(batch.rows)
                yield from self._regular(batch)
            else:
                yield from self._irregular(batch)
        yield from self._flush()
        if self._opens_quote(last[0]) and not any(
            p.get("error") == "unterminated quoted field" for p in self.problems
        ):
            self._problems.append({"line": last[1], "error": "unterminated quoted field"})

    def _opens_quote(self, raw: str) -> bool:
        """The last record ends inside a quoted field (a stray `5'11"` inside a field does not count)."""
        opens = raw.startswith('"') or f'{self.delimiter or ","}"' in raw
        return opens and raw.count('"') % 2 == 1

    @property
    def problems(self) -> list[dict[str, Any]]:
        return (self._reader.problems if self._reader else []) + self._problems

    def _take_header(self, batch: Batch) -> None:
        fields, raw = batch.rows[0], batch.raws[0].rstrip("\r\n")
        self._has_header = looks_like_header(fields)
        self._header = fields if self._has_header else [f"column_{i + 1}" for i in range(len(fields))]
        self._profiler = ColumnProfiler(self._header) if self.profile_columns else None
        if self._has_header:
            del batch.rows[0], batch.raws[0], batch.starts[0]
            if batch.ends is not batch.starts:  # one shared list when every record is one line
                del batch.ends[0]
            cut = len(raw) > HEADER_CONTEXT_MAX
            self._context = (
                f"{raw[:HEADER_CONTEXT_MAX]} … [header cut: {len(fields)} columns]" if cut else raw
            )
        else:
            self._context = f"[no header row; {len(fields)} columns]"

    def _regular(self, batch: Batch) -> Iterator[Chunk]:
        """Rows of the header's width: chunk ends found over the whole batch at once (prefix sums of
        lengths, vectorised content hashes); the rows after the last end stay open for the next batch."""
        raws, starts, ends = batch.raws, batch.starts, batch.ends
        count, index = len(raws), 0
        while self._group and index < count:  # finish the chunk the previous batch left open
            yield from self._add(raws[index], starts[index], ends[index], True)
            index += 1
        prefix = [0, *itertools.accumulate(map(len, raws))]
        assert self._cutter is not None
        cuts: list[int] = self._cutter.candidates(raws).tolist()
        pointer, minimum = 0, self._cutter.min_records
        while index < count:
            fits = max(index, bisect.bisect_right(prefix, prefix[index] + MAX_CHARS) - 2)
            pointer = bisect.bisect_left(cuts, index + minimum - 1, lo=pointer)
            if pointer < len(cuts) and cuts[pointer] <= fits:
                end = cuts[pointer] + 1
            elif fits < count - 1:
                end = fits + 1  # the next row would make the chunk too long
            else:
                break
            yield from self._rows_chunk(raws, starts, ends, index, end)
            index = end
        for rest in range(index, count):
            yield from self._add(raws[rest], starts[rest], ends[rest], True)

    def _rows_chunk(
        self, raws: list[str], starts: list[int], ends: list[int], index: int, end: int
    ) -> Iterator[Chunk]:
        if end - index == 1 and len(raws[index]) > HARD_MAX_CHARS:
            self._rows += 1
            yield from self._long_row(raws[index], starts[index], ends[index])
            return
        first = self._rows + 1
        self._rows += end - index
        section = f"rows {first}-{self._rows}" if end - index > 1 else f"row {first}"
        text = "".join(raws[index:end])
        yield Chunk(text, starts[index], ends[end - 1], self._context, section, first, self._rows)

    def _irregular(self, batch: Batch) -> Iterator[Chunk]:
        """A batch with blank lines or ragged rows: one record at a time."""
        width = len(self._header)
        for fields, raw, start, end in zip(batch.rows, batch.raws, batch.starts, batch.ends, strict=True):
            if not fields:
                self._blank += 1
                yield from self._add(raw, start, end, False)
                continue
            yield from self._add(raw, start, end, True)
            self._profile_rows([fields if len(fields) == width else self._fit(fields, start)])

    def _add(self, raw: str, start: int, end: int, is_row: bool) -> Iterator[Chunk]:
        """Add one record to the chunk being filled, closing it first when it is full."""
        if is_row:
            self._rows += 1
        if is_row and len(raw) > HARD_MAX_CHARS:
            yield from self._flush()
            yield from self._long_row(raw, start, end)
            return
        if self._group and is_row and self._group_size + len(raw) > MAX_CHARS:
            yield from self._flush()
        if not self._group:
            self._group_lines = (start, end)
            self._group_first_row = self._rows if is_row else self._rows + 1
        self._group.append(raw)
        self._group_lines = (self._group_lines[0], end)
        self._group_size += len(raw)
        self._group_rows += is_row
        if is_row and self._cutter is not None and self._cutter.cut_after(raw, self._group_rows):
            yield from self._flush()

    def _flush(self) -> Iterator[Chunk]:
        if not self._group:
            return
        first, rows = self._group_first_row, self._group_rows
        last = first + rows - 1
        section = (f"rows {first}-{last}" if rows > 1 else f"row {first}") if rows else "blank lines"
        yield Chunk(
            "".join(self._group), self._group_lines[0], self._group_lines[1], self._context, section,
            first if rows else None, last if rows else None,
        )  # fmt: skip
        self._group, self._group_rows, self._group_size = [], 0, 0

    def _long_row(self, raw: str, start: int, end: int) -> Iterator[Chunk]:
        """A row longer than HARD_MAX_CHARS: the row is owned by its first part; the rest continue it."""
        parts = split_long(raw, HARD_MAX_CHARS)
        for index, part in enumerate(parts):
            owner = self._rows if index == 0 else None
            section = f"row {self._rows} (part {index + 1}/{len(parts)})"
            yield Chunk(part, start, end, self._context, section, owner, owner)


def _of_width(rows: list[list[str]], width: int) -> bool:
    widths = list(map(len, rows))
    return widths.count(width) == len(widths)


def looks_like_header(fields: list[str]) -> bool:
    """A header names its columns: no field of the first row looks like a number or reads like a
    `Key: value` pair (`Date: 2024-01-02` is a record, and taking it for a header loses it)."""
    names = [f.strip() for f in fields]
    if not names or any(_is_number(name) for name in names if name):
        return False
    return not looks_like_key_values([names])


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
