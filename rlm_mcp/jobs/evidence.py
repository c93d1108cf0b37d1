"""Whether a quoted evidence string really occurs in a task's text, and on which line.

A model quoting a chunk rarely reproduces its whitespace or typography exactly; the match forgives
both (and '…' between quoted parts), never the words themselves.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
QUOTES = "\"'“”‘’`"


@dataclass(frozen=True, slots=True)
class Source:
    """A piece of text a task showed its analyst: a chunk (text and context) or a reduce item."""

    chunk_id: int
    text: str
    start_line: int | None = None
    context: str = ""


@dataclass(frozen=True, slots=True)
class EvidenceMatch:
    chunk_id: int
    line: int | None


# One character for one, so positions in the flattened text still map back to lines.
TYPOGRAPHY = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "‑": "-",
        "−": "-",
    }
)


def _flat(text: str) -> str:
    """Whitespace collapsed and typographic quotes and dashes made plain: a model quoting “text”
    as "text" (or an em dash as a hyphen) still quotes verbatim."""
    return " ".join(text.translate(TYPOGRAPHY).split())


def _find_parts(haystack: str, parts: Sequence[str]) -> int:
    """Position of the first part when every part occurs in order, else -1."""
    first, start = -1, 0
    for part in parts:
        at = haystack.find(part, start)
        if at < 0:
            return -1
        first = at if first < 0 else first
        start = at + len(part)
    return first


def _line_of(source: Source, flat: str, at: int) -> int | None:
    """Map a position in the whitespace-collapsed text back to a line of the original."""
    if source.start_line is None:
        return None
    tokens_before = flat.count(" ", 0, at)
    token_start = flat.rfind(" ", 0, at) + 1
    starts = [
        m.start() for m, _ in zip(re.finditer(r"\S+", source.text), range(tokens_before + 1), strict=False)
    ]
    if len(starts) <= tokens_before:
        return source.start_line
    offset = starts[tokens_before] + (at - token_start)
    return source.start_line + source.text.count("\n", 0, offset)


class EvidenceIndex:
    """Finds quotes in a task's sources, whitespace-insensitively; tolerates '…' between parts."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = list(sources)
        self._flat: dict[int, tuple[str, str]] = {}

    def _flats(self, i: int) -> tuple[str, str]:
        if i not in self._flat:
            source = self._sources[i]
            self._flat[i] = (_flat(source.text), _flat(source.context))
        return self._flat[i]

    def locate(self, evidence: str, chunk_id: int) -> EvidenceMatch | None:
        parts = [p for p in ELLIPSIS.split(_flat(evidence).strip(QUOTES + " ")) if p]
        if not parts:
            return None
        # The cited chunk first: a quote that also occurs elsewhere belongs to the chunk named.
        order = sorted(range(len(self._sources)), key=lambda i: self._sources[i].chunk_id != chunk_id)
        for i in order:
            flat_text, flat_context = self._flats(i)
            at = _find_parts(flat_text, parts)
            if at >= 0:
                return EvidenceMatch(self._sources[i].chunk_id, _line_of(self._sources[i], flat_text, at))
            if flat_context and _find_parts(flat_context, parts) >= 0:
                return EvidenceMatch(self._sources[i].chunk_id, None)
        return None
