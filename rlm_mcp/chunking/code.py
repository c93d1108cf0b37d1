"""Source code: tree-sitter chunks at top-level definitions; a class too big for one chunk is split at
its members. Leading comments, doc comments, decorators and `export` stay with their definition.

Context: the file's import block (unless the chunk owns it) and the enclosing class signature. The
section names the symbol (`class Foo`, `def Foo.bar`, `fn main`). Unknown languages, files that do
not parse cleanly and parses that run too long fall back to line windows.
"""

import functools
import io
import itertools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from .base import HARD_MAX_CHARS, MAX_CHARS, TARGET_CHARS, Chunk
from .detect import CODE_EXTENSIONS
from .lines import LineWindowChunker
from .syntax import CLASS_LIKE, Node, body_of, classify, end_line, kind_of, name_of, unwrap

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = frozenset(CODE_EXTENSIONS.values())  # an allowlist: some bundled grammars hang
PARSE_SECONDS = 5.0
MAX_PARSE_CHARS = 4 << 20
IMPORTS_CONTEXT_MAX = 1200
SIGNATURE_MAX = 300
MAX_SPLIT_DEPTH = 3
# Sizes chosen by benchmarks/code_retrieval.py (see the README's design notes). A function up to
# WHOLE_FUNCTION_CHARS stays one chunk; a class up to WHOLE_CLASS_CHARS, else it is split at its
# members; neighbouring definitions share a chunk while together they fit PACK_CHARS.
WHOLE_FUNCTION_CHARS = 4000
WHOLE_CLASS_CHARS = MAX_CHARS
PACK_CHARS = 0


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int  # 1-based lines, inclusive; segments of one level tile their range exactly
    end: int
    kind: str  # "definition", "import" or "other"
    node: Node | None
    symbol: str  # "def Foo.bar", "" for other code


@functools.cache
def _parser(language: str) -> Any:
    import tree_sitter_language_pack  # heavy (grammars): imported on first use

    return tree_sitter_language_pack.get_parser(language)  # type: ignore[arg-type]


def parse(language: str, data: bytes, seconds: float = PARSE_SECONDS) -> Any | None:
    """A tree-sitter tree, or None when the language is not allowlisted or parsing overran `seconds`."""
    if language not in SUPPORTED_LANGUAGES:
        return None
    deadline = time.monotonic() + seconds

    def read(offset: int, _point: Any) -> bytes:
        return data[offset : offset + 65536]

    parser = _parser(language)
    try:
        return parser.parse(read, progress_callback=lambda *_: time.monotonic() > deadline)
    except ValueError:  # cancelled by the progress callback
        parser.reset()  # else the next parse would resume this one
        log.warning("tree-sitter %s parse gave up after %.1f s; using line windows", language, seconds)
        return None


