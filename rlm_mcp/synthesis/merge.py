"""synthesize: a job's results merged deterministically, in pages that fit one tool result.

Coverage comes first (what is missing and what to do about it); then exact counts, merged stats,
themes of folded findings with their chunk citations, follow-ups, and unverified findings apart.
When the themes would take more than a few pages, a reduce level is planned instead: tasks over
groups of findings, claimed by analysts like any other, and synthesis continues over their results
(recursively, until it fits).
"""

import json
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..errors import InvalidInput
from ..ids import format_id, parse_id
from ..jobs import analysts
from ..jobs.plans import job_or_raise
from ..jobs.progress import CostTotals, Coverage, Waiting, cost_totals, coverage_of, waiting
from ..store import Connection, Store
from ..store import findings as findings_db
from ..store import jobs as db
from ..store import labels as labels_db
from ..store import reuse as reuse_db
from ..store import tasks as tasks_db
from ..store.labels import LabelCount
from ..store.rows import Job, MissingChunk, RatedFinding, TaskResult, UnverifiedFinding
from .folding import Folded, Theme, build_themes, cap_counts, fold_findings, merge_stats, sum_counts
from .result import Page, Synthesis

PAGE_CHARS = 24_000  # one answer: under Claude Code's 10k-token warning with the header included
MAX_PAGES = 4  # more than this and a reduce level is planned rather than asking a model to read pages
MAX_LEVELS = 32  # a safety net only: a level must fold ≥ 10 % (SHRINK_NEEDED) or recursion stops
SHRINK_NEEDED = 0.9  # a reduce level that folds less than 10 % is not worth another level
MAX_FOLLOW_UPS = 30
MAX_UNVERIFIED_SHOWN = 20
MAX_SUMMARIES = 10
MAX_MISSING_RANGES = 12
THEME_HEADING_CHARS = 100
NEXT_LINE_CHARS = 500  # the closing 'Next:' line and a note
THEMES_CACHE_SIZE = 4


def _view_level(states: dict[tuple[int, str], int], top: int) -> tuple[int, bool]:
    """The level to synthesize over, and whether a reduce level above it is still being worked on."""
    if top > 0 and (states.get((top, "pending"), 0) or states.get((top, "claimed"), 0)):
        return top - 1, True
    return top, False


def _carried_over(conn: Connection, job_id: int, level: int) -> list[RatedFinding]:
    """Findings a reduce level did not take up (its task failed or returned nothing): kept, never lost."""
    if level == 0:
        return []
    ids: list[int] = []
    for task in tasks_db.reduce_tasks(conn, job_id, level):
        if task.state == "failed" or (task.state == "done" and task.findings == 0):
            ids += [i for group in task.inputs for i in group]
    if not ids:
        return []
    wanted = set(ids)
    return [r for r in findings_db.finding_rows(conn, job_id, level - 1) if r.id in wanted]


def _missing_ranges(rows: Sequence[MissingChunk]) -> list[dict[str, Any]]:
    """Uncovered chunks as contiguous ranges per document, with their tasks' states and reasons."""
    ranges: list[dict[str, Any]] = []
    for r in rows:
        last = ranges[-1] if ranges else None
        if last and last["_doc"] == r.document_id and last["_ord"] + 1 == r.ordinal:
            last["_ord"], last["last"] = r.ordinal, r.chunk_id
            last["_tasks"].setdefault(r.task_id, (r.state, r.error))
            last["chunks"] += 1
            continue
        ranges.append(
            {
                "_doc": r.document_id,
                "_ord": r.ordinal,
                "first": r.chunk_id,
                "last": r.chunk_id,
                "chunks": 1,
                "_tasks": {r.task_id: (r.state, r.error)},
            }
        )
    out = []
    for g in ranges:
        states = Counter(s for s, _ in g["_tasks"].values())
        errors = sorted({e for s, e in g["_tasks"].values() if s == "failed" and e})
        out.append(
            {
                "document_id": format_id("d", g["_doc"]),
                "chunks": f"{format_id('c', g['first'])}–{format_id('c', g['last'])}"
                if g["chunks"] > 1
                else format_id("c", g["first"]),
                "count": g["chunks"],
                "tasks": [format_id("t", t) for t in sorted(g["_tasks"])][:10],
                "states": dict(sorted(states.items())),
                "errors": errors[:3],
            }
        )
    return out


