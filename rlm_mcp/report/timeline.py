"""The timeline: one lane per worker, a bar per task from its (last) claim to its submission, or to
its lease's end while it is still claimed; above the lanes, submissions per time bucket. Geometry is
computed here; the template only writes numbers into an inline SVG."""

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..store.reports import ReportTask

WIDTH = 1000.0  # SVG user units of the time axis
LABEL_WIDTH = 140.0
LANE_HEIGHT = 14.0
HISTOGRAM_HEIGHT = 60.0
BUCKETS = 60
MIN_BAR = 1.5  # a task submitted within the same second still shows


@dataclass(frozen=True, slots=True)
class Bar:
    task_id: int
    x: float
    width: float
    state: str
    attempts: int
    title: str


@dataclass(frozen=True, slots=True)
class Lane:
    worker: str
    y: float
    bars: tuple[Bar, ...]
    claimed: int
    done: int
    failed: int
    attempts: int
    first: float
    last: float
    median_seconds: float | None


@dataclass(frozen=True, slots=True)
class Timeline:
    start: float
    end: float
    lanes: tuple[Lane, ...]
    buckets: tuple[tuple[float, float, int], ...]  # (x, height, submissions)
    bucket_seconds: float
    ticks: tuple[tuple[float, str], ...]
    height: float
    reclaimed: int  # tasks claimed more than once (a lease expired or a worker gave up)

    @property
    def width(self) -> float:
        return LABEL_WIDTH + WIDTH + 10


def _span(tasks: Sequence[ReportTask], now: float) -> tuple[float, float]:
    starts = [t.claimed_at for t in tasks if t.claimed_at is not None]
    ends = [t.completed_at or t.lease_expires_at or now for t in tasks if t.claimed_at is not None]
    start = min(starts)
    return start, max(max(ends), start + 1.0)


def _bar(t: ReportTask, start: float, scale: float, now: float) -> Bar:
    assert t.claimed_at is not None
    end = t.completed_at if t.state == "done" and t.completed_at else (t.lease_expires_at or now)
    end = max(end, t.claimed_at)
    x = LABEL_WIDTH + (t.claimed_at - start) * scale
    seconds = end - t.claimed_at
    why = f" · {t.error}" if t.error else ""
    again = f" · {t.attempts} claims" if t.attempts > 1 else ""
    title = f"t{t.id} {t.state} {seconds:.1f} s{again}{why}"
    return Bar(t.id, round(x, 2), round(max(MIN_BAR, seconds * scale), 2), t.state, t.attempts, title)


def _lane(worker: str, y: float, tasks: list[ReportTask], start: float, scale: float, now: float) -> Lane:
    durations = [
        t.completed_at - t.claimed_at for t in tasks if t.state == "done" and t.completed_at and t.claimed_at
    ]
    return Lane(
        worker, y, tuple(_bar(t, start, scale, now) for t in tasks), len(tasks),
        sum(t.state == "done" for t in tasks), sum(t.state == "failed" for t in tasks),
        sum(t.attempts for t in tasks), min(t.claimed_at or start for t in tasks),
        max(t.completed_at or t.claimed_at or start for t in tasks),
        statistics.median(durations) if durations else None,
    )  # fmt: skip


def _ticks(
    start: float, end: float, scale: float, clock: Callable[[float], str]
) -> tuple[tuple[float, str], ...]:
    step = (end - start) / 5
    return tuple((LABEL_WIDTH + i * step * scale, clock(start + i * step)) for i in range(6))


def build_timeline(tasks: Sequence[ReportTask], now: float, clock: Callable[[float], str]) -> Timeline | None:
    """None when no task was ever claimed. `clock` formats a timestamp for the axis."""
    claimed = [t for t in tasks if t.claimed_at is not None]
    if not claimed:
        return None
    start, end = _span(claimed, now)
    scale = WIDTH / (end - start)
    by_worker: dict[str, list[ReportTask]] = {}
    for t in sorted(claimed, key=lambda t: (t.claimed_at or 0, t.id)):
        by_worker.setdefault(t.worker or "(lease lost)", []).append(t)
    top = HISTOGRAM_HEIGHT + 24
    lanes = tuple(
        _lane(w, top + i * LANE_HEIGHT, ts, start, scale, now) for i, (w, ts) in enumerate(by_worker.items())
    )
    bucket = (end - start) / BUCKETS
    counts = [0] * BUCKETS
    for t in claimed:
        if t.state == "done" and t.completed_at:
            counts[min(BUCKETS - 1, int((t.completed_at - start) / bucket))] += 1
    peak = max(counts) or 1
    buckets = tuple(
        (LABEL_WIDTH + i * WIDTH / BUCKETS, round(n / peak * HISTOGRAM_HEIGHT, 2), n)
        for i, n in enumerate(counts)
    )
    return Timeline(
        start, end, lanes, buckets, bucket, _ticks(start, end, scale, clock),
        top + len(lanes) * LANE_HEIGHT + 10, sum(t.attempts > 1 for t in claimed),
    )  # fmt: skip