class CodeChunker:
    content_type = "code"

    def __init__(self, language: str | None) -> None:
        self.language = language
        self._lines: list[str] = []
        self._imports = ""
        self._import_start = 0
        self._kinds: Counter[str] = Counter()
        self._method = "tree-sitter"
        self._fallback: LineWindowChunker | None = None

    def profile(self) -> dict[str, Any]:
        profile: dict[str, Any] = {"language": self.language or "unknown"}
        if self._fallback:
            profile["lines"] = self._fallback.profile()["lines"]
        else:
            profile["lines"] = len(self._lines) - (1 if self._lines and not self._lines[-1] else 0)
        profile["symbols"] = sum(self._kinds.values())
        if self._kinds:
            profile["kinds"] = dict(self._kinds.most_common())
        profile["chunking"] = self._method
        return profile

    def chunks(self, text: TextIO) -> Iterator[Chunk]:
        source = text.read(MAX_PARSE_CHARS + 1)
        tree = None
        minified = max(map(len, source.split("\n"))) > HARD_MAX_CHARS  # no definition fits a chunk
        if self.language and len(source) <= MAX_PARSE_CHARS and not minified:
            tree = parse(self.language, source.encode("utf-8", "replace"))
        if tree is None or tree.root_node.has_error:
            yield from self._line_windows(source, text, tree)
            return
        self._lines = [line + "\n" for line in source.split("\n")]
        self._lines[-1] = self._lines[-1][:-1]
        items = list(_top_items(tree.root_node))
        self._set_imports([n for n in items if classify(n) == "import"])
        self._count(items, 0)
        total = len(self._lines) if self._lines[-1] else len(self._lines) - 1
        segments = _partition(items, 1, max(1, total), "")
        yield from self._group(segments, [], 0)

    def _line_windows(self, source: str, rest: TextIO, tree: Any | None) -> Iterator[Chunk]:
        if not self.language or self.language not in SUPPORTED_LANGUAGES:
            self._method = "line windows (no grammar for this language)"
        elif tree is None:
            self._method = "line windows (file too large, lines too long, or parse timed out)"
        else:
            self._method = "line windows (syntax errors)"
        self._fallback = LineWindowChunker("code")
        stream = io.StringIO(source)
        whole = _Chained(stream, rest)
        yield from self._fallback.chunks(whole)  # type: ignore[arg-type]

    # -- imports and symbol counts ----------------------------------------------------------------

    def _set_imports(self, imports: list[Node]) -> None:
        if not imports:
            return
        self._import_start = imports[0].start_point[0] + 1
        lines = "\n".join(n.text.decode("utf-8", "replace").rstrip() for n in imports).split("\n")
        kept: list[str] = []
        for line in lines:
            if sum(map(len, kept)) + len(line) > IMPORTS_CONTEXT_MAX:
                kept.append(f"… ({len(lines) - len(kept)} more import lines)")
                break
            kept.append(line)
        self._imports = "\n".join(kept)

    def _count(self, nodes: list[Node], depth: int) -> None:
        for node in nodes:
            if classify(node) != "definition":
                continue
            kind = kind_of(node)
            self._kinds[kind] += 1
            body = body_of(node)
            if kind in CLASS_LIKE and body is not None and depth < MAX_SPLIT_DEPTH:
                self._count(list(body.named_children), depth + 1)

    # -- grouping segments into chunks ------------------------------------------------------------

    def _group(self, segments: list[_Segment], enclosing: list[str], depth: int) -> Iterator[Chunk]:
        current: list[_Segment] = []
        size = 0
        for segment in segments:
            length = self._size(segment.start, segment.end)
            if length > _whole_limit(segment):
                yield from self._flush(current, enclosing)
                current, size = [], 0
                yield from self._split(segment, enclosing, depth)
                continue
            has_definition = any(s.kind == "definition" for s in current)
            new_definition = segment.kind == "definition" and not has_definition
            if current and (new_definition or size + length > (PACK_CHARS if has_definition else MAX_CHARS)):
                yield from self._flush(current, enclosing)
                current, size = [], 0
            current.append(segment)
            size += length
        yield from self._flush(current, enclosing)

    def _split(self, segment: _Segment, enclosing: list[str], depth: int) -> Iterator[Chunk]:
        """A segment too big for one chunk: a class at its members, a function at the statements of its
        body, anything else (or a single huge statement) in line windows."""
        node = segment.node
        body = body_of(node) if node is not None and segment.kind == "definition" else None
        members = list(body.named_children) if body is not None else []
        if members and kind_of(node) in CLASS_LIKE and depth < MAX_SPLIT_DEPTH:
            scope = segment.symbol.split(" ", 1)[-1] + "."
            parts = _partition(members, segment.start, segment.end, scope)
            if parts:  # a namespace holding one big class recurses into the class
                signature = self._signature(node, body)
                yield from self._group(parts, [*enclosing, signature], depth + 1)
                return
        if len(members) > 1:
            pieces = self._statement_pieces(_partition(members, segment.start, segment.end, ""))
        else:
            pieces = self._line_pieces(segment.start, segment.end)
        label = segment.symbol or "top-level code"
        if node is not None and body is not None:
            signature = " ".join(self._signature(node, body).split())
        else:
            first = unwrap(node).start_point[0] if node is not None else segment.start - 1
            signature = self._lines[first].strip()[:SIGNATURE_MAX]
        for index, (low, high) in enumerate(pieces):
            extra = [f"{signature} … (continued)"] if index and node is not None else []
            section = label if len(pieces) == 1 else f"{label} (part {index + 1}/{len(pieces)})"
            yield self._chunk(low, high, section, [*enclosing, *extra])

    def _statement_pieces(self, statements: list[_Segment]) -> list[tuple[int, int]]:
        """Runs of whole statements of about TARGET_CHARS; a statement too big alone goes in line windows."""
        pieces: list[tuple[int, int]] = []
        start, end, size = 0, 0, 0
        for statement in statements:
            length = self._size(statement.start, statement.end)
            if size and (size + length > TARGET_CHARS or length > MAX_CHARS):
                pieces.append((start, end))
                size = 0
            if length > MAX_CHARS:
                pieces.extend(self._line_pieces(statement.start, statement.end))
                continue
            if not size:
                start = statement.start
            end, size = statement.end, size + length
        if size:
            pieces.append((start, end))
        return pieces

    def _line_pieces(self, low: int, high: int) -> list[tuple[int, int]]:
        pieces: list[tuple[int, int]] = []
        start, size = low, 0
        for number in range(low, high + 1):
            length = len(self._lines[number - 1])
            if size and size + length > TARGET_CHARS:
                pieces.append((start, number - 1))
                start, size = number, 0
            size += length
        pieces.append((start, high))
        return pieces

    def _flush(self, group: list[_Segment], enclosing: list[str]) -> Iterator[Chunk]:
        if not group:
            return
        symbols = [s.symbol for s in group if s.kind == "definition" and s.symbol]
        if symbols:
            section = ", ".join(symbols[:3]) + (f" (+{len(symbols) - 3} more)" if len(symbols) > 3 else "")
        else:
            section = "imports" if any(s.kind == "import" for s in group) else "top-level code"
        yield self._chunk(group[0].start, group[-1].end, section, enclosing)

    def _chunk(self, start: int, end: int, section: str, enclosing: list[str]) -> Chunk:
        owns_imports = start <= self._import_start <= end
        context = [self._imports] if self._imports and not owns_imports else []
        context.extend(enclosing)
        return Chunk(
            text="".join(self._lines[start - 1 : end]),
            start_line=start,
            end_line=end,
            context="\n".join(context),
            section=section,
        )

    def _size(self, start: int, end: int) -> int:
        return sum(len(line) for line in self._lines[start - 1 : end])

    def _signature(self, node: Node, body: Node) -> str:
        inner = unwrap(node)
        first, last = inner.start_point[0], max(inner.start_point[0], body.start_point[0] - 1)
        if body.start_point[0] == inner.start_point[0] or self._lines[body.start_point[0]].strip() in (
            "{",
            "",
        ):
            last = body.start_point[0]
        text = "".join(self._lines[first : last + 1]).rstrip()
        return text if len(text) <= SIGNATURE_MAX else text[:SIGNATURE_MAX] + " …"


