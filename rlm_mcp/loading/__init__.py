"""Loading: files, directories and globs into the store (allowed roots, staging, batches, reuse)."""

from .files import Selection, open_allowed, resolve_allowed, select_files, within_roots
from .loader import load_document
from .results import LoadedDocument, LoadResult, render_profile

__all__ = [
    "LoadResult",
    "LoadedDocument",
    "Selection",
    "load_document",
    "open_allowed",
    "render_profile",
    "resolve_allowed",
    "select_files",
    "within_roots",
]
