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
from .conversion import READ_LIMITS, positioned, write_stage
from .sandbox import quote_literal

SCAN_BLOCK = 1 << 20
SEPARATOR = "\x01"


@dataclass(frozen=True, slots=True)
class LineScan:
    lines: int  # as Python's universal newlines count them
    plain: bool  # only \n and \r\n line ends, no separator byte
    bom: bool


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
    return LineScan(lines, returns == pairs and not separator, bom)


def stage_lines(conn: duckdb.DuckDBPyConnection, source: Path, stage: Path, quoted: bool) -> None:
    options = "quote = '\"', escape = '\"'" if quoted else "quote = '', escape = ''"
    relation = (
        f"read_csv({quote_literal(str(source))}, columns = {{'text': 'VARCHAR'}}, header = false, "
        f"delim = {quote_literal(SEPARATOR)}, {options}, auto_detect = false, strict_mode = false, "
        f"new_line = '\\n', {READ_LIMITS}, parallel = false)"
    )
    write_stage(conn, f"SELECT text FROM {relation}", stage, 2)


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


def lines_select(stage: Path, bom: bool) -> str:
    text = "regexp_replace(coalesce(text, ''), '\\r$', '')"
    if bom:
        text = f"CASE WHEN file_row_number = 0 THEN ltrim({text}, chr(65279)) ELSE {text} END"
    return f"SELECT file_row_number + 1 AS line, {text} AS text FROM {positioned(stage)}"
