"""search_chunks: BM25 (FTS5), regex (a time-budgeted scan), semantic and hybrid.

User text never reaches FTS5 as syntax: `fts_query` keeps only word tokens and quotes each one, so
quotes, NEAR, `*`, `-` and parentheses are plain words or nothing.
"""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import regex

from .answers import shorten
from .config import Settings
from .errors import InvalidInput, NotFound
from .fusion import FusionMethod
from .ids import format_id, parse_ids
from .store import Store
from .store import documents as documents_db
from .store import search as db

Mode = Literal["hybrid", "bm25", "semantic", "regex"]
MODES: tuple[str, ...] = ("hybrid", "bm25", "semantic", "regex")
MAX_TOP_K = 50
MAX_OFFSET = 10_000
TOTAL_CAP = 1000
PREVIEW_CHARS = 240
WORD = regex.compile(r"\w+", regex.UNICODE)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    document_id: int
    score: float
    location: str
    preview: str
    ranks: dict[str, int] | None = None  # hybrid: the rank of this chunk in each list it came from

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "chunk_id": format_id("c", self.chunk_id),
            "document_id": format_id("d", self.document_id),
            "score": round(self.score, 4),
            "location": self.location,
            "preview": self.preview,
        }
        if self.ranks is not None:
            data["ranks"] = self.ranks
        return data


@dataclass(frozen=True, slots=True)
class SearchResult:
    query: str
    mode: str
    hits: tuple[Hit, ...]
    offset: int
    total: int | None = None
    total_is_lower_bound: bool = False
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"hits": [h.to_json() for h in self.hits]}
        if self.total is not None:
            data["total"] = self.total
        if self.note:
            data["note"] = self.note
        return data

    def to_text(self) -> str:
        total = "" if self.total is None else f" of {self.total}{'+' if self.total_is_lower_bound else ''}"
        first = self.offset + 1
        last = self.offset + len(self.hits)
        lines = [f"{self.mode} search for {shorten(self.query, 80)!r}: hits {first}–{last}{total}."]
        if not self.hits:
            lines = [f"{self.mode} search for {shorten(self.query, 80)!r}: no hits."]
        if self.note:
            lines.append(f"Note: {self.note}")
        for hit in self.hits:
            ranks = ""
            if hit.ranks:
                ranks = " [" + ", ".join(f"{k} #{v}" for k, v in hit.ranks.items()) + "]"
            lines.append(
                f"{format_id('c', hit.chunk_id)} ({hit.score:.3f}{ranks}) {hit.location}\n  {hit.preview}"
            )
        more = (self.total or 0) - self.offset - len(self.hits)
        if self.hits and more > 0:
            plus = "+" if self.total_is_lower_bound else ""
            lines.append(f"… {more}{plus} more; call search_chunks with offset={last}.")
        if self.hits:
            lines.append(
                "Next: get_chunk(chunk_id) reads a hit in full; create_job(query, search=...) analyses all."
            )
        else:
            lines.append("Next: try other words, mode='regex' for exact patterns, or list_documents.")
        return "\n".join(lines)


def location(document_name: str, start_line: int, end_line: int, section: str) -> str:
    lines = f"{start_line}" if start_line == end_line else f"{start_line}-{end_line}"
    return f"{document_name}:{lines}" + (f" {section}" if section else "")


def hit_from_row(row: Any, score: float, snippet: str | None, ranks: dict[str, int] | None = None) -> Hit:
    """A hit from a chunk's location row (store.search.hit_rows); the preview is the snippet if any."""
    preview = snippet if snippet is not None else row["text"]
    return Hit(
        int(row["id"]),
        int(row["document_id"]),
        score,
        location(row["document_name"], row["start_line"], row["end_line"], row["section"]),
        shorten(preview, PREVIEW_CHARS),
        ranks,
    )


