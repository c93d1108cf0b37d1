"""search_chunks: the mode dispatch (bm25, regex, semantic, hybrid), scope and paging checks."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from ..config import Settings
from ..errors import InvalidInput
from ..store import Store
from .fusion import FusionMethod
from .lexical import bm25_search
from .patterns import regex_search
from .results import SearchResult
from .scope import resolve_scope

if TYPE_CHECKING:  # both bring numpy, which the server must not load before its first answer
    from ..embedding.model import Embedder
    from .quantized import BitIndexCache

Mode = Literal["hybrid", "bm25", "semantic", "regex"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "semantic", "regex")
MAX_TOP_K = 50
MAX_OFFSET = 10_000


def check_paging(top_k: int, offset: int) -> tuple[int, str | None]:
    if top_k < 1:
        raise InvalidInput(f"top_k must be at least 1 (got {top_k}); the default is 10.")
    if offset < 0 or offset > MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET} (got {offset}).")
    if top_k > MAX_TOP_K:
        return MAX_TOP_K, f"top_k={top_k} was capped at {MAX_TOP_K} so the answer fits; page with offset."
    return top_k, None


def search_chunks(
    store: Store,
    settings: Settings,
    query: str,
    mode: str = "hybrid",
    document_ids: Sequence[str | int] | str | int | None = None,
    top_k: int = 10,
    offset: int = 0,
    embedder: "Embedder | None" = None,
    bit_indexes: "BitIndexCache | None" = None,
    path: str | None = None,
) -> SearchResult:
    """The semantic and hybrid modes need `embedder` (the `Workspace` passes its own, and its
    `bit_indexes`); without one they answer with BM25 and say so."""
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    if not query or not query.strip():
        raise InvalidInput("query is empty. Pass words to look for (or a pattern with mode='regex').")
    top_k, cap_note = check_paging(top_k, offset)
    scope = resolve_scope(store.conn(), settings, document_ids, path)
    if mode == "regex":
        result = regex_search(store, settings, query, scope, top_k, offset)
    elif mode == "bm25":
        result = bm25_search(store, query, scope, top_k, offset)
    else:
        result = vector_search(store, settings, query, mode, scope, top_k, offset, embedder, bit_indexes)
    if cap_note:
        note = f"{cap_note} {result.note}" if result.note else cap_note
        result = SearchResult(
            result.query,
            result.mode,
            result.hits,
            result.offset,
            result.total,
            result.total_is_lower_bound,
            note,
        )
    return result


def vector_search(
    store: Store,
    settings: Settings,
    query: str,
    mode: str,
    scope: list[int] | None,
    top_k: int,
    offset: int,
    embedder: "Embedder | None",
    bit_indexes: "BitIndexCache | None",
) -> SearchResult:
    """Semantic and hybrid modes (`hybrid`); until vectors exist they answer with BM25 and say so."""
    from . import hybrid  # imported on first use: it brings numpy, which the server must not load at start

    fusion: FusionMethod = "rrf" if settings.fusion == "rrf" else "minmax"
    return hybrid.vector_search(
        store, query, mode, scope, top_k, offset, embedder, fusion, settings.rrf_k, bit_indexes
    )
