"""Lines copies of text and logs: `line, text`, one row per line as the chunks number them.

DuckDB reads the file itself when its line ends are plain (`\\n` or `\\r\\n`), it holds no 0x01 byte
(the field separator used) and it is valid UTF-8; otherwise Python writes the lines out first, with
invalid bytes replaced as the chunks have them. Either way the count is checked against the file.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..hashing import PinnedFile
from .conversion import READ_LIMITS, write_parquet
from .sandbox import quote_literal

SCAN_BLOCK = 1 << 20
SEPARATOR = "\x01"
LINE_COLUMNS = (("line", "BIGINT"), ("text", "VARCHAR"))
# zstd level 1: the 40 Gutenberg books' copies took 0.40 s of CPU against 0.55 s at the default level
# (3), for 15.0 MB of files instead of 12.9 MB (the text is 32 MB).
LINES_ZSTD_LEVEL = 1


@dataclass(frozen=True, slots=True)
class LineScan:
    lines: int  # as Python's universal newlines count them
    plain: bool  # only \n and \r\n line ends, no separator byte
    bom: bool
    returns: bool = True  # any \r at all (a line may end in one): False spares a regexp per line


def scan_lines(file: PinnedFile) -> LineScan:
    newlines = returns = pairs = 0
    separator = False
    previous = b""
    last = b""
    bom = False
    with file.open_binary() as handle:
        first = True
        while block := handle.read(SCAN_BLOCK):
            if first:
                bom, first = block.startswith(b"\xef\xbb\xbf"), False
            newlines += block.count(b"\n")
            if b"\r" in block:
                returns += block.count(b"\r")
                pairs += block.count(b"\r\n") + (previous == b"\r" and block[:1] == b"\n")
            separator = separator or b"\x01" in block
            previous = last = block[-1:]
    lines = newlines + (1 if last not in (b"\n", b"") else 0)
    if returns != pairs:  # lone \r line ends: Python counts them, DuckDB does not
        lines = -1
    return LineScan(lines, returns == pairs and not separator, bom, returns > 0)


def write_lines(
    conn: duckdb.DuckDBPyConnection, source: Path, target: Path, quoted: bool, returns: bool, row_bytes: float
) -> None:
    """The lines copy in one pass: one `text` row per line, in file order (the view numbers them from
    their position: see `lines_view`). DuckDB drops a leading BOM as the chunker's utf-8-sig does.
    `returns`: the file holds a \\r, so a \\r before a line's \\n is cut (no regexp runs otherwise)."""
    options = "quote = '\"', escape = '\"'" if quoted else "quote = '', escape = ''"
    relation = (
        f"read_csv({quote_literal(str(source))}, columns = {{'text': 'VARCHAR'}}, header = false, "
        f"delim = {quote_literal(SEPARATOR)}, {options}, auto_detect = false, strict_mode = false, "
        f"new_line = '\\n', {READ_LIMITS}, parallel = false)"
    )
    text = "regexp_replace(coalesce(text, ''), '\\r$', '')" if returns else "coalesce(text, '')"
    write_parquet(
        conn, f"SELECT {text} AS text FROM {relation}", target, 1, row_bytes, level=LINES_ZSTD_LEVEL
    )


def lines_view(path: str) -> str:
    """The `line, text` relation of a lines copy: `line` is the row's position in the file + 1.

    The file is written in line order (one thread, insertion order kept), so the position is the line
    number; copies written before this stored `line` as a column, with the same values, and it is read
    the same way. A filter on `line` still skips row groups (DuckDB prunes on file_row_number)."""
    return (
        f"SELECT file_row_number + 1 AS line, text FROM read_parquet({quote_literal(path)}, "
        "file_row_number = true)"
    )


def normalize_lines(file: PinnedFile, target: Path) -> int:
    """Every line as the chunker reads it (universal newlines, invalid bytes replaced), quoted."""
    count = 0
    with (
        io.TextIOWrapper(file.open_binary(), encoding="utf-8-sig", errors="replace", newline=None) as text,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n", delimiter=SEPARATOR)
        for line in text:
            writer.writerow([line.removesuffix("\n")])
            count += 1
    return count
