"""query_data: one sandboxed SELECT over the columnar copies, paged, with every number exact."""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from ..answers import MAX_ANSWER_CHARS
from ..errors import InvalidInput, NotFound
from ..ids import format_id
from ..store import copies as copies_db
from ..store import documents as documents_db
from ..store import labels as labels_db
from ..store.rows import CopyRow
from .files import CopyChanged, DataCopy
from .sandbox import LABELS_VIEW, VIEW_NAME, Limits, Statement, cached_sandbox, check_statement, time_limit
from .values import cell_text, json_value
from .views import labels_setup, view_setup

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_LISTED_COLUMNS = 60
MISSING_COLUMN = re.compile(r'Referenced column "?([^"\n]+?)"? not found', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of one page of a query's result; `total` when known, `next` when more rows follow."""

    sql: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    offset: int
    total: int | None
    next: int | None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "columns": list(self.columns),
            "rows": [[json_value(v) for v in row] for row in self.rows],
        }
        if self.total is not None:
            data["total"] = self.total
        if self.next is not None:
            data["next"] = self.next
        return data

    def to_text(self) -> str:
        header = " | ".join(self.columns)
        lines = [header, "-" * min(len(header), 80)]
        lines += [" | ".join(cell_text(v) for v in row) for row in self.rows]
        first, last = self.offset + 1, self.offset + len(self.rows)
        if not self.rows:
            summary = "No rows." if self.offset == 0 else f"No rows at offset {self.offset}."
        elif self.total is not None:
            summary = (
                f"Rows {first}-{last} of {self.total:,}."
                if self.total > len(self.rows)
                else (f"{self.total:,} row{'s' if self.total != 1 else ''}.")
            )
        else:
            summary = f"Rows {first}-{last} of more."
        lines.append(summary)
        if self.next is not None:
            lines.append(
                f"… more rows; call query_data with the same sql and offset={self.next}, or aggregate "
                "(GROUP BY, count, sum) so the answer fits."
            )
        return "\n".join(lines)


def query(
    copy: DataCopy,
    sql: str,
    document_ids: Sequence[int] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> QueryResult:
    """Run one read-only SELECT over the copies; rows `offset` … `offset + limit` (default 100)."""
    limit = DEFAULT_LIMIT if limit is None else limit
    if offset < 0:
        raise InvalidInput(f"offset must be 0 or more (got {offset}).")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT} (got {limit}).")
    statement = check_statement(sql)
    copies, setup, files = _views(copy, statement, document_ids)
    with cached_sandbox(files, limits(copy), setup) as conn:
        if statement.reads_labels:
            fill_labels(copy, conn, document_ids)
        with time_limit(conn, copy.query_seconds) as fired:
            try:
                return _page(conn, statement, copies, offset, limit)
            except duckdb.InterruptException:
                raise InvalidInput(_timeout_message(copy)) from None
            except duckdb.Error as error:
                if fired.is_set():
                    raise InvalidInput(_timeout_message(copy)) from None
                raise InvalidInput(explain_error(error, copies)) from None


def _views(
    copy: DataCopy, statement: Statement, document_ids: Sequence[int] | None
) -> tuple[dict[str, CopyRow], list[str], list[str]]:
    """The statement's copies and their views. Trigger: on PostgreSQL another member reloaded a
    document between reading its row and caching its bytes. Why: the old bytes are gone. Outcome: the
    rows are read again once, so the query reads the new version."""
    try:
        copies = resolve_views(copy, statement, document_ids)
        return copies, *view_setup(copy, copies)
    except CopyChanged:
        copies = resolve_views(copy, statement, document_ids)
        return copies, *view_setup(copy, copies)


def limits(copy: DataCopy) -> Limits:
    return Limits(copy.query_memory, min(4, os.cpu_count() or 1), str(copy.spill_directory))


def _timeout_message(copy: DataCopy) -> str:
    return (
        f"The query ran past the {copy.query_seconds:g} s limit and was interrupted. Narrow it (a WHERE, "
        "fewer columns, an aggregate instead of a join of raw rows) or raise RLM_QUERY_SECONDS."
    )


