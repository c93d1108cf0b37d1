"""Regex mode: a scan of chunk text under a time budget."""

import time
from typing import Any

import regex

from ..answers import shorten
from ..config import Settings
from ..errors import InvalidInput
from ..store import Store
from ..store import search as db
from ..store.rows import ChunkText
from .results import PREVIEW_CHARS, Hit, SearchResult, location


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
            found = compiled.search(row.text, timeout=remaining)
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


def _regex_hit(row: ChunkText, found: Any) -> Hit:
    text = row.text
    start, end = found.span()
    before = text[max(0, start - 80) : start]
    preview = f"{'…' if start > 80 else ''}{before}«{text[start:end][:120]}»{text[end : end + 100]}"
    line = row.start_line + text.count("\n", 0, start)
    return Hit(
        row.id,
        row.document_id,
        1.0,
        location(row.document_name, line, line, row.section),
        shorten(preview, PREVIEW_CHARS),
    )
