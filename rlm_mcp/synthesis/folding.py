"""Deterministic merging of analysts' results: exact sums, merged stats, folded findings, themes.

Everything here is pure Python over plain rows; the same inputs always give the same output, in the
same order, whatever the order the tasks finished in.
"""

import decimal
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..answers import shorten
from ..ids import format_id
from ..store.rows import RatedFinding

RELEVANCE_RANK = {"high": 3, "medium": 2, "low": 1, "none": 0}
DEFAULT_RELEVANCE = 2  # an analyst that did not say is taken as "medium"
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
RANK_NAMES = {3: "high", 2: "medium", 1: "low", 0: "none"}
WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "with",
        "not",
        "no",
        "into",
        "than",
        "then",
        "there",
        "their",
        "these",
        "those",
        "which",
        "who",
        "will",
        "can",
        "may",
    ]
)
MIN_EVIDENCE_KEY = 12
TITLE_JACCARD = 0.6  # same evidence and titles this alike: one finding
MAX_ITEM_CITATIONS = 50
MAX_COUNT_VALUES = 100
OTHER_VALUES = "(other values)"

# ---------------------------------------------------------------- counts and stats


def sum_counts(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Exact integer sums per dimension and value, ordered by count then value."""
    totals: dict[str, Counter[str]] = {}
    for part in parts:
        for dimension, values in part.items():
            totals.setdefault(dimension, Counter()).update(values)
    return {d: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for d, c in sorted(totals.items())}


def cap_counts(counts: dict[str, dict[str, int]], limit: int = MAX_COUNT_VALUES) -> dict[str, dict[str, int]]:
    """Keep the `limit` largest values per dimension; the rest add up in one entry (totals stay exact)."""
    capped = {}
    for dimension, values in counts.items():
        items = list(values.items())
        kept = dict(items[:limit])
        if len(items) > limit:
            kept[f"{OTHER_VALUES[:-1]}: {len(items) - limit})"] = sum(n for _, n in items[limit:])
        capped[dimension] = kept
    return capped


def merge_stats(parts: Iterable[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """n and sum added, min and max over all parts, mean from the totals; exact for integer sums."""
    merged: dict[str, dict[str, Any]] = {}
    sums: dict[str, list[Any]] = {}
    for part in parts:
        for metric, s in part.items():
            m = merged.setdefault(metric, {"n": 0, "sum": 0, "min": None, "max": None})
            m["n"] += s["n"]
            sums.setdefault(metric, []).append(s["sum"])
            if s["min"] is not None:
                m["min"] = s["min"] if m["min"] is None else min(m["min"], s["min"])
            if s["max"] is not None:
                m["max"] = s["max"] if m["max"] is None else max(m["max"], s["max"])
    for metric, m in merged.items():
        values = sums[metric]
        if all(isinstance(v, int) for v in values):
            m["sum"] = sum(values)
            m["mean"] = m["sum"] / m["n"] if m["n"] else None
            continue
        # The decimal digits each analyst sent, added exactly: 0.1 + 0.2 is 0.3, and a sum of
        # thousands of prices comes out to the cent instead of carrying binary rounding.
        total = sum((decimal.Decimal(repr(v)) for v in values), decimal.Decimal(0))
        m["sum"] = float(total)
        m["mean"] = float(total / m["n"]) if m["n"] else None
    return dict(sorted(merged.items()))


# ---------------------------------------------------------------- folding


@dataclass(frozen=True, slots=True)
class Folded:
    """One finding, or several near-duplicates folded together with all their citations."""

    title: str
    detail: str
    evidence: str
    citations: tuple[int, ...]
    finding_ids: tuple[int, ...]
    relevance: int
    severity: str | None
    kind: str | None
    tags: tuple[str, ...]
    line: int | None

    @property
    def support(self) -> int:
        return len(self.finding_ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "detail": self.detail,
            "evidence": self.evidence,
            "citations": [format_id("c", c) for c in self.citations[:MAX_ITEM_CITATIONS]],
            "citations_total": len(self.citations),
            "support": self.support,
            "relevance": RANK_NAMES[self.relevance],
            "severity": self.severity,
            "kind": self.kind,
            "tags": list(self.tags),
            "line": self.line,
        }

    def to_line(self) -> str:
        marks = "/".join(x for x in (RANK_NAMES[self.relevance], self.severity, self.kind) if x)
        cites = ", ".join(format_id("c", c) for c in self.citations[:8])
        if len(self.citations) > 8:
            cites += f" +{len(self.citations) - 8} more"
        line = f" line {self.line}" if self.line else ""
        detail = f" — {shorten(self.detail, 280)}" if self.detail else ""
        support = f" ×{self.support}" if self.support > 1 else ""
        evidence = shorten(self.evidence, 160)
        return f"- [{marks}] {shorten(self.title, 160)}{detail} «{evidence}» ({cites}{line}){support}"


def title_words(title: str) -> frozenset[str]:
    return frozenset(w.rstrip("s") or w for w in WORD.findall(title.lower()) if w not in STOPWORDS)


def _evidence_key(evidence: str) -> str | None:
    key = " ".join(WORD.findall(evidence.lower()))
    return key if len(key) >= MIN_EVIDENCE_KEY else None


class _Groups:
    """Union-find over row indexes."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def fold_findings(rows: Sequence[RatedFinding]) -> list[Folded]:
    """Fold findings that are the same item, never two items that merely share a title.

    Two findings fold when their titles are alike and either they quote the same evidence, or they
    cite the same or a neighbouring chunk and one's evidence contains the other's (an item seen by
    two analysts, one of them through the chunk's context). 84 findings titled alike, each quoting
    its own chunk, stay 84: "list every X" keeps every X.
    """
    rows = sorted(rows, key=_content_key)  # content order, not id order: ids follow completion order
    groups = _Groups(len(rows))
    words = [title_words(r.title) for r in rows]
    keys = [_evidence_key(r.evidence) for r in rows]
    by_evidence: dict[str, list[int]] = {}
    by_chunk: dict[int, list[int]] = {}
    for i, r in enumerate(rows):
        key = keys[i]
        if key is None:
            continue
        for j in by_evidence.get(key, ()):
            if _jaccard(words[i], words[j]) >= TITLE_JACCARD:
                groups.union(j, i)
                break
        else:
            by_evidence.setdefault(key, []).append(i)
        chunk = r.chunk_id
        for near in (chunk - 1, chunk, chunk + 1):
            for j in by_chunk.get(near, ()):
                other = keys[j]
                contained = other is not None and other != key and (key in other or other in key)
                if contained and _jaccard(words[i], words[j]) >= TITLE_JACCARD:
                    groups.union(j, i)
        by_chunk.setdefault(chunk, []).append(i)
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(groups.find(i), []).append(i)
    return [_folded([rows[i] for i in m]) for _, m in sorted(members.items())]


def _content_key(r: RatedFinding) -> tuple[Any, ...]:
    return (r.chunk_id, r.title, r.evidence, r.detail, r.kind or "", r.severity or "", r.tags, r.line or 0,
            r.relevance or "", r.id)  # fmt: skip


def _relevance(row: RatedFinding) -> int:
    return RELEVANCE_RANK.get(row.relevance or "", DEFAULT_RELEVANCE)


def _single(r: RatedFinding) -> Folded:
    """The common case, a finding nothing folded into: the same result as `_folded`, faster."""
    return Folded(
        r.title,
        r.detail,
        r.evidence,
        tuple(sorted(set(r.citations or (r.chunk_id,)))),
        (r.id,),
        _relevance(r),
        r.severity,
        r.kind,
        tuple(sorted(set(r.tags))),
        r.line,
    )


def _folded(rows: list[RatedFinding]) -> Folded:
    if len(rows) == 1:
        return _single(rows[0])
    head = min(
        rows,
        key=lambda r: (
            -_relevance(r),
            -SEVERITY_RANK.get(r.severity or "", -1),
            -len(r.detail),
            _content_key(r),
        ),
    )
    citations: set[int] = set()
    tags: Counter[str] = Counter()
    for r in rows:
        citations.update(r.citations or (r.chunk_id,))
        tags.update(r.tags)
    severities = [r.severity for r in rows if r.severity]
    return Folded(
        title=head.title,
        detail=head.detail,
        evidence=head.evidence,
        citations=tuple(sorted(citations)),
        finding_ids=tuple(sorted(r.id for r in rows)),
        relevance=max(_relevance(r) for r in rows),
        severity=max(severities, key=lambda s: SEVERITY_RANK.get(s, -1)) if severities else None,
        kind=head.kind,
        tags=tuple(t for t, _ in sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))),
        line=head.line,
    )


