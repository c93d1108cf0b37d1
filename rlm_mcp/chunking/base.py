"""What every chunker produces and promises.

Every line, row or element of a document is owned by exactly one chunk; text that helps a reader
but belongs to another chunk (a CSV header, a heading path, an import block, the end of the previous
chunk) travels in `context`, never in `text`. That is what makes counts across tasks exact.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

TARGET_CHARS = 1500  # a retrieval chunk: about 1–2k characters, near the embedder's 256-token window
MAX_CHARS = 2000
HARD_MAX_CHARS = 8000  # no chunk is ever longer (a single CSV row or minified line is cut at this)
READ_LINE_LIMIT = 1 << 20  # a line longer than this is read in pieces, so memory stays bounded


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    start_line: int  # 1-based, inclusive
    end_line: int
    context: str = ""  # preamble shown before the text: heading path, CSV header, imports, JSON path
    section: str = ""  # short label for locations: heading, `class Foo.bar`, `$[12]`, `rows 10-59`
    start_row: int | None = None  # CSV data rows / JSON elements / JSONL lines owned, 1-based
    end_row: int | None = None


class Chunker(Protocol):
    """Turns a text stream into chunks; `profile()` is complete once `chunks()` is exhausted."""

    content_type: str

    def chunks(self, text: TextIO) -> Iterator[Chunk]: ...

    def profile(self) -> dict[str, Any] | None: ...


def read_lines(text: TextIO) -> Iterator[tuple[int, str, bool]]:
    """Yield (line_number, piece, ends_line) with pieces of at most READ_LINE_LIMIT characters.

    A 50 MB single-line file arrives as 50 pieces of one line, never as one 50 MB string.
    """
    number = 1
    while True:
        piece = text.readline(READ_LINE_LIMIT)
        if not piece:
            return
        ends = piece.endswith(("\n", "\r"))
        yield number, piece, ends
        if ends:
            number += 1


def split_long(text: str, limit: int) -> list[str]:
    """Split `text` into pieces ≤ limit, at the last whitespace before the limit where there is one.

    Linear in the text's length: the pieces are cut at positions, never by re-slicing the rest (a
    48 MB JSON string was cut 6,000 times, each copying what remained).
    """
    pieces = []
    start, size = 0, len(text)
    while size - start > limit:
        end = start + limit
        cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end), text.rfind("\t", start, end))
        if cut - start < limit // 2:  # no whitespace near the end: a very long word, or none at all
            cut = end
        else:
            cut += 1
        pieces.append(text[start:cut])
        start = cut
    if start < size:
        pieces.append(text[start:])
    return pieces