def fts_query(text: str) -> str | None:
    """Words of `text`, each quoted, joined with OR (bag-of-words recall, BM25 ranks them)."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    if not words:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words[:64])


def resolve_scope(store: Store, document_ids: Sequence[str | int] | None) -> list[int] | None:
    ids = parse_ids(list(document_ids), "d") if document_ids else None
    if ids:
        missing = sorted(set(ids) - documents_db.existing_ids(store.conn(), ids))
        if missing:
            names = ", ".join(format_id("d", m) for m in missing)
            raise NotFound(f"No document {names}. list_documents gives valid document ids.")
    return ids


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
    document_ids: Sequence[str | int] | None = None,
    top_k: int = 10,
    offset: int = 0,
) -> SearchResult:
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)} (got {mode!r}).")
    if not query or not query.strip():
        raise InvalidInput("query is empty. Pass words to look for (or a pattern with mode='regex').")
    top_k, cap_note = check_paging(top_k, offset)
    scope = resolve_scope(store, document_ids)
    if mode == "regex":
        result = regex_search(store, settings, query, scope, top_k, offset)
    elif mode == "bm25":
        result = bm25_search(store, query, scope, top_k, offset)
    else:
        result = vector_search(store, settings, query, mode, scope, top_k, offset)
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


def bm25_search(store: Store, query: str, scope: list[int] | None, top_k: int, offset: int) -> SearchResult:
    match = fts_query(query)
    if match is None:
        return SearchResult(query, "bm25", (), offset, 0, note="The query has no words to search for.")
    conn = store.conn()
    ranked = db.bm25_candidates(conn, match, scope, offset + top_k)[offset:]
    rows = db.hit_rows(conn, [r["id"] for r in ranked])
    snippets = db.bm25_snippets(conn, match, [r["id"] for r in ranked])  # for the page only
    total = db.bm25_count(conn, match, scope, TOTAL_CAP)
    hits = tuple(
        hit_from_row(rows[r["id"]], r["score"], snippets.get(r["id"])) for r in ranked if r["id"] in rows
    )
    return SearchResult(query, "bm25", hits, offset, total, total >= TOTAL_CAP)


def vector_search(
    store: Store, settings: Settings, query: str, mode: str, scope: list[int] | None, top_k: int, offset: int
) -> SearchResult:
    """Semantic and hybrid modes (rlm_mcp/hybrid.py); until vectors exist they answer with BM25 and say so."""
    from . import hybrid  # imports this module: loaded on first use

    fusion: FusionMethod = "rrf" if settings.fusion == "rrf" else "minmax"
    return hybrid.vector_search(
        store, settings, query, mode, scope, top_k, offset, fusion=fusion, rrf_k=settings.rrf_k
    )


def regex_search(
    store: Store, settings: Settings, pattern: str, scope: list[int] | None, top_k: int, offset: int
) -> SearchResult:
    try:
        compiled = regex.compile(pattern, regex.MULTILINE)
    except (regex.error, OverflowError, RecursionError) as error:
        raise InvalidInput(
            f"Invalid regular expression {shorten(pattern, 80)!r}: {error}. Escape special characters "
            "with a backslash, or use mode='bm25' to search for plain words."
        ) from None
    deadline = time.monotonic() + settings.regex_budget_seconds
    hits: list[Hit] = []
    matched = scanned = 0
    timed_out = False
    for row in db.scan_chunks(store.conn(), scope):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        try:
            found = compiled.search(row["text"], timeout=remaining)
        except TimeoutError:
            timed_out = True
            break
        scanned += 1
        if found is None:
            continue
        matched += 1
        if offset < matched <= offset + top_k:
            hits.append(_regex_hit(row, found))
    note = None
    if timed_out:
        size = db.count_scope(store.conn(), scope)
        note = (
            f"Stopped after {settings.regex_budget_seconds:g} s having scanned {scanned} of {size} chunks; "
            "narrow the scope with document_ids or simplify the pattern."
        )
    return SearchResult(pattern, "regex", tuple(hits), offset, matched, timed_out, note)


def _regex_hit(row: Any, found: Any) -> Hit:
    text = row["text"]
    start, end = found.span()
    before = text[max(0, start - 80) : start]
    preview = f"{'…' if start > 80 else ''}{before}«{text[start:end][:120]}»{text[end : end + 100]}"
    line = row["start_line"] + text.count("\n", 0, start)
    return Hit(
        row["id"],
        row["document_id"],
        1.0,
        location(row["document_name"], line, line, row["section"]),
        shorten(preview, PREVIEW_CHARS),
    )
