"""The cited chunks as a report shows them: text cut into plain and marked segments, where each mark is
a quote some finding gives as evidence. Quotes are found the way submissions verify them (whitespace,
typographic quotes and dashes ignored, '…' between parts), so a verified quote is highlighted."""

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..ids import format_id
from ..jobs.evidence import ELLIPSIS, QUOTES, TYPOGRAPHY
from ..store.reports import ChunkText

MAX_SOURCE_CHARS = 1_500_000  # all cited text together; past it each chunk shows windows around its quotes
MIN_CHUNK_CHARS = 200  # what each chunk keeps at least when the total is over the budget
WINDOW_PAD = 100  # characters kept either side of a quote in a cut chunk


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    findings: tuple[int, ...] = ()  # empty: plain text; else the findings quoting it
    gap: int = 0  # a cut: this many characters are not shown here


@dataclass(frozen=True, slots=True)
class Source:
    chunk_id: int
    document: str
    path: str
    location: str
    context: str
    segments: tuple[Segment, ...]
    chars: int
    cut: bool
    findings: tuple[int, ...]  # every finding citing this chunk
    located: frozenset[int]  # the findings whose quote was found in this chunk's text


def locate_quote(text: str, evidence: str, flat: str | None = None) -> list[tuple[int, int]]:
    """Spans of `text` that a quote covers (one per '…'-separated part), or [] when it is not there.
    `flat`: `text` with typography made plain, when the caller has it already."""
    at = text.find(evidence) if evidence else -1
    if at >= 0:  # the common case: a verbatim quote
        return [(at, at + len(evidence))]
    flat = text.translate(TYPOGRAPHY) if flat is None else flat
    parts = [p for p in ELLIPSIS.split(evidence.translate(TYPOGRAPHY).strip(QUOTES + " ")) if p.strip()]
    spans, start = [], 0
    for part in parts:
        pattern = r"\s+".join(re.escape(word) for word in part.split())
        match = re.compile(pattern).search(flat, start)
        if match is None:
            return []
        spans.append((match.start(), match.end()))
        start = match.end()
    return spans


def _segments(text: str, marks: Sequence[tuple[int, int, int]]) -> list[Segment]:
    """Plain and marked pieces; overlapping quotes share one mark naming all their findings."""
    cuts = sorted({0, len(text), *(p for s, e, _ in marks for p in (s, e))})
    out: list[Segment] = []
    for a, b in itertools.pairwise(cuts):
        ids = tuple(sorted({f for s, e, f in marks if s <= a and b <= e}))
        if out and out[-1].findings == ids:
            out[-1] = Segment(out[-1].text + text[a:b], ids)
        else:
            out.append(Segment(text[a:b], ids))
    return out


def _windows(text: str, marks: Sequence[tuple[int, int, int]], limit: int) -> list[tuple[int, int]]:
    """Ranges of `text` to keep: around each quote, else the start; about `limit` characters."""
    if not marks:
        return [(0, min(len(text), limit))]
    quoted = sum(e - s for s, e, _ in marks)
    pad = max(WINDOW_PAD, (limit - quoted) // (2 * len(marks)))  # the budget spread around the quotes
    ranges: list[tuple[int, int]] = []
    for s, e, _ in sorted(marks):
        lo, hi = max(0, s - pad), min(len(text), e + pad)
        if ranges and lo <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], hi))
        else:
            ranges.append((lo, hi))
    kept: list[tuple[int, int]] = []
    used = 0
    for lo, hi in ranges:
        if used >= limit and kept:
            break
        kept.append((lo, hi))
        used += hi - lo
    return kept


def _cut_segments(text: str, marks: Sequence[tuple[int, int, int]], limit: int) -> list[Segment]:
    out: list[Segment] = []
    at = 0
    for lo, hi in _windows(text, marks, limit):
        if lo > at:
            out.append(Segment("", gap=lo - at))
        inside = [(max(s, lo) - lo, min(e, hi) - lo, f) for s, e, f in marks if s < hi and e > lo]
        out += _segments(text[lo:hi], inside)
        at = hi
    if at < len(text):
        out.append(Segment("", gap=len(text) - at))
    return out


def location(chunk: ChunkText) -> str:
    parts = [f"lines {chunk.start_line}–{chunk.end_line}"]
    if chunk.start_row is not None:
        parts.insert(0, f"records {chunk.start_row}–{chunk.end_row}")
    if chunk.section:
        parts.insert(0, chunk.section)
    return " · ".join(parts)


def build_sources(
    chunks: Sequence[ChunkText], quotes: dict[int, list[tuple[int, str]]], cited_by: dict[int, list[int]]
) -> list[Source]:
    """`quotes`: chunk id → (finding id, evidence) to highlight; `cited_by`: chunk id → finding ids."""
    total = sum(len(c.text) for c in chunks)
    limit = len(chunks) and max(MIN_CHUNK_CHARS, MAX_SOURCE_CHARS // len(chunks))
    sources = []
    for c in chunks:
        marks = [(s, e, f) for f, ev in quotes.get(c.id, []) for s, e in locate_quote(c.text, ev)]
        cut = total > MAX_SOURCE_CHARS and len(c.text) > limit
        segments = _cut_segments(c.text, marks, limit) if cut else _segments(c.text, marks)
        sources.append(
            Source(
                c.id,
                f"{format_id('d', c.document_id)} {c.document_name}",
                c.document_path,
                location(c),
                c.context,
                tuple(s for s in segments if s.text or s.gap),
                len(c.text),
                cut,
                tuple(sorted(set(cited_by.get(c.id, [])))),
                frozenset(f for _, _, f in marks),
            )
        )
    return sources
