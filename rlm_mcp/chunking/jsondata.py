"""JSON, streamed: one top-level array element (or object member) at a time, the JSON path as context.

The document is never parsed whole: a buffer of text is decoded element by element with the C
decoder (`raw_decode`), and a child too big for the buffer (`{"data": [ … 400 MB … ]}`) is walked
into, so memory stays bounded. A syntax error is reported with its line; the text after it is still
loaded, as plain lines, so nothing is lost.
"""

import ast
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, cast

from .base import HARD_MAX_CHARS, MAX_CHARS, Chunk, split_long
from .boundaries import Cutter, records_per_chunk
from .lines import LineWindowChunker
from .schema import SchemaProfiler

READ_BLOCK = 1 << 20
STREAM_THRESHOLD = 8 << 20  # a container larger than this is walked into rather than decoded whole
MAX_SCALAR = 64 << 20
MAX_NESTING = 8
SAMPLE_ELEMENTS = 32  # the first elements set how many go in a chunk
WHITESPACE = re.compile(r"[ \t\r\n]*")
INDEX = re.compile(r"\[\d+\]")
DECODER = json.JSONDecoder()

# Receives every record in record order: (container path, element path, member key, raw JSON text).
RecordSink = Callable[[str | None, str | None, str | None, str], None]


class JsonSyntaxError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class _Element:
    container: str  # JSON path of the array or object holding it
    path: str  # its own path: `$[12]`, `$.config`
    member: bool  # an object member (raw text starts with its key) rather than an array element
    raw: str
    value: Any
    start_line: int
    end_line: int


class _Buffer:
    """A window on the text stream with a line counter for the current position."""

    def __init__(self, text: TextIO, block: int = READ_BLOCK) -> None:
        self.text = text
        self.block = block
        self.buf = ""
        self.pos = 0
        self.line = 1
        self.eof = False

    def fill(self, at_least: int = 0) -> bool:
        if self.eof:
            return False
        if self.pos > len(self.buf) // 2:
            self.buf, self.pos = self.buf[self.pos :], 0
        more = self.text.read(max(at_least, self.block))
        if not more:
            self.eof = True
            return False
        if not self.buf and more.startswith("\ufeff"):
            more = more[1:]
        self.buf += more
        return True

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """The next non-blank character ('' at the end), consuming the blanks before it."""
        while True:
            end = WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            self.advance(end)
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def array_of_containers(self) -> bool:
        """The next value is an array whose first element is an object or an array (or it is empty)."""
        if self.peek() != "[":
            return False
        while True:
            end = WHITESPACE.match(self.buf, self.pos + 1).end()  # type: ignore[union-attr]
            if end < len(self.buf):
                return self.buf[end] in "{[]"
            if not self.fill():
                return False

    def take(self, expected: str) -> None:
        if self.peek() != expected:
            found = self.buf[self.pos : self.pos + 20] or "end of file"
            raise JsonSyntaxError(f"expected {expected!r}, found {found!r}", self.line)
        self.advance(self.pos + 1)

    def decode(self, limit: int) -> tuple[Any, str] | None:
        """The next value and its raw text; None when it is a container longer than `limit`."""
        while True:
            try:
                value, end = DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as error:
                if self.eof or not _maybe_incomplete(error, len(self.buf)):
                    raise JsonSyntaxError(
                        error.msg, self.line + self.buf.count("\n", self.pos, error.pos)
                    ) from None
                end = -1
            if end != -1 and (end < len(self.buf) or self.eof):  # a number at the end may go on
                raw = self.buf[self.pos : end]
                self.advance(end)
                return value, raw
            if len(self.buf) - self.pos > limit:
                if self.buf[self.pos] in "[{":
                    return None
                if len(self.buf) - self.pos > MAX_SCALAR:
                    raise JsonSyntaxError("a single value longer than 64 MB", self.line)
            self.fill(len(self.buf) - self.pos)


def _maybe_incomplete(error: json.JSONDecodeError, size: int) -> bool:
    return error.pos >= size - 8 or error.msg.startswith("Unterminated string")


