"""What synthesize answers: the merged result, and the text a synthesizer model reads (coverage first,
then numbers, themes, follow-ups, next step)."""

from dataclasses import dataclass, field
from typing import Any

from ..answers import exact_number, shorten
from ..ids import format_id
from ..jobs.progress import CostTotals, Coverage, Waiting
from .folding import Folded, Theme

MAX_VALUES_SHOWN = 25
MAX_LISTED = 12
MAX_COUNT_LINES_CHARS = 6000


@dataclass(frozen=True, slots=True)
class Page:
    themes: list[tuple[Theme, tuple[Folded, ...], bool]]  # (theme, its items on this page, continued)
    offset: int
    end: int
    total_items: int
    total_themes: int
    pages: int


@dataclass(frozen=True, slots=True)
class Synthesis:
    job_id: int
    query: str
    level: int
    coverage: Coverage
    tasks: dict[str, int]
    missing: list[dict[str, Any]]
    counts: dict[str, dict[str, int]]
    counts_totals: dict[str, int]
    stats: dict[str, dict[str, Any]]
    page: Page
    findings_total: int
    follow_up: list[dict[str, Any]]
    unverified: list[dict[str, Any]]
    unverified_total: int
    summaries: list[dict[str, Any]]
    next: dict[str, Any] | None
    note: str | None = None
    search: str | None = None  # a search-scoped job covers the hits, not whole documents
    report: str | None = None  # the job's HTML report, when one was written
    cost: CostTotals | None = None
    waiting: Waiting | None = None
    labels: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # dimension -> values, records, vocabulary
    labelled_documents: tuple[int, ...] = ()
    reused: dict[int, int] = field(default_factory=dict)  # {earlier job: its tasks this job reused}
    level0_tasks: int = 0

    def reused_text(self) -> str | None:
        """'398 of 412 tasks reused from j7' (None when the job reused nothing)."""
        if not self.reused:
            return None
        n = sum(self.reused.values())
        sources = ", ".join(f"{format_id('j', j)} ({k})" if len(self.reused) > 1 else format_id("j", j)
                            for j, k in self.reused.items())  # fmt: skip
        return f"{n} of {self.level0_tasks} tasks reused from {sources}"

    @property
    def partial(self) -> bool:
        open_work = ("claim", "wait", "reduce")
        return self.coverage.ratio < 1.0 or bool(self.next and self.next.get("action") in open_work)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "job_id": format_id("j", self.job_id),
            "query": self.query,
            "search": self.search,
            "partial": self.partial,
            "level": self.level,
            "coverage": {**self.coverage.to_json(), "missing": self.missing},
            "tasks": self.tasks,
            "counts": self.counts,
            "counts_totals": self.counts_totals,
            "stats": self.stats,
            "themes": [
                {
                    "title": theme.title,
                    "findings": [f.to_json() for f in items],
                    "citations": [format_id("c", c) for c in theme.citations(items)[:100]],
                    "support": sum(f.support for f in items),
                    "continued": continued,
                }
                for theme, items, continued in self.page.themes
            ],
            "findings": {
                "total": self.findings_total,
                "folded": self.page.total_items,
                "themes": self.page.total_themes,
            },
            "offset": self.page.offset,
            "follow_up": self.follow_up,
            "unverified": self.unverified,
            "unverified_total": self.unverified_total,
            "summaries": self.summaries,
            "note": self.note,
            "report": self.report,
            "cost": self.cost.to_json() if self.cost else None,
            "labels": self.labels,
            "reused": {
                "tasks": sum(self.reused.values()),
                "of": self.level0_tasks,
                "from": {format_id("j", j): n for j, n in self.reused.items()},
            },
        }
        if self.next is not None:
            data["next"] = self.next
        return data

    def to_text(self) -> str:
        return render_text(self)


def _coverage_lines(s: Synthesis) -> list[str]:
    c = s.coverage
    scope = f" — only the chunks search {s.search!r} found, not whole documents" if s.search else ""
    reused = s.reused_text()
    reuse = (
        [f"Reused: {reused} (the same content, question and analyst; findings, counts and labels copied, "
         "evidence re-checked against the current text)."]
        if reused else []
    )  # fmt: skip
    if c.ratio >= 1.0:
        return [f"Coverage: {c.done}/{c.total} chunks (100%){c.records_text()}{scope}.", *reuse]
    lines = [
        f"PARTIAL — coverage {c.done}/{c.total} chunks ({c.ratio:.1%}){c.records_text()}{scope}. Missing:"
    ]
    for m in s.missing:
        states = ", ".join(f"{n} {state}" for state, n in m["states"].items())
        why = f"; {m['errors'][0]}" if m["errors"] else ""
        lines.append(f"  {m['document_id']} {m['chunks']} ({m['count']} chunks; tasks {states}{why})")
    jid = format_id("j", s.job_id)
    if s.waiting is not None:
        lines.append(f"  {s.waiting.claimed} task(s) still claimed by analysts at work (see Next).")
    elif s.tasks["pending"] or s.tasks["claimed"]:
        lines.append(f"  To complete: spawn analysts on job_id={jid!r} (claim_task), then synthesize again.")
    if s.tasks["failed"]:
        lines.append("  Failed tasks: create_job again over those documents (see the reasons above).")
    return lines + reuse


