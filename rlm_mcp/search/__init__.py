"""Search over the store's chunks: BM25 (FTS5), regex, semantic (sqlite-vec) and their hybrid fusion."""

from .fusion import FusionMethod, fuse
from .lexical import bm25_search, fts_query
from .modes import MODES, search_chunks
from .results import Hit, SearchResult, location

__all__ = [
    "MODES",
    "FusionMethod",
    "Hit",
    "SearchResult",
    "bm25_search",
    "fts_query",
    "fuse",
    "location",
    "search_chunks",
]
