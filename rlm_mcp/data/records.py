"""Records for planning projected jobs: the chosen columns of the records a predicate selects, in
record order, from the same sandbox as query_data (the predicate is checked the same way)."""

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from ..errors import InvalidInput, NotFound
from ..ids import format_id
from ..store import copies as copies_db
from ..store.rows import CopyRow
from .files import DataCopy
from .querying import explain_error, limits
from .sandbox import check_statement, quote_name, sandboxed, time_limit
from .views import view_setup

FETCH_ROWS = 2048
RECORDS_SECONDS_FACTOR = 6  # reading every record of a big table for a plan may take longer than a query


def copy_info(copy: DataCopy, document_id: int) -> CopyRow:
    """What the copy of a document holds: kind ('table' / 'lines'), records, columns and types."""
    with copy.store.read() as conn:
        row = copies_db.get_copy(conn, document_id)
    if row is None:
        raise NotFound(
            f"{format_id('d', document_id)} has no columnar copy (only tables, JSON, JSONL and text have "
            "one; list_documents gives ids, load_document makes the copy)."
        )
    return row


def _view(row: CopyRow) -> str:
    name = format_id("d", row.document_id)
    return f"{name}_lines" if row.kind == "lines" else name


def _statement(row: CopyRow, select: str, where: str | None) -> str:
    view = _view(row)
    sql = f"SELECT {select} FROM {view}"
    if where is not None and where.strip():
        sql += f" WHERE ({where})"
    statement = check_statement(sql)
    if statement.views != {view} or statement.reads_labels or statement.shape != "SELECT_NODE":
        raise InvalidInput(
            f"where must be a condition on the columns of {view} alone, such as status = 'open'."
        )
    return statement.sql


def _columns(row: CopyRow, columns: Sequence[str] | None) -> list[str]:
    key = "line" if row.kind == "lines" else "record"
    names = [name for name, _ in row.columns if name != key]
    if columns is None:
        return names
    known = {name.lower(): name for name in names}
    missing = [c for c in columns if c.lower() not in known]
    if missing:
        listed = ", ".join(names[:60]) + (f", … {len(names) - 60} more" if len(names) > 60 else "")
        raise InvalidInput(
            f"No column {', '.join(map(repr, missing))} in {_view(row)}. Its columns: {listed}."
        )
    return [known[c.lower()] for c in columns]


def select_records(
    copy: DataCopy,
    document_id: int,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(record, {column: value}) for every record of the document's copy that `where` selects, in
    record order. Tables: `record` and the named columns (all of them when None); texts: `line` and
    `text`. Values are Python values as DuckDB returns them (`values.format_value` prints them)."""
    return copy_records(copy, copy_info(copy, document_id), columns, where)


def check_columns(row: CopyRow, columns: Sequence[str] | None) -> list[str]:
    """The copy's spelling of `columns` (all of them when None); InvalidInput lists the real ones."""
    return _columns(row, columns)


def copy_records(
    copy: DataCopy,
    row: CopyRow,
    columns: Sequence[str] | None = None,
    where: str | None = None,
    between: tuple[int, int] | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """select_records for a copy row already read (inside a caller's store transaction); `between`
    keeps only the records numbered first…last."""
    if between is not None:
        span = (
            f"{'line' if row.kind == 'lines' else 'record'} BETWEEN {int(between[0])} AND {int(between[1])}"
        )
        where = f"({where}) AND {span}" if where and where.strip() else span
    names = _columns(row, columns)
    key = "line" if row.kind == "lines" else "record"
    select = ", ".join([key, *(quote_name(n) for n in names)])
    sql = _statement(row, select, where) + f" ORDER BY {key}"
    setup, files = view_setup(copy, {_view(row): row})
    seconds = copy.query_seconds * RECORDS_SECONDS_FACTOR
    with sandboxed(files, limits(copy), setup) as conn, time_limit(conn, seconds):
        try:
            cursor = conn.execute(sql)
            while batch := cursor.fetchmany(FETCH_ROWS):
                for values in batch:
                    yield int(values[0]), dict(zip(names, values[1:], strict=True))
        except duckdb.Error as error:
            raise InvalidInput(explain_error(error, {_view(row): row})) from None


def count_records(copy: DataCopy, document_id: int, where: str | None = None) -> int:
    """How many records of the document's copy `where` selects (all of them when None)."""
    return count_copy_records(copy, copy_info(copy, document_id), where)


def count_copy_records(copy: DataCopy, row: CopyRow, where: str | None = None) -> int:
    """count_records for a copy row already read (inside a caller's store transaction)."""
    if where is None or not where.strip():
        return row.records
    sql = _statement(row, "count(*)", where)
    setup, files = view_setup(copy, {_view(row): row})
    with sandboxed(files, limits(copy), setup) as conn, time_limit(conn, copy.query_seconds):
        try:
            return int(conn.execute(sql).fetchall()[0][0])
        except duckdb.Error as error:
            raise InvalidInput(explain_error(error, {_view(row): row})) from None


def count_hint(view: str, where: str | None) -> str:
    """A query_data call that counts the records `where` selects (for a message to the model)."""
    condition = f" WHERE {where}" if where else ""
    return f'query_data("SELECT count(*) FROM {view}{condition}")'


def crosstab_hint(job: str, document: str, dimension: str) -> str:
    """A query_data call that cross-tabs a job's labels with a column of the labelled document."""
    return (
        f'query_data("SELECT l.value, d.<column>, count(*) FROM labels l JOIN {document} d ON d.record = '
        f"l.record WHERE l.job_id = '{job}' AND l.document_id = '{document}' AND l.dimension = "
        f"'{dimension}' GROUP BY ALL ORDER BY ALL\")"
    )
