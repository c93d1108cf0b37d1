"""Prose and markdown: split at headings, then paragraphs, then sentences, never mid-word.

The text is read in large blocks and split into paragraphs with one regular expression, so the
per-line work of a Python loop never happens. The heading path is each chunk's context, with the
last words of the previous chunk marked as such (overlap travels as context, never as owned text).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from .base import MAX_CHARS, READ_LINE_LIMIT, TARGET_CHARS, Chunk, split_long

MIN_CHARS_BEFORE_HEADING_BREAK = 300
OVERLAP_CHARS = 160
READ_BLOCK = 1 << 20
PARAGRAPH_BREAK = re.compile(r"\n(?:[ \t\r\f\v]*\n)+")
# A sentence ends at . ! ? or … with the quotes and brackets that close it, then whitespace: it
# keeps all of them, so a paragraph's sentences joined are the paragraph again.
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+(?=\S)")
MARKDOWN_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
TEXT_HEADING = re.compile(
    r"^(?:(BOOK|PART|VOLUME|ACT)|(CHAPTER|SECTION|SCENE|EPILOGUE|PROLOGUE|PREFACE|INTRODUCTION))\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class _Block:
    """A paragraph (or a heading line) with its line span."""

    text: str
    start_line: int
    end_line: int
    heading_level: int = 0


@dataclass(slots=True)
class _Pending:
    parts: list[str] = field(default_factory=list)
    size: int = 0
    start_line: int = 0
    end_line: int = 0
    section: str = ""


def _paragraphs(text: TextIO) -> Iterator[tuple[str, int]]:
    """(paragraph, first line) for every blank-line separated paragraph, read in 1 MB blocks.

    A paragraph longer than READ_LINE_LIMIT with no blank line (a minified file, a 50 MB single
    line) is cut at its last newline or space before the limit, so memory stays bounded.
    """
    buffer = ""
    line = 1
    while True:
        block = text.read(READ_BLOCK)
        buffer += block
        start = 0
        for match in PARAGRAPH_BREAK.finditer(buffer):
            if match.end() == len(buffer) and block:
                break  # the break may continue in the next block
            end = match.end()
            yield buffer[start : match.start()], line
            line += buffer.count("\n", start, end)  # the paragraph's and the break's
            start = end
        buffer = buffer[start:]
        if not block:
            if buffer.strip():
                yield buffer, line
            return
        while len(buffer) > READ_LINE_LIMIT:
            cut = max(buffer.rfind("\n", 0, READ_LINE_LIMIT), buffer.rfind(" ", 0, READ_LINE_LIMIT)) + 1
            cut = cut or READ_LINE_LIMIT
            yield buffer[:cut], line
            line += buffer.count("\n", 0, cut)
            buffer = buffer[cut:]


def _sentences(text: str) -> Iterator[str]:
    """A paragraph's sentences, each with what closes it and the whitespace after it (SENTENCE_END)."""
    start = 0
    for match in SENTENCE_END.finditer(text):
        yield text[start : match.end()]
        start = match.end()
    if start < len(text):
        yield text[start:]


