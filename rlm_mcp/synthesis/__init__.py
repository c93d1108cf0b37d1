"""Synthesis: a job's findings merged deterministically (exact counts, stats, folded themes, paging,
reduce levels)."""

from .merge import ThemesCache, synthesize
from .result import Page, Synthesis

__all__ = ["Page", "Synthesis", "ThemesCache", "synthesize"]
