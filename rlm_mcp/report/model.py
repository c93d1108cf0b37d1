"""Everything a job's report shows, read from the store in one snapshot and shaped for the template:
summary numbers, the tree of levels and tasks, coverage strips, themes, cited sources, the timeline."""

import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..ids import format_id, parse_id
from ..jobs.planning import CHARS_PER_TOKEN
from ..jobs.plans import job_or_raise
from ..store import Store
from ..store import reports as db
from ..store import reuse as reuse_db
from ..store.rows import Job
from ..synthesis.folding import Theme, merge_stats, sum_counts
from ..synthesis.merge import report_themes
from .coverage import Strip, build_strip
from .sources import Source, build_sources
from .timeline import Timeline, build_timeline

BLOCK_TASKS = 100  # tasks per collapsed group of the tree: a 10,000-task level opens in 100 rows
MAX_BAR_VALUES = 50  # values per count table; the rest add up in one row


MAX_CITES_SHOWN = 20


@dataclass(frozen=True, slots=True)
class FindingView:
    finding: db.ReportFinding
    cites: tuple[tuple[int, bool], ...]  # (chunk id, its text is in the report), the quote's chunk first
    more: int  # citations not shown


@dataclass(frozen=True, slots=True)
class TaskView:
    task: db.ReportTask
    chunks: str  # "c1–c4" (level 0) or "12 findings of level 0" (reduce)
    documents: str
    findings: tuple[FindingView, ...]
    chars_in: int
    tokens_in: int
    chars_out: int
    tokens_out: int
    seconds: float | None


@dataclass(frozen=True, slots=True)
class Block:
    tasks: tuple[TaskView, ...]
    states: dict[str, int]

    @property
    def title(self) -> str:
        first, last = self.tasks[0].task.id, self.tasks[-1].task.id
        return f"{format_id('t', first)}–{format_id('t', last)}" if first != last else format_id("t", first)


@dataclass(frozen=True, slots=True)
class LevelView:
    level: int
    blocks: tuple[Block, ...]
    states: dict[str, int]
    findings: int

    @property
    def tasks(self) -> int:
        return sum(self.states.values())


@dataclass(frozen=True, slots=True)
class CountTable:
    dimension: str
    total: int
    rows: tuple[tuple[str, int, float], ...]  # value, count, share of the total


@dataclass(frozen=True, slots=True)
class Totals:
    chars_in: int
    tokens_in: int
    chars_out: int
    tokens_out: int
    attempts: int


@dataclass(frozen=True, slots=True)
class Report:
    job_id: int
    query: str
    scope: dict[str, Any]
    created: float
    generated: float
    fingerprint: str
    states: dict[str, int]
    chunks: tuple[int, int]  # done, total
    records: tuple[int, int]
    failed: tuple[TaskView, ...]
    counts: tuple[CountTable, ...]
    labels: tuple[CountTable, ...]  # per-record labels: records per value
    stats: dict[str, dict[str, Any]]
    totals: Totals
    levels: tuple[LevelView, ...]  # top level first
    strips: tuple[Strip, ...]
    theme_level: int
    themes: tuple[Theme, ...]
    findings: dict[int, db.ReportFinding]
    unverified: tuple[db.ReportFinding, ...]
    sources: dict[int, Source]
    timeline: Timeline | None
    workers: tuple[str, ...]
    reused: dict[int, int]  # {earlier job: its tasks this job reused}
    level0_tasks: int

    @property
    def reused_line(self) -> str:
        """'398 of 412 tasks reused from j7' ('' when the job reused nothing)."""
        if not self.reused:
            return ""
        sources = ", ".join(format_id("j", j) for j in self.reused)
        return f"{sum(self.reused.values())} of {self.level0_tasks} tasks reused from {sources}"

    @property
    def ratio(self) -> float:
        done, total = self.chunks
        return done / total if total else 1.0


