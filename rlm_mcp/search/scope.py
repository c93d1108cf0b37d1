"""Which documents a search or a job covers: ids, a folder prefix or a glob over the loaded documents.

`path` is matched against the paths documents were loaded from, never the disk: `src/` (or `src`)
takes every loaded document under that folder, `src/**/*.py` or `*.csv` a glob (`*` stays inside one
folder, `**` crosses folders), both relative to the project or absolute. Combined with
`document_ids`, only the documents both name are kept.
"""

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..config import Settings
from ..errors import InvalidInput, NotFound
from ..ids import format_id, parse_ids
from ..store import Connection
from ..store import documents as documents_db

GLOB_CHARS = frozenset("*?[")
MAX_PATH_CHARS = 1000


def coerce_ids(document_ids: Sequence[str | int] | str | int | None) -> list[str | int] | None:
    """A bare id ('d3'), a comma list ('d3, d4'), a JSON list string or a list; None or empty: all."""
    if document_ids is None:
        return None
    if isinstance(document_ids, int):
        return [document_ids]
    if isinstance(document_ids, str):
        text = document_ids.strip().strip("[]")
        parts = [p.strip().strip("'\"") for p in text.split(",")]
        return [p for p in parts if p] or None
    return list(document_ids) or None


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex over '/'-separated paths: `**/` any folders (or none), `*` within one name."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := pattern.find("]", i + 1)) > i:
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _relative(settings: Settings, stored: str) -> str | None:
    try:
        return PurePosixPath(Path(stored).relative_to(settings.project_dir).as_posix()).as_posix()
    except ValueError:
        return None


def match_path(conn: Connection, settings: Settings, path: str) -> list[int]:
    """Ids of the ready documents loaded from under folder `path`, or matching glob `path`."""
    raw = path.strip()
    if not raw or len(raw) > MAX_PATH_CHARS:
        raise InvalidInput(
            f"path must be a folder or a glob of 1–{MAX_PATH_CHARS} characters, e.g. 'src/' or '**/*.py'."
        )
    rows = documents_db.ready_paths(conn)
    if GLOB_CHARS & set(raw):
        absolute = Path(raw).expanduser().is_absolute()
        regex = glob_regex(raw.removeprefix("./"))
        return [
            doc_id
            for doc_id, stored in rows
            if regex.fullmatch(Path(stored).as_posix() if absolute else (_relative(settings, stored) or ""))
        ]
    given = Path(raw).expanduser()
    folder = (given if given.is_absolute() else settings.project_dir / given).resolve().as_posix()
    return [
        doc_id
        for doc_id, stored in rows
        if (s := Path(stored).as_posix()) == folder or s.startswith(folder.rstrip("/") + "/")
    ]


def resolve_scope(
    conn: Connection,
    settings: Settings,
    document_ids: Sequence[str | int] | str | int | None,
    path: str | None = None,
) -> list[int] | None:
    """The document ids to cover (sorted), or None for every document; unknown ids are a clear error."""
    ids = parse_ids(coerce_ids(document_ids), "d")
    if ids:
        missing = sorted(set(ids) - documents_db.existing_ids(conn, ids))
        if missing:
            names = ", ".join(format_id("d", m) for m in missing)
            raise NotFound(f"No document {names}. list_documents gives valid document ids.")
    if path is None or (isinstance(path, str) and not path.strip()):
        return ids or None
    under = match_path(conn, settings, path)
    if not under:
        raise NotFound(
            f"No loaded document matches path {path!r} (a folder prefix or a glob, relative to the "
            f"project {settings.project_dir}). list_documents shows what is loaded; load_document "
            "loads that folder."
        )
    if ids:
        both = sorted(set(ids) & set(under))
        if not both:
            raise NotFound(
                f"None of document_ids {[format_id('d', i) for i in ids]} is under path {path!r}; "
                "pass one of them, or omit document_ids."
            )
        return both
    return sorted(under)
