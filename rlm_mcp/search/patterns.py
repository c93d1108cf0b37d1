"""Regex mode: a scan of chunk text under a time budget, of a pattern bounded before it compiles.

The `regex` module expands a fixed repeat (`a{1000000000}`) into that many copies while compiling,
and a recursive pattern (`(?R)?`) can exhaust memory: the time budget covers matching only, so a
pattern's expanded size is estimated first and recursion refused.
"""

import re
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

MAX_EXPANDED_SIZE = 100_000  # atoms after repeats are expanded; a{100000} compiles in ~0.25 s
RECURSION = re.compile(r"\(\?(?:R|[+-]?\d+|&\w+|P>\w+)\)")
GROUP_OPENING = re.compile(r"\((?:\?(?:P?<\w+>|<[=!]|[:=!>|]|[a-zA-Z-]+:?))?")
QUANTIFIER = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def expanded_size(pattern: str) -> int:
    """An upper estimate of the atoms the compiled pattern holds: fixed repeat counts multiply."""
    stack: list[int] = [0]
    last = 0  # size of the atom (or group) a quantifier would repeat
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i, last = i + 2, 1
        elif char == "[":
            i, last = _class_end(pattern, i), 1
        elif char == "(":
            stack.append(0)
            i, last = GROUP_OPENING.match(pattern, i).end(), 0  # type: ignore[union-attr]
            continue
        elif char == ")" and len(stack) > 1:
            last = stack.pop()
            i += 1
        elif char == "{" and (found := QUANTIFIER.match(pattern, i)) and found.group(1):
            stack[-1] += last * (max(int(found.group(1)), 1) - 1)
            last *= max(int(found.group(1)), 1)
            i = found.end()
            continue
        else:
            i, last = i + 1, 0 if char in "|*+?" else 1
        stack[-1] += last
    return sum(stack)


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def compile_pattern(pattern: str) -> Any:
    """Compile a pattern from the model, refusing what would take the machine down while compiling."""
    if RECURSION.search(pattern):
        raise InvalidInput(
            f"The regular expression {shorten(pattern, 80)!r} is recursive ((?R), (?1), (?&name)); "
            "recursion is not supported. Rewrite it without recursion, or use mode='bm25'."
        )
    if (size := expanded_size(pattern)) > MAX_EXPANDED_SIZE:
        raise InvalidInput(
            f"The regular expression {shorten(pattern, 80)!r} repeats too much: about {size:,} pieces "
            f"once its fixed repeat counts are expanded (the limit is {MAX_EXPANDED_SIZE:,}). Use a range "
            "such as a{1,} or a smaller count, or use mode='bm25'."
        )
    try:
        return regex.compile(pattern, regex.MULTILINE)
    except (regex.error, OverflowError, RecursionError, MemoryError) as error:
        raise InvalidInput(
            f"Invalid regular expression {shorten(pattern, 80)!r}: {error or type(error).__name__}. Escape "
            "special characters with a backslash, or use mode='bm25' to search for plain words."
        ) from None


def regex_search(
    store: Store, settings: Settings, pattern: str, scope: list[int] | None, top_k: int, offset: int
) -> SearchResult:
    compiled = compile_pattern(pattern)
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
