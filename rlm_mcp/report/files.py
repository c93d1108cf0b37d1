"""Where reports go and when they are written: `<store folder>/reports/<job>.html` (`.rlm/reports/` by
default), rewritten by `synthesize` only when the job's work changed since the file was written (its
second line carries a fingerprint of the job's task states, claims and findings)."""

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..ids import format_id, parse_id
from ..store import Store
from ..store import reports as db
from ..synthesis import Synthesis
from ..synthesis import merge as synthesis
from .model import build_report
from .render import render_report

REPORTS_DIRNAME = "reports"
FILE_MODE = 0o666  # like any file the user writes (mkstemp would leave 0600)
HEAD_BYTES = 200  # enough for the doctype line and the fingerprint comment


@dataclass(frozen=True, slots=True)
class ReportFile:
    job_id: int
    path: Path
    bytes: int
    written: bool  # False when the file already showed the job as it is

    def to_json(self) -> dict[str, Any]:
        return {"job_id": format_id("j", self.job_id), "path": str(self.path), "bytes": self.bytes,
                "written": self.written}  # fmt: skip

    def to_text(self) -> str:
        what = "Wrote" if self.written else "Up to date:"
        return (
            f"{what} the report of {format_id('j', self.job_id)}: {self.path} ({self.bytes / 1e6:.2f} MB). "
            "Open it in a browser (one file, no network needed)."
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def reports_dir(settings: Settings) -> Path:
    return settings.db_path.parent / REPORTS_DIRNAME


def default_path(settings: Settings, job_id: int) -> Path:
    return reports_dir(settings) / f"{format_id('j', job_id)}.html"


def _fingerprint_of(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    marker = " fingerprint "
    at = head.find(marker)
    return head[at + len(marker) :].split(" ", 1)[0] if at >= 0 else None


def write_report(store: Store, job_id: str | int, path: Path, force: bool = True) -> ReportFile:
    """Build the job's report and write it to `path` atomically (a reader never sees half a page)."""
    number = parse_id(job_id, "j")
    if not force and path.exists():
        with store.read() as conn:
            current = db.report_fingerprint(conn, number)
        if _fingerprint_of(path) == current:
            return ReportFile(number, path, path.stat().st_size, False)
    html = render_report(build_report(store, number)).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(html)
        os.chmod(tmp, FILE_MODE & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ReportFile(number, path, len(html), True)


def synthesize_with_report(
    store: Store,
    settings: Settings,
    job_id: str | int,
    offset: int = 0,
    themes: synthesis.ThemesCache | None = None,
) -> Synthesis:
    """synthesize, and the job's report at `.rlm/reports/<job>.html` kept up to date (the first page
    refreshes it when the job changed; later pages only name it)."""
    result = synthesis.synthesize(store, job_id, offset, themes=themes)
    path = default_path(settings, result.job_id)
    if offset == 0 or not path.exists():
        write_report(store, result.job_id, path, force=False)
    return replace(result, report=str(path))
