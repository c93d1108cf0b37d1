"""Reuse of analysts' work across jobs: a planned task whose work key matches a done task is born done.

A task's work key is a sha256 over what determines an analyst's answer: the text (hash), context and
record numbers of its chunks in order (a projected task: the digest of its rendered records plus the
job's columns and where), the normalized question, the analyst kind, the job's dimensions, and the
version of the instructions analysts are given (`INSTRUCTIONS_VERSION`, so editing them invalidates
every key). The freshness rule is the content, never a file's mtime: a reload that changes a chunk
changes exactly the keys of the tasks that read it.

A reused task gets a copy of its source's summary, relevance, counts, stats, follow-ups, findings and
labels (with the new job and task ids, and the new task's chunks and document), so a job stays whole
when its source is pruned. Each copied finding's evidence is checked again against the current text;
one that no longer occurs is stored unverified and counted.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import InvalidInput
from ..store import Connection
from ..store import findings as findings_db
from ..store import jobs as db
from ..store import labels as labels_db
from ..store import reuse as reuse_db
from ..store import tasks as tasks_db
from ..store.labels import LabelRow
from ..store.rows import Finding, NewFinding
from . import analysts
from .dimensions import Dimensions
from .evidence import EvidenceIndex, Source
from .planning import PlannedTask

ReuseMode = Literal["exact", "none"]
REUSE_MODES: tuple[str, ...] = ("exact", "none")
REUSED_WORKER = "reused"


def _instructions_version() -> str:
    texts = [
        analysts.COMMON,
        analysts.REDUCE_INSTRUCTIONS,
        analysts.RECORDS_INSTRUCTIONS,
        analysts.dimension_rules("<d>", None),
        analysts.dimension_rules("<d>", 1),
        *(f"{k}\n{v}" for k, v in sorted(analysts.INSTRUCTIONS.items())),
    ]
    return hashlib.sha256("\n\x00".join(texts).encode()).hexdigest()[:16]


INSTRUCTIONS_VERSION = _instructions_version()


def check_reuse(reuse: Any) -> ReuseMode:
    if reuse is None or reuse == "exact":
        return "exact"
    if reuse == "none":
        return "none"
    raise InvalidInput(f"reuse={reuse!r} is not known; use one of: {', '.join(REUSE_MODES)}.")


def normalize_question(query: str) -> str:
    return " ".join(query.split()).casefold()


@dataclass(frozen=True, slots=True)
class KeyParts:
    """What every task of one job shares in its work key."""

    question: str
    dimensions: Dimensions | None
    columns: tuple[str, ...] | None = None
    where: str | None = None

    def prefix(self) -> str:
        dims = (
            {k: list(v) if v is not None else None for k, v in self.dimensions.items()}
            if self.dimensions
            else None
        )
        return json.dumps(
            [INSTRUCTIONS_VERSION, normalize_question(self.question), dims,
             list(self.columns) if self.columns else None, self.where],
            sort_keys=True, ensure_ascii=False,
        )  # fmt: skip


def work_keys(conn: Connection, tasks: Sequence[PlannedTask], parts: KeyParts) -> list[str]:
    """The work key of each planned task, in order."""
    prefix = parts.prefix()
    chunk_ids = [c.id for t in tasks if t.records is None for c in t.chunks]
    rows = reuse_db.chunk_key_rows(conn, chunk_ids) if chunk_ids else {}
    keys = []
    for task in tasks:
        h = hashlib.sha256(prefix.encode())
        h.update(b"\x00" + task.analyst.encode())
        if task.records is not None:
            h.update(b"\x00records\x00" + task.records.digest.encode())
        else:
            for chunk in task.chunks:
                row = rows.get(chunk.id)
                context = row.context if row else ""
                span = f"{row.start_row}-{row.end_row}" if row else ""
                h.update(f"\x00{chunk.content_hash}\x00{span}\x00".encode())
                h.update(hashlib.sha256(context.encode("utf-8", "surrogatepass")).digest())
        keys.append(h.hexdigest())
    return keys


@dataclass(slots=True)
class ReuseTally:
    """What a plan reused: tasks per source job, tokens avoided, copied findings that did not re-verify."""

    from_jobs: dict[int, int] = field(default_factory=dict)
    tokens: int = 0
    findings: int = 0
    unverified: int = 0
    labels: int = 0
    ordinals: set[int] = field(default_factory=set)  # the plan's tasks that were reused

    @property
    def tasks(self) -> int:
        return sum(self.from_jobs.values())


@dataclass(frozen=True, slots=True)
class NewTask:
    """A planned task as inserted, and the done task whose work it reuses."""

    task_id: int
    ordinal: int
    plan: PlannedTask
    source: reuse_db.ReuseSource


def find_sources(conn: Connection, keys: Sequence[str], mode: ReuseMode) -> dict[str, reuse_db.ReuseSource]:
    """The done tasks whose work the planned tasks can reuse, by work key (none with reuse='none')."""
    if mode == "none" or not keys:
        return {}
    reuse_db.hold_sources(conn)  # a concurrent gc keeps the sources until this job has committed
    return reuse_db.done_tasks_by_key(conn, list(dict.fromkeys(keys)))


def attach_reused(
    conn: Connection,
    job_id: int,
    reused: Sequence[NewTask],
    now: float,
    texts: "TextsOf",
    tally: ReuseTally,
) -> None:
    """Complete each task with a copy of its source's results (see the module's docstring)."""
    if not reused:
        return
    source_ids = [r.source.task_id for r in reused]
    findings: dict[int, list[Finding]] = {}
    for f in findings_db.findings_of_tasks(conn, source_ids):
        findings.setdefault(f.task_id, []).append(f)
    chunks: dict[int, list[reuse_db.SourceChunk]] = {}
    for c in reuse_db.source_chunks(conn, source_ids):
        chunks.setdefault(c.task_id, []).append(c)
    labels: dict[int, list[LabelRow]] = {}
    for label in labels_db.label_rows(conn, task_ids=source_ids):
        labels.setdefault(int(label.task_id or 0), []).append(label)
    for new in reused:
        src = new.source
        reuse_db.mark_reused(conn, new.task_id, src.task_id, now)
        tally.from_jobs[src.job_id] = tally.from_jobs.get(src.job_id, 0) + 1
        tally.tokens += new.plan.tokens
        tally.ordinals.add(new.ordinal)
        chunk_map, doc_map = _maps(chunks.get(src.task_id, []), new.plan)
        old = findings.get(src.task_id, [])
        if old:
            rows = _copied_findings(job_id, new.task_id, old, chunk_map, texts(new.task_id, new.plan))
            findings_db.insert_findings(conn, rows)
            tally.findings += len(rows)
            tally.unverified += sum(not r.verified for r in rows)
        copied = [
            LabelRow(job_id, new.task_id, _document(new.plan, doc_map, lb.document_id), lb.record,
                     lb.dimension, lb.value)
            for lb in labels.get(src.task_id, [])
        ]  # fmt: skip
        if copied:
            tally.labels += labels_db.insert_labels(conn, copied)


def _maps(old: list[reuse_db.SourceChunk], plan: PlannedTask) -> tuple[dict[int, int], dict[int, int]]:
    """Old chunk id -> new, old document id -> new, by position (same key: same chunks in order)."""
    chunk_map: dict[int, int] = {}
    doc_map: dict[int, int] = {}
    for o, n in zip(old, plan.chunks, strict=False):
        chunk_map[o.chunk_id] = n.id
        doc_map[o.document_id] = n.document_id
    return chunk_map, doc_map


def _document(plan: PlannedTask, doc_map: dict[int, int], old: int) -> int:
    if plan.records is not None:
        return plan.records.document_id
    return doc_map.get(old, old)


class TextsOf:
    """The current text of a new task, as its analyst would see it: built only for tasks with findings."""

    def __init__(self, conn: Connection, projected: "ProjectedTexts | None" = None) -> None:
        self.conn, self.projected = conn, projected

    def __call__(self, task_id: int, plan: PlannedTask) -> list[Source]:
        if plan.records is not None and self.projected is not None:
            return self.projected(task_id)
        rows = tasks_db.task_chunk_rows(self.conn, task_id)
        return [Source(r.chunk_id, r.text or "", r.start_line, r.context or "") for r in rows]


class ProjectedTexts:
    """A projected task's current records, grouped by chunk (what submit_findings checks against)."""

    def __init__(self, conn: Connection, job_id: int, copy: Any) -> None:
        self.conn, self.job_id, self.copy = conn, job_id, copy

    def __call__(self, task_id: int) -> list[Source]:
        from . import records as projected
        from .content import task_content

        task = tasks_db.task_row(self.conn, task_id)
        job = db.job_row(self.conn, self.job_id)
        if task is None or job is None:
            return []
        content = task_content(self.conn, task, job, lambda: self.copy)
        if content.records is None:
            return []
        groups = projected.lines_by_chunk(content.records, content.states)
        return [
            Source(c, "\n".join(line for _, line in lines), None, content.records.header)
            for c, lines in groups
        ]


def _copied_findings(
    job_id: int, task_id: int, old: list[Finding], chunk_map: dict[int, int], sources: list[Source]
) -> list[NewFinding]:
    index = EvidenceIndex(sources)
    fallback = sources[0].chunk_id if sources else 0
    rows = []
    for f in old:
        cited = chunk_map.get(f.chunk_id, fallback)
        match = index.locate(f.evidence, cited)
        chunk_id = cited if match is None or cited in {s.chunk_id for s in sources} else match.chunk_id
        citations = {chunk_id} | ({match.chunk_id} if match is not None else set())
        line = match.line if match is not None and match.line is not None else f.line
        rows.append(
            NewFinding(job_id, task_id, 0, f.position, chunk_id, f.title, f.detail, f.evidence,
                       match is not None, match.chunk_id if match else None, line, f.kind, f.severity,
                       f.tags, tuple(sorted(citations)))
        )  # fmt: skip
    return rows