class JsonChunker:
    """A JSON document: chunks of consecutive elements of one container, each element owned once."""

    content_type = "json"

    def __init__(self, stream_threshold: int = STREAM_THRESHOLD, read_block: int = READ_BLOCK) -> None:
        self.stream_threshold = stream_threshold
        self.read_block = read_block
        self._schema = SchemaProfiler()
        self._elements = 0
        self._top = ""
        self._problems: list[dict[str, Any]] = []
        self._tail: LineWindowChunker | None = None
        self._flushed = 0  # elements already placed in chunks
        self._error: JsonSyntaxError | None = None
        self.record_sink: RecordSink | None = None  # the columnar copy's (rlm_mcp/data)

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"top_level": self._top, "elements": self._elements}
        profile.update(self._schema.summary())
        if self._problems:
            profile["problems"] = self._problems
        if self._tail:
            profile["unparsed_lines"] = self._tail.profile()["lines"]
        return profile

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        buffer = _Buffer(text, self.read_block)
        group: list[_Element] = []
        size = 0
        elements = self._until_error(buffer)
        head = list(itertools.islice(elements, SAMPLE_ELEMENTS))
        cutter = Cutter(records_per_chunk([e.raw for e in head]))
        for element in itertools.chain(head, elements):
            if group and (group[0].container != element.container or size + len(element.raw) > MAX_CHARS):
                yield from self._flush(group)
                group, size = [], 0
            group.append(element)
            size += len(element.raw) + 2
            if cutter.cut_after(element.raw, len(group)):
                yield from self._flush(group)
                group, size = [], 0
        yield from self._flush(group)
        if self._error is not None:
            yield from self._rest_as_lines(buffer, self._error)

    def _until_error(self, buffer: _Buffer) -> Iterator[_Element]:
        """The elements before the first syntax error, which is kept for `chunks` to report."""
        try:
            yield from self._document(buffer)
        except JsonSyntaxError as error:
            self._error = error

    def _document(self, buffer: _Buffer) -> Iterator[_Element]:
        first = buffer.peek()
        if not first:
            return
        self._top = {"[": "array", "{": "object"}.get(first, "scalar")
        if first in "[{":
            yield from self._container(buffer, "$", 0)
        else:
            yield from self._one(buffer, "$", "$", "")
        if buffer.peek():
            raise JsonSyntaxError("more data after the top-level value", buffer.line)

    def _container(self, buffer: _Buffer, path: str, depth: int) -> Iterator[_Element]:
        opening = buffer.peek()
        closing = "]" if opening == "[" else "}"
        buffer.take(opening)
        index = 0
        while buffer.peek() != closing:
            if index:
                buffer.take(",")
            if opening == "[":
                child, label = f"{path}[{index}]", ""
            else:
                buffer.peek()
                key_line = buffer.line
                key = buffer.decode(MAX_SCALAR)
                if key is None or not isinstance(key[0], str):
                    raise JsonSyntaxError("expected an object key in double quotes", key_line)
                buffer.take(":")
                child = f"{path}.{key[0]}" if key[0].isidentifier() else f"{path}[{key[0]!r}]"
                label = key[1] + ": "
                if depth == 0 and path == "$" and buffer.array_of_containers():
                    # Trigger: {"orders": [ … ]}. Why: a member decoded whole is cut into text parts that
                    # split its elements, and counts over the parts are wrong. Outcome: its elements are
                    # the records, whatever the size, each owned by one chunk ($.orders[74]).
                    yield from self._container(buffer, child, depth + 1)
                    index += 1
                    continue
            yield from self._one(buffer, path, child, label, depth)
            index += 1
        buffer.take(closing)

    def _one(
        self, buffer: _Buffer, container: str, path: str, label: str, depth: int = 0
    ) -> Iterator[_Element]:
        buffer.peek()
        start = buffer.line
        decoded = buffer.decode(self.stream_threshold)
        if decoded is None:
            if depth >= MAX_NESTING:
                raise JsonSyntaxError("a value nested too deep to stream", start)
            yield from self._container(buffer, path, depth + 1)
            return
        value, raw = decoded
        self._elements += 1
        self._schema.add(value, _schema_path(path))
        if self.record_sink is not None:
            key = path.removeprefix(container).lstrip(".") if label else None
            self.record_sink(container, path, _member_key(key), raw)
        yield _Element(container, path, bool(label), label + raw, value, start, buffer.line)

    def _flush(self, group: list[_Element]) -> Iterator[Chunk]:
        if not group:
            return
        first, last = self._flushed + 1, self._flushed + len(group)
        self._flushed = last
        section = group[0].path if len(group) == 1 else f"{group[0].path}-{group[-1].path}"
        holder = "object" if group[0].member else "array"
        context = f"JSON path: {section}"
        if section != group[0].container:
            context += f" (in {holder} {group[0].container})"
        text = ",\n".join(e.raw for e in group) + "\n"
        if len(text) <= HARD_MAX_CHARS:
            yield Chunk(text, group[0].start_line, group[-1].end_line, context, section, first, last)
            return
        parts = split_long(text, HARD_MAX_CHARS)
        for index, part in enumerate(parts):
            owns = index == 0
            yield Chunk(
                part, group[0].start_line, group[-1].end_line, context,
                f"{section} (part {index + 1}/{len(parts)})", first if owns else None, last if owns else None,
            )  # fmt: skip

    def _rest_as_lines(self, buffer: _Buffer, error: JsonSyntaxError) -> Iterator[Chunk]:
        self._problems.append({"line": error.line, "error": error.message})
        rest = buffer.buf[buffer.pos :]
        lines = LineWindowChunker("text")
        for chunk in lines.chunks(cast(TextIO, _Rest(rest, buffer.text))):
            start, end = chunk.start_line + buffer.line - 1, chunk.end_line + buffer.line - 1
            yield Chunk(chunk.text, start, end, f"[not parsed as JSON: {error}]", f"lines {start}-{end}")
        self._tail = lines


