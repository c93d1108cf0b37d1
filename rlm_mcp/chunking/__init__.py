"""Chunking, one module per kind of content; `make_chunker` picks one by content type.

Detection looks at the extension first, then sniffs the first lines; `content_type=` overrides.
"""

from pathlib import Path

from ..errors import InvalidInput
from .base import Chunk, Chunker
from .code import CodeChunker
from .detect import detect_content_type, language_for
from .jsondata import JsonChunker, JsonLinesChunker
from .lines import LineWindowChunker
from .prose import ProseChunker
from .tabular import TabularChunker

CONTENT_TYPES = ("text", "markdown", "csv", "tsv", "json", "jsonl", "code", "log")
SHEBANG_BYTES = 256


def make_chunker(content_type: str, path: Path, head: str = "", profile_columns: bool = True) -> Chunker:
    """The chunker for a content type; for code, the language comes from the extension or a shebang;
    `profile_columns=False`: a table's columns are profiled elsewhere (see TabularChunker)."""
    if content_type in ("text", "markdown"):
        return ProseChunker(content_type)
    if content_type in ("csv", "tsv"):
        return TabularChunker(content_type, profile_columns=profile_columns)
    if content_type == "json":
        return JsonChunker()
    if content_type == "jsonl":
        return JsonLinesChunker()
    if content_type == "log":
        return LineWindowChunker("log")
    if content_type == "code":
        return CodeChunker(language_for(path, head or _shebang(path)))
    raise InvalidInput(
        f"content_type {content_type!r} is not known; use 'auto' or one of: {', '.join(CONTENT_TYPES)}."
    )


def _shebang(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(SHEBANG_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


__all__ = ["CONTENT_TYPES", "Chunk", "Chunker", "detect_content_type", "language_for", "make_chunker"]