def _page(
    conn: duckdb.DuckDBPyConnection,
    statement: Statement,
    copies: dict[str, CopyRow],
    offset: int,
    limit: int,
) -> QueryResult:
    relation = conn.sql(statement.sql)
    columns = tuple(relation.columns)
    types = tuple(str(t) for t in relation.types)
    rows = relation.limit(limit + 1, offset).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    shown = _fit(columns, rows)
    if more or shown < len(rows):
        total = int(conn.sql(f"SELECT count(*) FROM ({statement.sql})").fetchall()[0][0])
    else:
        total = offset + len(rows)
    rows = rows[:shown]
    following = offset + len(rows) if offset + len(rows) < total else None
    return QueryResult(statement.sql, columns, types, tuple(map(tuple, rows)), offset, total, following)


def _fit(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> int:
    """How many rows fit one tool answer."""
    budget = MAX_ANSWER_CHARS - sum(len(c) + 3 for c in columns) - 400
    for index, row in enumerate(rows):
        budget -= sum(len(cell_text(v)) + 3 for v in row) + 1
        if budget < 0:
            return max(1, index)
    return len(rows)


def resolve_views(
    copy: DataCopy, statement: Statement, document_ids: Sequence[int] | None
) -> dict[str, CopyRow]:
    """The copy behind each view the statement reads; a clear error for a view that has none."""
    wanted = {name: int(VIEW_NAME.match(name).group(1)) for name in statement.views}  # type: ignore[union-attr]
    allowed = set(document_ids) if document_ids is not None else None
    with copy.store.read() as conn:
        rows = {c.document_id: c for c in copies_db.list_copies(conn, sorted(set(wanted.values())))}
        found: dict[str, CopyRow] = {}
        for name, number in sorted(wanted.items()):
            if allowed is not None and number not in allowed:
                listed = ", ".join(format_id("d", d) for d in sorted(allowed))
                raise InvalidInput(
                    f"{name} is outside document_ids ({listed}); add it there or drop the scope."
                )
            row = rows.get(number)
            if row is None or (row.kind == "lines") != name.endswith("_lines"):
                raise NotFound(_no_view(conn, name, number, row))
            found[name] = row
    return found


def _no_view(conn: Any, name: str, number: int, row: CopyRow | None) -> str:
    doc_id = format_id("d", number)
    if row is not None and row.kind == "lines":
        return f"{doc_id} is a text document: its lines are the view {doc_id}_lines (line, text)."
    if row is not None:
        return f"{doc_id} is a table: query the view {doc_id} (its lines have no view of their own)."
    document = documents_db.get_ready(conn, number)
    if document is None:
        return f"No document {doc_id}. list_documents gives valid document ids."
    return (
        f"{doc_id} ({document.content_type}) has no columnar copy, so {name} does not exist; tables, "
        "JSON, JSONL and text documents get one at load (load_document again to make it)."
    )


def fill_labels(copy: DataCopy, conn: duckdb.DuckDBPyConnection, document_ids: Sequence[int] | None) -> None:
    with copy.store.read() as sconn:
        rows = list(labels_db.label_rows(sconn, document_ids=document_ids))
    for statement, params in labels_setup(rows):
        conn.execute(statement, params)


def explain_error(error: duckdb.Error, copies: dict[str, CopyRow]) -> str:
    """The DuckDB error in a model's terms: a bad column lists the real ones, a syntax error points."""
    message = "\n".join(str(error).splitlines()[:6]).strip()
    missing = MISSING_COLUMN.search(message)
    if isinstance(error, duckdb.BinderException) and missing:
        listing = "; ".join(f"{name}: {_column_list(row)}" for name, row in sorted(copies.items()))
        if LABELS_VIEW in message or not listing:
            listing = (
                listing + "; " if listing else ""
            ) + "labels: job_id, document_id, record, dimension, value"
        return f"No column {missing.group(1)!r}. Columns of {listing}."
    if isinstance(error, duckdb.ParserException):
        return f"SQL syntax error: {message}"
    if isinstance(error, duckdb.OutOfMemoryException):
        return f"The query needs more memory than RLM_QUERY_MEMORY allows: {message}. Aggregate or filter."
    return f"The query failed: {message}"


def _column_list(row: CopyRow) -> str:
    names = [name for name, _ in row.columns]
    listed = ", ".join(names[:MAX_LISTED_COLUMNS])
    if len(names) > MAX_LISTED_COLUMNS:
        view = format_id("d", row.document_id)
        listed += f", … {len(names) - MAX_LISTED_COLUMNS:,} more (DESCRIBE {view} lists them all)"
    return listed
