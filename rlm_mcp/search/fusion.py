"""Fusing ranked lists (BM25, vectors) into one: Reciprocal Rank Fusion and min-max score fusion.

Each input list is (id, score) best first, higher scores better. RRF scores `Σ 1/(k + rank)` and
ignores the scores; min-max rescales each list's scores to [0, 1] (0 for an id absent from a list) and
adds them with equal weights. Which one is the default is measured in benchmarks/retrieval.py.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Ranked = Sequence[tuple[int, float]]
FusionMethod = Literal["minmax", "rrf"]
FUSION_METHODS: tuple[str, ...] = ("minmax", "rrf")
RRF_K = 60.0  # the seeds' design; benchmarks/retrieval.py also measures smaller k


@dataclass(frozen=True, slots=True)
class Fused:
    id: int
    score: float
    ranks: tuple[tuple[str, int], ...]  # (list name, 1-based rank) for every list the id came from


def rrf(lists: Mapping[str, Ranked], k: float = RRF_K) -> list[Fused]:
    scores: dict[int, float] = {}
    for ranked in lists.values():
        for rank, (item, _score) in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return _ordered(scores, lists)


def minmax(
    lists: Mapping[str, Ranked],
    weights: Mapping[str, float] | None = None,
    item_weights: Mapping[int, Mapping[str, float]] | None = None,
) -> list[Fused]:
    """`weights`: per list (default 1); `item_weights`: per id and list, in place of `weights`."""
    scores: dict[int, float] = {}
    for name, ranked in lists.items():
        if not ranked:
            continue
        weight = 1.0 if weights is None else weights.get(name, 1.0)
        values = [s for _i, s in ranked]
        low, high = min(values), max(values)
        span = high - low
        for item, score in ranked:
            norm = (score - low) / span if span > 0 else 1.0
            own = item_weights.get(item) if item_weights else None
            scores[item] = scores.get(item, 0.0) + (weight if own is None else own.get(name, 1.0)) * norm
    return _ordered(scores, lists)


def fuse(lists: Mapping[str, Ranked], method: FusionMethod = "minmax", rrf_k: float = RRF_K) -> list[Fused]:
    if method == "rrf":
        return rrf(lists, rrf_k)
    return minmax(lists)


def _ordered(scores: dict[int, float], lists: Mapping[str, Ranked]) -> list[Fused]:
    ranks: dict[int, list[tuple[str, int]]] = {}
    for name, ranked in lists.items():
        for rank, (item, _score) in enumerate(ranked, start=1):
            ranks.setdefault(item, []).append((name, rank))
    best = {item: min(r for _n, r in found) for item, found in ranks.items()}
    order = sorted(scores, key=lambda item: (-scores[item], best[item], item))
    return [Fused(item, scores[item], tuple(ranks[item])) for item in order]
