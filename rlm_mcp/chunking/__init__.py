"""Chunking, one module per kind of content; `make_chunker` picks one by content type.

Detection looks at the extension first, then sniffs the first lines; `content_type=` overrides.
"""

from pathlib import Path

from ..errors import InvalidInput
from .base import Chunk, Chunker
from .prose import ProseChunker

MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdx", ".rst"}
CONTENT_TYPES = ("text", "markdown")


def detect_content_type(path: Path, head: str) -> str:
    """The content type of a file from its name and its first few kilobytes of text."""
    if path.suffix.lower() in MARKDOWN_EXTENSIONS:
        return "markdown"
    return "text"


def make_chunker(content_type: str, path: Path) -> Chunker:
    if content_type in ("text", "markdown"):
        return ProseChunker(content_type)
    raise InvalidInput(
        f"content_type {content_type!r} is not known; use 'auto' or one of: {', '.join(CONTENT_TYPES)}."
    )


__all__ = ["CONTENT_TYPES", "Chunk", "Chunker", "detect_content_type", "make_chunker"]