def _follow_ups(results: Sequence[TaskResult]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in results:
        for text in r.follow_up or []:
            key = " ".join(text.lower().split())
            entry = seen.setdefault(key, {"text": text, "tasks": []})
            entry["tasks"].append(format_id("t", r.id))
    ordered = sorted(seen.values(), key=lambda e: -len(e["tasks"]))
    return [{"text": e["text"], "support": len(e["tasks"]), "tasks": e["tasks"][:5]} for e in ordered][
        :MAX_FOLLOW_UPS
    ]


def _summaries(results: Sequence[TaskResult]) -> list[dict[str, Any]]:
    ranked = [r for r in results if r.summary and r.relevance in ("high", None)]
    ranked.sort(key=lambda r: (r.relevance != "high", r.id))
    return [
        {"task_id": format_id("t", r.id), "summary": (r.summary or "")[:400]} for r in ranked[:MAX_SUMMARIES]
    ]


def _item_size(f: Folded) -> int:
    """Exact characters of an item in either rendering (the larger), for filling a page."""
    return max(len(f.to_line()), len(json.dumps(f.to_json(), ensure_ascii=False))) + 2


def _estimate(f: Folded) -> int:
    """A cheap upper estimate of `_item_size`, for counting pages and sizing reduce tasks."""
    cited = min(len(f.citations), 50)
    return len(f.title) + len(f.detail) + 2 * len(f.evidence) + 10 * cited + 12 * len(f.tags) + 240


class ThemesCache:
    """The last few foldings, so paging through one synthesis folds once (the `Workspace` owns one).

    Findings are insert-only, so the key (their count and last id, and the tasks' states) changes
    whenever the input does.
    """

    def __init__(self, size: int = THEMES_CACHE_SIZE) -> None:
        self.size = size
        self._themes: dict[tuple[Any, ...], tuple[int, list[Theme]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> tuple[int, list[Theme]] | None:
        with self._lock:
            return self._themes.get(key)

    def put(self, key: tuple[Any, ...], verified: int, themes: list[Theme]) -> tuple[int, list[Theme]]:
        with self._lock:
            self._themes[key] = (verified, themes)
            while len(self._themes) > self.size:
                self._themes.pop(next(iter(self._themes)))
        return verified, themes

    def clear(self) -> None:
        with self._lock:
            self._themes.clear()


def count_pages(themes: Sequence[Theme], page_chars: int) -> int:
    total = sum(_estimate(f) for t in themes for f in t.items) + THEME_HEADING_CHARS * len(themes)
    return max(1, math.ceil(total / page_chars))


def paginate(themes: Sequence[Theme], offset: int, budget: int, pages: int) -> Page:
    """The folded findings from `offset` (in theme order) that fit in `budget` characters."""
    flat = [(t, f) for t in themes for f in t.items]
    if offset > len(flat):
        raise InvalidInput(f"offset={offset} is past the last finding ({len(flat)}); use offset=0.")
    used, end = 0, offset
    while end < len(flat):
        heading = THEME_HEADING_CHARS if end == offset or flat[end][0] is not flat[end - 1][0] else 0
        size = _item_size(flat[end][1]) + heading
        if end > offset and used + size > budget:
            break
        used += size
        end += 1
    page: list[tuple[Theme, list[Folded], bool]] = []
    for i in range(offset, end):
        theme, item = flat[i]
        if page and page[-1][0] is theme:
            page[-1][1].append(item)
        else:
            page.append((theme, [item], i > 0 and flat[i - 1][0] is theme))
    return Page(
        [(t, tuple(items), c) for t, items, c in page],
        offset,
        end,
        len(flat),
        len(themes),
        pages,
    )


@dataclass(frozen=True, slots=True)
class _Inputs:
    """Everything synthesize reads, from one consistent snapshot."""

    job: Job
    states: dict[tuple[int, str], int]
    results: list[TaskResult]  # done level-0 tasks: counts, stats, follow-ups, summaries
    view: int
    reduce_open: bool
    reduce_results: list[TaskResult]
    missing: list[MissingChunk]
    coverage: Coverage
    unverified: list[UnverifiedFinding]
    cost: CostTotals
    waiting: Waiting | None
    labels: dict[str, dict[str, Any]]
    labelled_documents: list[int]
    reused: dict[int, int]  # {earlier job: its tasks this job reused}
    verified_total: int
    themes: list[Theme]


def _label_summary(job: Job, counts: list[LabelCount]) -> dict[str, dict[str, Any]]:
    """Per dimension: records per value (exact, from the labels table), records labelled, vocabulary."""
    out: dict[str, dict[str, Any]] = {}
    for c in counts:
        entry = out.setdefault(c.dimension, {"values": {}, "records": 0, "vocabulary": None})
        entry["values"][c.value] = c.records
        entry["records"] += c.records
    for dimension, entry in out.items():
        fixed = (job.dimensions or {}).get(dimension)
        entry["vocabulary"] = list(fixed) if fixed else None
    return out


def _gather(store: Store, number: int, cache: ThemesCache) -> _Inputs:
    with store.read() as conn:
        job = job_or_raise(conn, number)
        states = db.task_state_counts(conn, number)
        view, reduce_open = _view_level(states, db.max_level(conn, number))
        signature = findings_db.findings_signature(conn, number, view)
        key = (store.location, number, job.created_at, view, signature,
               (states.get((view, "done"), 0), states.get((view, "failed"), 0)))  # fmt: skip
        cached = cache.get(key)
        rows = (
            [] if cached else findings_db.finding_rows(conn, number, view) + _carried_over(conn, number, view)
        )
        results = tasks_db.done_task_results(conn, number, 0)
        reduce_results = tasks_db.done_task_results(conn, number, view) if view else []
        missing = db.missing_chunks(conn, number)
        coverage = coverage_of(conn, job)
        unverified = findings_db.unverified_rows(conn, number)
        cost = cost_totals(conn, number)
        wait = waiting(conn, number)
        labels = _label_summary(job, labels_db.label_distribution(conn, number))
        labelled = labels_db.labelled_documents(conn, number) if labels else []
        reused = {r.job_id: r.tasks for r in reuse_db.reused_from(conn, number)}
    if cached is None:
        verified = [r for r in rows if r.verified]
        cached = cache.put(key, len(verified), build_themes(fold_findings(verified)))
    return _Inputs(
        job, states, results, view, reduce_open, reduce_results, missing, coverage, unverified, cost, wait,
        labels, labelled, reused, *cached,
    )  # fmt: skip


def _draft(i: _Inputs, offset: int, pages: int) -> Synthesis:
    """The synthesis with a one-item page: its text measures the room the header leaves."""
    tasks = {
        s: sum(n for (_, st), n in i.states.items() if st == s)
        for s in ("pending", "claimed", "done", "failed")
    }
    counts = sum_counts(r.counts for r in i.results if r.counts)
    return Synthesis(
        i.job.id, i.job.query, i.view, i.coverage, tasks,
        _missing_ranges(i.missing)[:MAX_MISSING_RANGES], cap_counts(counts),
        {d: sum(v.values()) for d, v in counts.items()},
        merge_stats(r.stats for r in i.results if r.stats),
        paginate(i.themes, offset, 0, pages), i.verified_total, _follow_ups([*i.results, *i.reduce_results]),
        [_unverified(r) for r in i.unverified[:MAX_UNVERIFIED_SHOWN]], len(i.unverified),
        _summaries(i.results), None, None, i.job.scope.get("search"), cost=i.cost, waiting=i.waiting,
        labels=i.labels, labelled_documents=tuple(i.labelled_documents), reused=i.reused,
        level0_tasks=sum(n for (level, _), n in i.states.items() if level == 0),
    )  # fmt: skip


def synthesize(
    store: Store,
    job_id: str | int,
    offset: int = 0,
    page_chars: int = PAGE_CHARS,
    max_pages: int = MAX_PAGES,
    themes: ThemesCache | None = None,
) -> Synthesis:
    """Merge a job's results; plans a reduce level when the findings would not fit in `max_pages`.
    `themes` keeps foldings between calls (pages of one synthesis); without it each call folds anew."""
    number = parse_id(job_id, "j")
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more (got {offset}).")
    inputs = _gather(store, number, themes or ThemesCache())
    pages = count_pages(inputs.themes, page_chars)
    draft = _draft(inputs, offset, pages)
    room = max(page_chars // 4, page_chars - len(draft.to_text()) - NEXT_LINE_CHARS)
    page = paginate(inputs.themes, offset, room, pages)
    level0_open = inputs.states.get((0, "pending"), 0) + inputs.states.get((0, "claimed"), 0)
    nxt, note = _next_step(
        store, inputs.job, inputs.view, inputs.reduce_open, level0_open, page, inputs.themes, max_pages
    )
    if nxt is not None and nxt["action"] == "claim" and inputs.waiting is not None:
        nxt = {"action": "wait", "job_id": nxt["job_id"], **inputs.waiting.to_json()}
    return replace(draft, page=page, next=nxt, note=note)


def _unverified(r: UnverifiedFinding) -> dict[str, Any]:
    return {
        "title": r.title,
        "chunk_id": format_id("c", r.chunk_id),
        "evidence": r.evidence[:200],
        "task_id": format_id("t", r.task_id),
        "level": r.level,
    }


def _next_step(
    store: Store,
    job: Job,
    view: int,
    reduce_open: bool,
    level0_open: int,
    page: Page,
    themes: Sequence[Theme],
    max_pages: int,
) -> tuple[dict[str, Any] | None, str | None]:
    jid = format_id("j", job.id)
    if level0_open:
        return {"action": "claim", "job_id": jid, "open_tasks": level0_open}, None
    if reduce_open:
        return {"action": "reduce", "job_id": jid, "level": view + 1}, None
    if page.pages > max_pages and view + 1 < MAX_LEVELS:
        inputs = _inputs_of_level(store, job.id, view)
        if view == 0 or page.total_items < SHRINK_NEEDED * inputs:
            planned = plan_reduce(store, job, view + 1, themes)
            return {"action": "reduce", "job_id": jid, "level": view + 1, "tasks": planned}, None
        note = f"Reduce level {view} folded {inputs} items only to {page.total_items}; paging instead."
    elif page.pages > max_pages:
        note = f"Reached the deepest reduce level ({MAX_LEVELS - 1}); paging instead."
    else:
        note = None
    if page.end < page.total_items:
        return {"action": "page", "offset": page.end}, note
    return None, note


def _inputs_of_level(store: Store, job_id: int, level: int) -> int:
    with store.read() as conn:
        return sum(len(r.inputs) for r in tasks_db.reduce_tasks(conn, job_id, level))


def plan_reduce(store: Store, job: Job, level: int, themes: Sequence[Theme]) -> int:
    """Tasks of `level` over groups of folded findings, in theme order so alike findings meet."""
    budget_chars = job.task_tokens * 4
    groups: list[list[Folded]] = [[]]
    used = 0
    for f in (f for t in themes for f in t.items):
        size = _estimate(f)
        if groups[-1] and used + size > budget_chars:
            groups.append([])
            used = 0
        groups[-1].append(f)
        used += size
    with store.write() as conn:
        db.lock_job(conn, job.id)
        existing = len(tasks_db.reduce_tasks(conn, job.id, level))
        if existing:  # another synthesize call planned this level first
            return existing
        for ordinal, group in enumerate(groups):
            inputs = [list(f.finding_ids) for f in group]
            tokens = sum(_estimate(f) for f in group) // 4
            tasks_db.insert_task(conn, job.id, level, ordinal, analysts.CHUNK, tokens, inputs)
    return len(groups)


def report_themes(store: Store, job_id: int) -> tuple[int, list[Theme]]:
    """The level synthesize reads and every one of its themes, unpaged (what an HTML report shows)."""
    inputs = _gather(store, job_id, ThemesCache())
    return inputs.view, inputs.themes