def _label_lines(s: Synthesis) -> list[str]:
    if not s.labels:
        return []
    lines = ["Labels (one per record and dimension, exact counts from the labels view):"]
    for dimension, entry in s.labels.items():
        values = list(entry["values"].items())
        shown = values[:MAX_VALUES_SHOWN]
        more = f" · … {len(values) - len(shown)} more values" if len(values) > len(shown) else ""
        pairs = " · ".join(f"{shorten(v, 40)}: {n}" for v, n in shown)
        kind = "fixed vocabulary" if entry["vocabulary"] else f"open vocabulary, {len(values)} values emerged"
        lines.append(f"  {dimension} ({kind}; {entry['records']} records): {pairs}{more}")
    doc = format_id("d", s.labelled_documents[0]) if s.labelled_documents else "d1"
    from ..data import crosstab_hint  # DuckDB's room: imported only when a job has labels

    hint = crosstab_hint(format_id("j", s.job_id), doc, next(iter(s.labels)))
    lines.append(f"  Cross-tab labels with any column, exactly: {hint}")
    return lines


def _numbers_lines(s: Synthesis) -> list[str]:
    lines = _label_lines(s)
    counted = {d: v for d, v in s.counts.items() if d not in s.labels}
    if counted:
        lines.append(f"Counts (exact sums over {s.tasks['done']} completed tasks):")
        for dimension, values in counted.items():
            shown = list(values.items())[:MAX_VALUES_SHOWN]
            more = f" · … {len(values) - len(shown)} more values" if len(values) > len(shown) else ""
            pairs = " · ".join(f"{shorten(v, 40)}: {n}" for v, n in shown)
            lines.append(f"  {dimension} (total {s.counts_totals[dimension]}): {pairs}{more}")
            if sum(len(x) for x in lines) > MAX_COUNT_LINES_CHARS:
                lines.append("  … more dimensions: synthesize with response_format='json' lists them all.")
                break
    if s.stats:
        lines.append("Stats (merged):")
        for metric, m in s.stats.items():
            lines.append(
                f"  {metric}: n={m['n']} sum={exact_number(m['sum'])} min={exact_number(m['min'])} "
                f"max={exact_number(m['max'])} mean={exact_number(m['mean'])}"
            )
    return lines


def _theme_lines(s: Synthesis) -> list[str]:
    p = s.page
    if not p.total_items:
        return ["No verified findings."]
    lines = [
        f"Themes: {p.total_themes} theme(s), {p.total_items} finding(s) after folding {s.findings_total} "
        f"verified ones (showing {p.offset + 1}–{p.end}):"
    ]
    for theme, items, continued in p.themes:
        cites = theme.citations(items)
        label = " (continued)" if continued else ""
        lines.append(
            f"## {theme.title}{label} — {sum(f.support for f in items)} finding(s), "
            f"{len(cites)} chunk(s) cited"
        )
        lines += [f.to_line() for f in items]
    return lines


def _extra_lines(s: Synthesis) -> list[str]:
    lines = []
    if s.summaries:
        lines.append("Task summaries (high relevance):")
        lines += [f"  {e['task_id']}: {shorten(e['summary'], 300)}" for e in s.summaries]
    if s.follow_up:
        lines.append("Follow-ups the analysts suggest:")
        lines += [f"  - {shorten(e['text'], 200)} (×{e['support']})" for e in s.follow_up[:MAX_LISTED]]
    if s.unverified_total:
        lines.append(
            f"Unverified findings ({s.unverified_total}; evidence not found in their chunks, not in themes):"
        )
        lines += [
            f"  - {shorten(u['title'], 100)} ({u['chunk_id']}) «{shorten(u['evidence'], 100)}»"
            for u in s.unverified[:MAX_LISTED]
        ]
    return lines


def _next_line(s: Synthesis) -> str:
    jid = format_id("j", s.job_id)
    n = s.next or {}
    action = n.get("action")
    if action == "wait" and s.waiting is not None:
        return f"Next: {s.waiting.message(jid)}"
    if action == "claim":
        return (
            f"Next: {n['open_tasks']} task(s) of {jid} are still open; spawn analysts (claim_task) "
            "and synthesize again."
        )
    if action == "reduce":
        planned = f"{n['tasks']} reduce task(s) planned" if "tasks" in n else "a reduce level is in progress"
        return (
            f"Next: too many findings for one answer — {planned} (level {n['level']}) in job {jid}. Spawn "
            f"rlm-chunk-analyzer agents on job_id={jid!r} (claim_task → submit_findings), then call "
            f"synthesize(job_id={jid!r}) again. Meanwhile the page above shows level {s.level}."
        )
    if action == "page":
        return f"Next: more themes — synthesize(job_id={jid!r}, offset={n['offset']})."
    return "Next: write the answer from these themes, citing chunk ids (get_chunk reads any of them)."


def render_text(s: Synthesis) -> str:
    first = s.page.offset == 0
    level = f" (reduce level {s.level})" if s.level else ""
    head = [f"Synthesis of {format_id('j', s.job_id)}{level} · question: {shorten(s.query, 200)}"]
    head += _coverage_lines(s)
    if first:
        head += _numbers_lines(s)
    body = _theme_lines(s)
    tail = _extra_lines(s) if first else []
    if first and s.cost is not None and s.cost.claims:
        tail.append(s.cost.to_text())
    if s.note:
        tail.append(f"Note: {s.note}")
    if s.report:
        tail.append(f"Report (HTML: tree, coverage map, citations, timeline; open in a browser): {s.report}")
    return "\n".join([*head, *body, *tail, _next_line(s)])
