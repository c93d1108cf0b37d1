"""Logs and other line-oriented text: windows of whole lines with overlap carried as marked context.

Window ends are content-defined (boundaries.py), so a line edited in the middle of a log changes
the window around it only, and appended lines change only the last window.

The last lines of the previous window travel in `context` under an `[overlap …]` marker; they are
owned by the previous chunk alone, so counting lines across chunks stays exact.
"""

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

from .base import HARD_MAX_CHARS, MAX_CHARS, Chunk, read_lines, split_long
from .boundaries import Cutter, records_per_chunk

SAMPLE_LINES = 32  # the first lines set how many go in a window
OVERLAP_LINES = 3
OVERLAP_MAX_CHARS = 400
LEVEL = re.compile(r"\b(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|SEVERE|FATAL|CRITICAL)\b")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d")
LEVEL_ALIASES = {"WARNING": "WARN", "SEVERE": "ERROR", "CRITICAL": "FATAL"}


class LineWindowChunker:
    """Windows of about TARGET_CHARS; a line longer than HARD_MAX_CHARS is cut into parts."""

    def __init__(self, content_type: str = "log", extra_profile: dict[str, Any] | None = None) -> None:
        self.content_type = content_type
        self._extra = dict(extra_profile or {})
        self._lines = 0
        self._levels: Counter[str] = Counter()
        self._first_time: str | None = None
        self._last_time: str | None = None

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {**self._extra, "lines": self._lines}
        if self.content_type == "log":
            profile["levels"] = dict(self._levels.most_common())
            if self._first_time:
                profile["time_range"] = [self._first_time, self._last_time]
        return profile

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        window: list[tuple[int, str]] = []
        size = 0
        overlap = ""
        lines = self._whole_lines(text)
        head = list(itertools.islice(lines, SAMPLE_LINES))
        cutter = Cutter(records_per_chunk([line for _, line in head]))
        for number, line in itertools.chain(head, lines):
            if window and size + len(line) > MAX_CHARS:
                yield self._chunk(window, overlap)
                overlap = self._overlap(window)
                window, size = [], 0
            window.append((number, line))
            size += len(line)
            if cutter.cut_after(line, len(window)):  # content-defined: an edit moves only nearby ends
                yield self._chunk(window, overlap)
                overlap = self._overlap(window)
                window, size = [], 0
        if window:
            yield self._chunk(window, overlap)

    def _whole_lines(self, text: TextIO) -> Iterator[tuple[int, str]]:
        """Whole lines (a very long line arrives as several parts with the same number)."""
        parts: list[str] = []
        for number, piece, ends in read_lines(text):
            parts.append(piece)
            if not ends and sum(map(len, parts)) < HARD_MAX_CHARS:
                continue
            line = "".join(parts)
            parts = []
            self._observe(number, line)
            for part in split_long(line, HARD_MAX_CHARS) if len(line) > HARD_MAX_CHARS else [line]:
                yield number, part
        if parts:
            line = "".join(parts)
            self._observe(self._lines + 1, line)
            yield self._lines, line

    def _observe(self, number: int, line: str) -> None:
        self._lines = max(self._lines, number)
        if self.content_type != "log":
            return
        head = line[:300]
        level = LEVEL.search(head)
        if level:
            self._levels[LEVEL_ALIASES.get(level.group(1), level.group(1))] += 1
        stamp = TIMESTAMP.search(head[:80])
        if stamp:
            self._first_time = self._first_time or stamp.group(0)
            self._last_time = stamp.group(0)

    @staticmethod
    def _chunk(window: list[tuple[int, str]], overlap: str) -> Chunk:
        start, end = window[0][0], window[-1][0]
        return Chunk(
            text="".join(line for _, line in window),
            start_line=start,
            end_line=end,
            context=overlap,
            section=f"lines {start}-{end}",
        )

    @staticmethod
    def _overlap(window: list[tuple[int, str]]) -> str:
        tail = window[-OVERLAP_LINES:]
        body = "".join(line for _, line in tail)[-OVERLAP_MAX_CHARS:]
        first, last = tail[0][0], tail[-1][0]
        return f"[overlap: lines {first}-{last}, owned by the previous chunk]\n{body.rstrip()}"
