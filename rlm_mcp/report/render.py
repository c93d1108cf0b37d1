"""The report as one self-contained HTML page: a Jinja2 template with autoescaping on, the style and
the one static script inlined, data for the script as escaped JSON, and a Content-Security-Policy
that lets only that script run and forbids every network request."""

import base64
import functools
import hashlib
import json
from importlib import resources
from typing import Any

from markupsafe import Markup

from ..ids import format_id
from .model import Report, cited_chunks, clock, quote_chunk

TEMPLATES = "templates"
JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
STATE_ORDER = ("done", "claimed", "pending", "failed", "outside", "gone")


def script_json(data: Any) -> Markup:
    """JSON that is inert inside `<script type="application/json">`: no `</script>`, no `<!--`, no
    line separators a JavaScript parser would choke on."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return Markup(text)


def _asset(name: str) -> str:
    return (resources.files(__package__) / TEMPLATES / name).read_text(encoding="utf-8")


def _number(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return "—" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return f"{x:,.6g}" if abs(x) < 1e15 else f"{x:.6g}"
    return str(x)


def _many(n: int, noun: str) -> str:
    """'1 task', '2 tasks', '1,204 findings': a count with its noun, singular only for one."""
    return f"{_number(n)} {noun}{'' if n == 1 else 's'}"


def _seconds(x: float | None) -> str:
    if x is None:
        return "—"
    if x < 60:
        return f"{x:.1f} s"
    if x < 3600:
        return f"{x / 60:.1f} min"
    return f"{x / 3600:.1f} h"


@functools.cache
def _environment() -> Any:
    from jinja2 import Environment, StrictUndefined  # here: the MCP server starts without loading it

    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        {
            "num": _number,
            "many": _many,
            "secs": _seconds,
            "clock": clock,
            "hms": lambda ts: clock(ts)[11:] if ts else "—",
            "pct": lambda r: f"{r:.1%}",
            "script_json": script_json,
            "fid": lambda n: f"f{n}",
        }
    )
    env.globals.update(
        {"cid": lambda n: format_id("c", n), "tid": lambda n: format_id("t", n), "fid": lambda n: f"f{n}",
         "did": lambda n: format_id("d", n), "cited_chunks": cited_chunks, "quote_chunk": quote_chunk,
         "STATE_ORDER": STATE_ORDER}
    )  # fmt: skip
    return env


@functools.cache
def _template() -> Any:
    return _environment().from_string(_asset("report.html.j2"))


@functools.cache
def _script() -> tuple[str, str]:
    """The static script and its CSP hash."""
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return script, f"'sha256-{digest}'"


def render_report(report: Report) -> str:
    script, script_hash = _script()
    data = {
        "job_id": format_id("j", report.job_id),
        "query": report.query,
        "workers": list(report.workers),
        "tasks": sum(report.states.values()),
    }
    html: str = _template().render(
        r=report,
        jid=format_id("j", report.job_id),
        style=Markup(_asset("report.css")),
        script=Markup(script),
        script_hash=script_hash,
        data=data,
    )
    return html