def clock(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S") if ts else "—"


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def quote_chunk(f: db.ReportFinding) -> int:
    """The chunk that holds a finding's quote: where verification found it, else the one it names."""
    return f.evidence_chunk_id or f.chunk_id


def cited_chunks(f: db.ReportFinding) -> list[int]:
    """The chunks a finding cites, the quote's chunk first."""
    first = quote_chunk(f)
    return [first, *sorted({f.chunk_id, *f.citations} - {first})]


def _chars_out(t: db.ReportTask, findings: Sequence[db.ReportFinding]) -> int:
    numbers = len(json.dumps(t.counts)) if t.counts else 0
    numbers += len(json.dumps(t.stats)) if t.stats else 0
    return (
        len(t.summary or "") + numbers + sum(len(f.title) + len(f.detail) + len(f.evidence) for f in findings)
    )


def _range(chunks: Sequence[int]) -> str:
    if not chunks:
        return "—"
    first, last = format_id("c", chunks[0]), format_id("c", chunks[-1])
    return first if len(chunks) == 1 else f"{first}–{last} ({len(chunks)} chunks)"


def _task_view(
    t: db.ReportTask,
    found: Sequence[db.ReportFinding],
    plan: Sequence[db.PlannedChunk],
    names: dict[int, str],
    by_id: dict[int, db.ReportFinding],
    present: dict[int, Source],
    reused: bool = False,
) -> TaskView:
    if t.level == 0:
        chunks = _range([p.chunk_id for p in plan])
        docs = ", ".join(dict.fromkeys(names.get(p.document_id, format_id("d", p.document_id)) for p in plan))
        chars_in = t.chars_in
    else:
        ids = [i for group in t.inputs for i in group]
        chunks, docs = f"{len(ids)} finding(s) of level {t.level - 1} in {len(t.inputs)} group(s)", ""
        chars_in = sum(
            len(by_id[i].title) + len(by_id[i].detail) + len(by_id[i].evidence) for i in ids if i in by_id
        )
    tokens_in = t.planned_tokens if t.level == 0 else _tokens(chars_in)
    if reused:  # born done with an earlier job's work: no analyst read anything
        chars_in = tokens_in = 0
    if t.served_chars:  # what claim_task really handed out, over every attempt (telemetry)
        chars_in, tokens_in = t.served_chars, t.served_tokens
    out = _chars_out(t, found) if t.state == "done" else 0
    tokens_out = _tokens(out)
    if t.received_chars:  # what the accepted submission really sent
        out, tokens_out = t.received_chars, t.received_tokens
    started = t.first_claimed_at or t.claimed_at
    seconds = t.completed_at - started if t.state == "done" and t.completed_at and started else None
    views = tuple(_finding_view(f, present) for f in found)
    return TaskView(t, chunks, docs, views, chars_in, tokens_in, out, tokens_out, seconds)


def _finding_view(f: db.ReportFinding, present: dict[int, Source]) -> FindingView:
    cites = cited_chunks(f)
    shown = tuple((c, c in present) for c in cites[:MAX_CITES_SHOWN])
    return FindingView(f, shown, len(cites) - len(shown))


def _levels(views: Sequence[TaskView]) -> tuple[LevelView, ...]:
    by_level: dict[int, list[TaskView]] = {}
    for v in views:
        by_level.setdefault(v.task.level, []).append(v)
    levels = []
    for level, items in sorted(by_level.items(), reverse=True):
        blocks = tuple(
            Block(tuple(part), dict(Counter(v.task.state for v in part)))
            for part in (items[i : i + BLOCK_TASKS] for i in range(0, len(items), BLOCK_TASKS))
        )
        states = dict(Counter(v.task.state for v in items))
        levels.append(LevelView(level, blocks, states, sum(len(v.findings) for v in items)))
    return tuple(levels)


def _count_tables(parts: Iterable[dict[str, dict[str, int]]]) -> tuple[CountTable, ...]:
    tables = []
    for dimension, values in sum_counts(parts).items():
        total = sum(values.values())
        items = list(values.items())
        rows = [(v, n, n / total if total else 0.0) for v, n in items[:MAX_BAR_VALUES]]
        if len(items) > MAX_BAR_VALUES:
            rest = sum(n for _, n in items[MAX_BAR_VALUES:])
            rows.append(
                (f"({len(items) - MAX_BAR_VALUES} more values)", rest, rest / total if total else 0.0)
            )
        tables.append(CountTable(dimension, total, tuple(rows)))
    return tuple(tables)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    job: Job
    fingerprint: str
    tasks: list[db.ReportTask]
    findings: list[db.ReportFinding]
    plan: list[db.PlannedChunk]
    documents: list[db.ReportDocument]
    extents: dict[int, list[db.ChunkExtent]]
    texts: list[db.ChunkText]
    labels: list[db.LabelCount]
    reused: dict[int, int]  # {task id: the job its work was reused from}


def _read(store: Store, number: int) -> _Snapshot:
    with store.read() as conn:
        job = job_or_raise(conn, number)
        fingerprint = db.report_fingerprint(conn, number)
        tasks = db.report_tasks(conn, number)
        findings = db.report_findings(conn, number)
        plan = db.planned_chunks(conn, number)
        doc_ids = sorted({p.document_id for p in plan})
        documents = db.report_documents(conn, doc_ids)
        extents = {d: db.chunk_extents(conn, d) for d in doc_ids}
        texts = db.chunk_texts(conn, [c for f in findings for c in cited_chunks(f)])
        labels = db.label_counts(conn, number)
        reused = reuse_db.reused_task_ids(conn, number)
    return _Snapshot(job, fingerprint, tasks, findings, plan, documents, extents, texts, labels, reused)


def _label_tables(labels: Sequence[db.LabelCount]) -> tuple[CountTable, ...]:
    per: dict[str, dict[str, int]] = {}
    for row in labels:
        per.setdefault(row.dimension, {})[row.value] = row.records
    return _count_tables([per])


def _records(snap: _Snapshot, done_tasks: set[int]) -> tuple[int, int]:
    rows = {e.id: e.end_row - e.start_row + 1 for es in snap.extents.values() for e in es
            if e.start_row is not None and e.end_row is not None}  # fmt: skip
    planned = [p for p in snap.plan if p.chunk_id in rows]
    return sum(rows[p.chunk_id] for p in planned if p.task_id in done_tasks), sum(
        rows[p.chunk_id] for p in planned
    )


def _sources(snap: _Snapshot) -> dict[int, Source]:
    quotes: dict[int, list[tuple[int, str]]] = {}
    cited_by: dict[int, list[int]] = {}
    for f in snap.findings:
        quotes.setdefault(quote_chunk(f), []).append((f.id, f.evidence))
        for c in cited_chunks(f):
            cited_by.setdefault(c, []).append(f.id)
    return {s.chunk_id: s for s in build_sources(snap.texts, quotes, cited_by)}


def _strips(snap: _Snapshot, tasks: dict[int, db.ReportTask]) -> tuple[Strip, ...]:
    per_chunk = Counter(c for f in snap.findings if f.level == 0 for c in {quote_chunk(f), *f.citations})
    docs = {d.id: d for d in snap.documents}
    by_doc: dict[int, list[db.PlannedChunk]] = {}
    for p in snap.plan:
        by_doc.setdefault(p.document_id, []).append(p)
    return tuple(
        build_strip(docs.get(d), d, snap.extents.get(d, []), plan, tasks, per_chunk)
        for d, plan in sorted(by_doc.items())
    )


def _workers(snap: _Snapshot) -> tuple[str, ...]:
    """The analysts who worked on the job (not the reuse that completed tasks at planning)."""
    return tuple(sorted({t.worker for t in snap.tasks if t.worker and t.id not in snap.reused}))


def build_report(store: Store, job_id: str | int) -> Report:
    """The report of a job as it stands now (open jobs included)."""
    snap = _read(store, parse_id(job_id, "j"))
    tasks = {t.id: t for t in snap.tasks}
    by_id = {f.id: f for f in snap.findings}
    by_task: dict[int, list[db.ReportFinding]] = {}
    for f in snap.findings:
        by_task.setdefault(f.task_id, []).append(f)
    plan_of: dict[int, list[db.PlannedChunk]] = {}
    for p in snap.plan:
        plan_of.setdefault(p.task_id, []).append(p)
    names = {d.id: f"{format_id('d', d.id)} {d.name}" for d in snap.documents}
    sources = _sources(snap)
    views = [
        _task_view(
            t, by_task.get(t.id, []), plan_of.get(t.id, []), names, by_id, sources, t.id in snap.reused
        )
        for t in snap.tasks
    ]
    done = {t.id for t in snap.tasks if t.state == "done" and t.level == 0}
    theme_level, themes = report_themes(store, snap.job.id)
    stamp = time.time()
    return Report(
        snap.job.id, snap.job.query, snap.job.scope, snap.job.created_at, stamp,
        snap.fingerprint, dict(Counter(t.state for t in snap.tasks)),
        (sum(p.task_id in done for p in snap.plan), snap.job.chunks), _records(snap, done),
        tuple(v for v in views if v.task.state == "failed"),
        _count_tables(t.counts for t in snap.tasks if t.id in done and t.counts), _label_tables(snap.labels),
        merge_stats(t.stats for t in snap.tasks if t.id in done and t.stats),
        _totals(views), _levels(views), _strips(snap, tasks), theme_level, tuple(themes), by_id,
        tuple(f for f in snap.findings if not f.verified), sources,
        build_timeline(snap.tasks, stamp, clock), _workers(snap),
        dict(Counter(snap.reused.values())), sum(t.level == 0 for t in snap.tasks),
    )  # fmt: skip


def _totals(views: Sequence[TaskView]) -> Totals:
    return Totals(
        sum(v.chars_in for v in views), sum(v.tokens_in for v in views), sum(v.chars_out for v in views),
        sum(v.tokens_out for v in views), sum(v.task.attempts for v in views),
    )  # fmt: skip
