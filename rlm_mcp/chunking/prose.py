"""Prose and markdown: split at headings, then paragraphs, then sentences, never mid-word.

The heading path is each chunk's context, with the last words of the previous chunk marked as
such (overlap travels as context, never as owned text).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from .base import MAX_CHARS, TARGET_CHARS, Chunk, read_lines, split_long

MIN_CHARS_BEFORE_HEADING_BREAK = 300
OVERLAP_CHARS = 160
SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=\S)")
MARKDOWN_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^\s*(```|~~~)")
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
            for piece in self._pieces(block.text):
                if pending.size and pending.size + len(piece) > MAX_CHARS:
                    chunk = self._flush_one(pending, previous_tail)
                    previous_tail = chunk.text[-OVERLAP_CHARS:]
                    yield chunk
                    pending = _Pending()
                if not pending.size:
                    pending.start_line = block.start_line
                    pending.section = self._heading_path()
                pending.parts.append(piece)
                pending.size += len(piece)
                pending.end_line = block.end_line
                if pending.size >= TARGET_CHARS:
                    chunk = self._flush_one(pending, previous_tail)
                    previous_tail = chunk.text[-OVERLAP_CHARS:]
                    yield chunk
                    pending = _Pending()
        yield from self._flush(pending, previous_tail)

    # -- blocks ---------------------------------------------------------------------------------

    def _blocks(self, text: TextIO) -> Iterator[_Block]:
        lines: list[str] = []
        start = 0
        in_fence = False
        last_line = 0
        for number, piece, ends in read_lines(text):
            last_line = number
            if ends:
                self._stats["lines"] = number
            stripped = piece.strip()
            if self.content_type == "markdown" and FENCE.match(piece):
                in_fence = not in_fence
            if not stripped and not in_fence:
                if lines:
                    yield from self._finish_block(lines, start, number - 1)
                    lines = []
                continue
            if not lines:
                start = number
            lines.append(piece)
            if sum(len(x) for x in lines) > MAX_CHARS * 4:  # a wall of text with no blank line
                yield from self._finish_block(lines, start, number)
                lines = []
        self._stats["lines"] = max(self._stats["lines"], last_line)
        if lines:
            yield from self._finish_block(lines, start, last_line)

    def _finish_block(self, lines: list[str], start: int, end: int) -> Iterator[_Block]:
        body = "".join(lines).strip("\r\n")
        level = self._heading_level(lines) if len(lines) == 1 else 0
        if level:
            self._stats["headings"] += 1
        else:
            self._stats["paragraphs"] += 1
        yield _Block(body + "\n\n", start, max(start, end), level)

    def _heading_level(self, lines: list[str]) -> int:
        line = lines[0].strip()
        if self.content_type == "markdown":
            match = MARKDOWN_HEADING.match(line)
            return len(match.group(1)) if match else 0
        if len(line) > 70:
            return 0
        match = TEXT_HEADING.match(line)
        if match:
            return 1 if match.group(1) else 2
        letters = [c for c in line if c.isalpha()]
        return 2 if len(letters) >= 3 and all(c.isupper() for c in letters) else 0

    def _enter_heading(self, block: _Block) -> None:
        title = MARKDOWN_HEADING.sub(r"\2", block.text.strip()) if self.content_type == "markdown" else ""
        title = title or block.text.strip()
        self._headings = [h for h in self._headings if h[0] < block.heading_level]
        self._headings.append((block.heading_level, title[:80]))

    def _heading_path(self) -> str:
        return " > ".join(title for _, title in self._headings)

    # -- pieces and chunks ----------------------------------------------------------------------

    def _pieces(self, paragraph: str) -> Iterator[str]:
        """A paragraph whole if it fits, else its sentences, else whitespace-bounded slices."""
        if len(paragraph) <= MAX_CHARS:
            yield paragraph
            return
        sentences = SENTENCE_END.split(paragraph)
        for index, sentence in enumerate(sentences):
            tail = "" if index == len(sentences) - 1 else " "
            yield from split_long(sentence + tail, MAX_CHARS)

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