class ProseChunker:
    """Markdown (`#` headings, fences kept whole where they fit) or plain text (CHAPTER-like headings)."""

    def __init__(self, content_type: str = "text") -> None:
        self.content_type = content_type
        self._headings: list[tuple[int, str]] = []
        self._stats = {"paragraphs": 0, "headings": 0, "lines": 0}

    def profile(self) -> dict[str, Any]:
        return {
            "lines": self._stats["lines"],
            "paragraphs": self._stats["paragraphs"],
            "headings": self._stats["headings"],
        }

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        pending = _Pending()
        previous_tail = ""
        for block in self._blocks(text):
            if block.heading_level:
                self._enter_heading(block)
                if pending.size >= MIN_CHARS_BEFORE_HEADING_BREAK:
                    yield from self._flush(pending, previous_tail)
                    previous_tail = ""
                    pending = _Pending()
                elif pending.size:  # a few words before the heading: the chunk belongs to what follows
                    pending.section = self._heading_path()
            # one piece, the common case, without a generator per paragraph
            short = len(block.text) <= MAX_CHARS
            pieces = ((block.text, block.start_line, block.end_line),) if short else self._pieces(block)
            for piece, start_line, end_line in pieces:
                if pending.size and pending.size + len(piece) > MAX_CHARS:
                    chunk = self._flush_one(pending, previous_tail)
                    previous_tail = chunk.text[-OVERLAP_CHARS:]
                    yield chunk
                    pending = _Pending()
                if not pending.size:
                    pending.start_line = start_line
                    pending.section = self._heading_path()
                pending.parts.append(piece)
                pending.size += len(piece)
                pending.end_line = end_line
                if pending.size >= TARGET_CHARS:
                    chunk = self._flush_one(pending, previous_tail)
                    previous_tail = chunk.text[-OVERLAP_CHARS:]
                    yield chunk
                    pending = _Pending()
        yield from self._flush(pending, previous_tail)

    # -- blocks ---------------------------------------------------------------------------------

    def _blocks(self, text: TextIO) -> Iterator[_Block]:
        fence_open: list[tuple[str, int]] = []  # markdown: paragraphs of an open code fence
        last_line = 0
        markdown = self.content_type == "markdown"
        for paragraph, line in _paragraphs(text):
            body = paragraph.strip("\r\n")
            if not body or body.isspace():
                continue
            start = line
            if paragraph[0] in "\r\n":
                lead = len(paragraph) - len(paragraph.lstrip("\r\n"))
                start += paragraph.count("\n", 0, lead)
            end = start + body.count("\n")
            last_line = max(last_line, end)
            if markdown and (fence_open or len(FENCE.findall(body)) % 2):
                fence_open.append((body, start))
                closes = len(fence_open) > 1 and len(FENCE.findall(body)) % 2
                if closes or sum(len(b) for b, _ in fence_open) > MAX_CHARS * 8:  # closed, or never closes
                    yield self._block("\n\n".join(b for b, _ in fence_open), fence_open[0][1], end)
                    fence_open = []
                continue
            yield self._block(body, start, end, end == start)
        if fence_open:
            joined = "\n\n".join(b for b, _ in fence_open)
            yield self._block(joined, fence_open[0][1], fence_open[0][1] + joined.count("\n"))
        self._stats["lines"] = last_line

    def _block(self, body: str, start: int, end: int, one_line: bool | None = None) -> _Block:
        """`one_line`: the caller knows whether the body holds a newline (it counted them)."""
        if one_line is None:
            one_line = "\n" not in body
        level = self._heading_level(body) if one_line else 0
        self._stats["headings" if level else "paragraphs"] += 1
        return _Block(body + "\n\n", start, end, level)

    def _heading_level(self, line: str) -> int:
        line = line.strip()
        if self.content_type == "markdown":
            match = MARKDOWN_HEADING.match(line)
            return len(match.group(1)) if match else 0
        if len(line) > 70:
            return 0
        match = TEXT_HEADING.match(line)
        if match:
            return 1 if match.group(1) else 2
        return 2 if line.isupper() and len(line) >= 3 and line[0].isalnum() else 0

    def _enter_heading(self, block: _Block) -> None:
        title = MARKDOWN_HEADING.sub(r"\2", block.text.strip()) if self.content_type == "markdown" else ""
        title = title or block.text.strip()
        self._headings = [h for h in self._headings if h[0] < block.heading_level]
        self._headings.append((block.heading_level, title[:80]))

    def _heading_path(self) -> str:
        return " > ".join(title for _, title in self._headings)

    # -- pieces and chunks ----------------------------------------------------------------------

    def _pieces(self, block: _Block) -> Iterator[tuple[str, int, int]]:
        """A paragraph whole if it fits, else its sentences, else whitespace-bounded slices."""
        if len(block.text) <= MAX_CHARS:
            yield block.text, block.start_line, block.end_line
            return
        line = block.start_line
        for sentence in _sentences(block.text):
            for piece in split_long(sentence, MAX_CHARS):
                last = line + piece.rstrip().count("\n")  # a trailing newline is not a line it holds
                yield piece, line, min(last, block.end_line)
                line = min(line + piece.count("\n"), block.end_line)

    def _flush(self, pending: _Pending, previous_tail: str) -> Iterator[Chunk]:
        if pending.size and "".join(pending.parts).strip():
            yield self._flush_one(pending, previous_tail)

    def _flush_one(self, pending: _Pending, previous_tail: str) -> Chunk:
        context = []
        if pending.section:
            context.append(f"Section: {pending.section}")
        if previous_tail.strip():
            words = previous_tail.split(None, 1)
            tail = words[1] if len(words) > 1 and not previous_tail[0].isspace() else previous_tail
            context.append(f"[end of previous chunk] …{' '.join(tail.split())}")
        return Chunk(
            text="".join(pending.parts).rstrip() + "\n",
            start_line=pending.start_line,
            end_line=pending.end_line,
            context="\n".join(context),
            section=pending.section,
        )
