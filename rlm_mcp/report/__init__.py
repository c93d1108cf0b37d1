"""The HTML report of a job: one self-contained page (no network) with the summary, the tree of levels,
tasks and findings, the coverage map, themes with citations that open their chunks, and the timeline."""

from .files import ReportFile, default_path, reports_dir, synthesize_with_report, write_report
from .model import Report, build_report
from .render import render_report

__all__ = [
    "Report",
    "ReportFile",
    "build_report",
    "default_path",
    "render_report",
    "reports_dir",
    "synthesize_with_report",
    "write_report",
]
