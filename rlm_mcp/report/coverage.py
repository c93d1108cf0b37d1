"""The coverage map: each document as a strip of runs of consecutive chunks that share a task, each run
as wide as its records (tables) or chunks, coloured by the task's state and by the relevance its analyst
gave. A document of 100,000 chunks whose job covers 50 of them is still a few dozen runs."""

from collections.abc import Sequence
from dataclasses import dataclass

from ..ids import format_id
from ..store.reports import ChunkExtent, PlannedChunk, ReportDocument, ReportTask

OUTSIDE = "outside"  # a chunk of the document the job did not plan (a search-scoped job)
GONE = "gone"  # a planned chunk removed or reloaded since


@dataclass(frozen=True, slots=True)
class Run:
    first: int  # chunk ids
    last: int
    chunks: int
    records: int  # 0 when the chunks own no records
    lines: tuple[int, int]
    task_id: int | None
    state: str  # a task state, OUTSIDE or GONE
    relevance: str  # high/medium/low/none, "unrated" or "" outside the job
    findings: int

    @property
    def label(self) -> str:
        chunks = format_id("c", self.first)
        if self.chunks > 1:
            chunks += f"–{format_id('c', self.last)} ({self.chunks})"
        records = f" · {self.records} records" if self.records else ""
        task = f"{format_id('t', self.task_id)} {self.state}" if self.task_id else self.state
        rel = f" · {self.relevance}" if self.relevance else ""
        found = f" · {self.findings} finding(s)" if self.findings else ""
        return f"{chunks}{records} · {task}{rel}{found}"


@dataclass(frozen=True, slots=True)
class Strip:
    document: ReportDocument | None
    document_id: int
    runs: tuple[Run, ...]
    by_state: dict[str, int]  # chunks per state
    by_records: bool  # widths are records, not chunks

    def weight(self, run: Run) -> int:
        return max(1, run.records if self.by_records else run.chunks)


def _key(
    extent: ChunkExtent, planned: dict[int, int], tasks: dict[int, ReportTask]
) -> tuple[int | None, str, str]:
    task_id = planned.get(extent.id)
    if task_id is None:
        return None, OUTSIDE, ""
    task = tasks[task_id]
    relevance = (task.relevance or "unrated") if task.state == "done" else ""
    return task_id, task.state, relevance


def _runs(
    extents: Sequence[ChunkExtent],
    planned: dict[int, int],
    tasks: dict[int, ReportTask],
    findings: dict[int, int],
) -> list[Run]:
    runs: list[Run] = []
    for e in extents:
        key = _key(e, planned, tasks)
        records = e.end_row - e.start_row + 1 if e.start_row is not None and e.end_row is not None else 0
        last = runs[-1] if runs else None
        if last is not None and (last.task_id, last.state, last.relevance) == key:
            runs[-1] = Run(
                last.first, e.id, last.chunks + 1, last.records + records, (last.lines[0], e.end_line),
                *key, last.findings + findings.get(e.id, 0),
            )  # fmt: skip
        else:
            runs.append(Run(e.id, e.id, 1, records, (e.start_line, e.end_line), *key, findings.get(e.id, 0)))
    return runs


def build_strip(
    document: ReportDocument | None,
    document_id: int,
    extents: Sequence[ChunkExtent],
    plan: Sequence[PlannedChunk],
    tasks: dict[int, ReportTask],
    findings: dict[int, int],
) -> Strip:
    """One document's strip; `plan` is the job's planned chunks of this document, `findings` counts
    the findings citing each chunk."""
    planned = {p.chunk_id: p.task_id for p in plan}
    present = {e.id for e in extents}
    runs = _runs(extents, planned, tasks, findings)
    gone = [p for p in plan if p.chunk_id not in present]
    if gone:
        runs.append(Run(gone[0].chunk_id, gone[-1].chunk_id, len(gone), 0, (0, 0), None, GONE, "", 0))
    by_state: dict[str, int] = {}
    for r in runs:
        by_state[r.state] = by_state.get(r.state, 0) + r.chunks
    by_records = bool(runs) and all(r.records for r in runs if r.state != GONE)
    return Strip(document, document_id, tuple(runs), by_state, by_records)
