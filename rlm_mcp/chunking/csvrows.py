"""CSV records with their raw text and line numbers, read a block of lines at a time.

Fast path: a block of ~1 MB of lines is parsed by the C `csv` reader in one call; when it yields one
record per line (no quoted newline in the block) each line is its record's raw text and no Python
code runs per row. A block with a quoted newline switches to the record-by-record path for the rest
of the file, which tracks the physical lines of each record and recovers from a runaway quote.

Without `parse` (the caller needs no field values: DuckDB profiles the columns), a block whose lines
are each one plain record of the first record's width (`clean_records`: fields unquoted or quoted
with no line break, no stray quote) is yielded unparsed, with `regular` set: one regex over the
block costs under half of the C reader building every field. Any other block is parsed as above;
`clean` says whether every block of the file was such a block.
"""

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .detect import sniff_delimiter

BLOCK_HINT = 1 << 20
SLOW_BATCH = 4096
RUNAWAY_ROW_CHARS = 4 << 20  # a "row" longer than this is an unterminated quote, not data
FIELD_SIZE_LIMIT = 1 << 26
REPORTED_PROBLEMS = 20


@dataclass(slots=True)
class Batch:
    rows: list[list[str]]  # parsed fields of each record
    raws: list[str]  # each record's text exactly as in the file
    starts: list[int]  # first and last physical line of each record (1-based)
    ends: list[int]
    regular: bool = False  # unparsed (rows empty): every record is one line of the header's width


class _Runaway(Exception):
    """A quoted field that does not close within RUNAWAY_ROW_CHARS."""


def clean_records(delimiter: str, width: int) -> re.Pattern[str]:
    """Lines that are each one record of `width` fields, every field plain or quoted on one line:
    csv, DuckDB and RFC 4180 all read such a record the same way."""
    d = re.escape(delimiter)
    field = f'(?:[^"{d}\\r\\n]*+|"[^"\\r\\n]*+(?:""[^"\\r\\n]*+)*+")'  # the quoted loop unrolled: 1.6x faster
    record = f"(?:{field}{d}){{{width - 1}}}{field}"
    return re.compile(f"(?:{record}(?:\\r\\n|\\n|\\r))*+(?:{record}(?:\\r\\n|\\n|\\r)?)?")


class RecordReader:
    def __init__(self, text: TextIO, delimiter: str | None, parse: bool = True) -> None:
        self.text = text
        self.delimiter = delimiter
        self.parse = parse
        self.clean = True  # every block so far held only clean records (see clean_records)
        self._clean: re.Pattern[str] | None = None
        self.problems: list[dict[str, Any]] = []
        self._pending: list[str] = []  # physical lines of the record being parsed (slow path)
        self._line = 0  # physical lines consumed by finished records (slow path)

    def batches(self) -> Iterator[Batch]:
        first = self.text.readline()
        if not first:
            return
        lines = [first.removeprefix("\ufeff"), *itertools.islice(self.text, 19)]
        if self.delimiter is None:
            self.delimiter = sniff_delimiter([line.rstrip("\r\n") for line in lines]) or ","
        csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))
        number = 1
        while True:
            new = self.text.readlines(BLOCK_HINT)
            lines.extend(new)
            if not lines:
                return
            carry = [lines.pop()] if new and lines[-1].count('"') % 2 else []  # may go on next line
            if self._clean is not None and lines and self._clean.fullmatch("".join(lines)):
                count = len(lines)
                starts = list(range(number, number + count))
                yield Batch([], lines, starts, starts, True)
                number += count
                if not new:
                    return
                lines = carry
                continue
            rows = list(csv.reader(lines, delimiter=self.delimiter))
            if number == 1 and rows:
                self._first_block(lines, len(rows[0]))
            elif lines:
                self.clean = False
            if len(rows) != len(lines):
                self.clean = False
                self._line = number - 1
                yield from self._slow(itertools.chain(lines, carry, self.text))
                return
            if rows:
                count = len(lines)  # counted first: the consumer takes the header out of this very list
                starts = list(range(number, number + count))
                yield Batch(rows, lines, starts, starts)
                number += count
            if not new:
                return
            lines = carry

    def _first_block(self, lines: list[str], width: int) -> None:
        """The first block is always parsed (the header is read from it); its width sets the pattern."""
        if self.parse or width < 2:  # one column: a blank line would pass for an empty field
            self.clean = False
            return
        self._clean = clean_records(self.delimiter or ",", width)
        self.clean = self._clean.fullmatch("".join(lines)) is not None

    # -- record by record -------------------------------------------------------------------------

    def _slow(self, lines: Iterator[str]) -> Iterator[Batch]:
        batch = Batch([], [], [], [])
        for fields, raw, start, end in self._records(lines):
            batch.rows.append(fields)
            batch.raws.append(raw)
            batch.starts.append(start)
            batch.ends.append(end)
            if len(batch.rows) >= SLOW_BATCH:
                yield batch
                batch = Batch([], [], [], [])
        if batch.rows:
            yield batch

    def _source(self, lines: Iterator[str]) -> Iterator[str]:
        pending = self._pending
        for line in lines:
            pending.append(line)
            if len(pending) & 1023 == 0 and sum(map(len, pending)) > RUNAWAY_ROW_CHARS:
                raise _Runaway
            yield line

    def _records(self, lines: Iterator[str]) -> Iterator[tuple[list[str], str, int, int]]:
        while True:
            reader = csv.reader(self._source(lines), delimiter=self.delimiter or ",")
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
        if len(self.problems) < REPORTED_PROBLEMS:
            self.problems.append({"line": self._line + 1, "error": reason})
        lines = list(self._pending)
        self._pending.clear()
        for line in lines:
            self._line += 1
            yield line.rstrip("\r\n").split(self.delimiter or ","), line, self._line, self._line