class _Rest(io.TextIOBase):
    """The unparsed rest of the buffer, then the rest of the stream, read line by line."""

    def __init__(self, head: str, stream: TextIO) -> None:
        super().__init__()
        self._head = io.StringIO(head)
        self._stream = stream

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        limit = -1 if size is None else size
        line = self._head.readline(limit)
        if not line.endswith(("\n", "\r")) and (limit < 0 or len(line) < limit):
            line += self._stream.readline(limit - len(line) if limit >= 0 else -1)
        return line


def _member_key(key: str | None) -> str | None:
    """The member's own key from its path suffix (`name` or `['odd key']`)."""
    if key is None or not key.startswith("["):
        return key
    return str(ast.literal_eval(key[1:-1]))


def _schema_path(path: str) -> str:
    return INDEX.sub("[*]", path)


class JsonLinesChunker:
    """JSON Lines: chunks of whole lines; a line that is not JSON is reported with its number and skipped."""

    content_type = "jsonl"

    def __init__(self) -> None:
        self._schema = SchemaProfiler()
        self._records = 0
        self._lines = 0
        self._broken = 0
        self._flushed = 0
        self._problems: list[dict[str, Any]] = []
        self.record_sink: RecordSink | None = None  # the columnar copy's (rlm_mcp/data)

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"records": self._records, "lines": self._lines}
        if self._broken:
            profile["broken_lines"] = self._broken
            profile["problems"] = self._problems
        profile.update(self._schema.summary())
        return profile

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        group: list[tuple[int, str]] = []
        size = 0
        records = self._valid_lines(text)
        head = list(itertools.islice(records, SAMPLE_ELEMENTS))
        cutter = Cutter(records_per_chunk([line for _, line in head]))
        for number, line in itertools.chain(head, records):
            if group and size + len(line) > MAX_CHARS:
                yield from self._flush(group)
                group, size = [], 0
            group.append((number, line))
            size += len(line)
            if cutter.cut_after(line, len(group)):
                yield from self._flush(group)
                group, size = [], 0
        yield from self._flush(group)

    def _valid_lines(self, text: TextIO) -> Iterator[tuple[int, str]]:
        """(line number, line) of each line that parses; the others are reported and skipped."""
        for number, line in enumerate(text, start=1):
            self._lines = number
            stripped = line.strip().lstrip("\ufeff")
            if not stripped:
                continue
            try:
                value = json.loads(stripped)
            except ValueError as error:
                self._report(number, line, error)
                continue
            self._records += 1
            self._schema.add(value, "$")
            if self.record_sink is not None:
                self.record_sink(None, None, None, stripped)
            yield number, line

    def _report(self, number: int, line: str, error: ValueError) -> None:
        self._broken += 1
        if len(self._problems) < 20:
            message = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            self._problems.append(
                {"line": number, "error": f"{message}; skipped", "text": line[:120].rstrip()}
            )

    def _flush(self, group: list[tuple[int, str]]) -> Iterator[Chunk]:
        if not group:
            return
        first, last = self._flushed + 1, self._flushed + len(group)
        self._flushed = last
        start, end = group[0][0], group[-1][0]
        section = f"records {first}-{last}" if last > first else f"record {first}"
        context = f"JSON Lines, {section} (lines {start}-{end}), one JSON value per line"
        text = "".join(line if line.endswith("\n") else line + "\n" for _, line in group)
        parts = [text] if len(text) <= HARD_MAX_CHARS else split_long(text, HARD_MAX_CHARS)
        for index, part in enumerate(parts):
            owns = index == 0
            label = section if len(parts) == 1 else f"{section} (part {index + 1}/{len(parts)})"
            yield Chunk(part, start, end, context, label, first if owns else None, last if owns else None)