def _whole_limit(segment: _Segment) -> int:
    """The largest size at which a segment stays one chunk."""
    if segment.kind != "definition" or segment.node is None:
        return MAX_CHARS
    limit = WHOLE_CLASS_CHARS if kind_of(segment.node) in CLASS_LIKE else WHOLE_FUNCTION_CHARS
    return min(limit, HARD_MAX_CHARS)


def _top_items(root: Node) -> Iterator[Node]:
    for node in root.named_children:
        if classify(node) == "transparent":
            yield from _top_items(node)
        else:
            yield node


def _partition(nodes: list[Node], low: int, high: int, scope: str) -> list[_Segment]:
    """Segments tiling lines low..high: each runs from the end of the previous one to its node's end,
    so comments, decorators and blank lines before a definition belong to it."""
    segments: list[_Segment] = []
    previous = low - 1
    for node in nodes:
        kind = classify(node)
        end = min(end_line(node), high)
        if kind in ("comment", "transparent") or end <= previous:
            continue
        symbol = f"{kind_of(node)} {scope}{name_of(node)}".rstrip() if kind == "definition" else ""
        segments.append(_Segment(previous + 1, end, kind, node, symbol))
        previous = end
    if not segments:
        return [_Segment(low, high, "other", None, "")] if low <= high else []
    if previous < high:
        last = segments[-1]
        segments[-1] = _Segment(last.start, high, last.kind, last.node, last.symbol)
    return segments


class _Chained(io.TextIOBase):
    """Text already read, then the rest of the stream."""

    def __init__(self, first: io.StringIO, rest: TextIO) -> None:
        super().__init__()
        self._parts = itertools.chain([first], [rest])
        self._current: Any = next(self._parts)

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        limit = -1 if size is None else size
        line: str = self._current.readline(limit)
        while not line.endswith(("\n", "\r")) and (limit < 0 or len(line) < limit):
            following = next(self._parts, None)
            if following is None:
                break
            self._current = following
            line += following.readline(limit - len(line) if limit >= 0 else -1)
        return line