# ---------------------------------------------------------------- themes


@dataclass(frozen=True, slots=True)
class Theme:
    title: str
    items: tuple[Folded, ...]

    @property
    def relevance(self) -> int:
        return max(f.relevance for f in self.items)

    @property
    def support(self) -> int:
        return sum(f.support for f in self.items)

    def citations(self, items: Sequence[Folded] | None = None) -> list[int]:
        return sorted({c for f in (self.items if items is None else items) for c in f.citations})


def _item_order(f: Folded) -> tuple[Any, ...]:
    return (-f.relevance, -SEVERITY_RANK.get(f.severity or "", -1), -f.support, f.citations[:1], f.title)


def build_themes(folded: Sequence[Folded]) -> list[Theme]:
    """Group by the most shared tag, else kind, else the most shared title word; strongest themes first."""
    tag_freq = Counter(t for f in folded for t in f.tags)
    word_freq = Counter(w for f in folded if not f.tags and not f.kind for w in title_words(f.title))
    grouped: dict[str, list[Folded]] = {}
    for f in folded:
        if f.tags:
            key = min(f.tags, key=lambda t: (-tag_freq[t], t))
        elif f.kind:
            key = f.kind
        else:
            common = [w for w in title_words(f.title) if word_freq[w] >= 2 and not w.isdigit()]
            key = min(common, key=lambda w: (-word_freq[w], w)) if common else "other findings"
        grouped.setdefault(key, []).append(f)
    themes = [Theme(key, tuple(sorted(items, key=_item_order))) for key, items in grouped.items()]
    return sorted(themes, key=lambda t: (-t.relevance, -t.support, t.title))
