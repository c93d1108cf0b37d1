"""The data room: a columnar copy of every table, JSON and text document, and exact SQL over it.

At load, CSV/TSV, JSON (arrays, and arrays one level down like `{"orders": [...]}`) and JSONL get a
typed table, and text, markdown and logs a lines table, each a Parquet file under `<store dir>/data/`
(DuckDB writes it, streamed). On PostgreSQL the file's bytes are stored in the database and
`<store dir>/data/<schema>/` is this machine's cache of them, so a team's members read one copy (files.py).
Record numbers are the chunks' (`start_row`…`end_row`): CSV data rows
after the header (blank lines are not records), JSON elements, JSONL records, text lines. DuckDB SQL
lives only in this room; the store's SQLite SQL only in `store/`.

The API (what the loader, query_data and projected jobs use):

    open_copy(settings: Settings, store: Store) -> DataCopy
        The copies beside the store; cheap, opens nothing.
    query(copy: DataCopy, sql: str, document_ids: Sequence[int] | None = None,
          offset: int = 0, limit: int | None = None) -> QueryResult
        One sandboxed SELECT/WITH over the views `d3` (a table: `record` first, then its columns),
        `d3_lines` (a text: `line, text`) and `labels` (`job_id 'j2', document_id 'd3', record,
        dimension, value`). QueryResult is an Answer: `columns, rows, total?, next?`. Raises
        InvalidInput / NotFound with a message for the model.
    select_records(copy: DataCopy, document_id: int, columns: Sequence[str] | None = None,
                   where: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]
        (record, {column: value}) in record order for the records `where` (a SQL condition on that
        document's view, checked like a query) selects; a text document yields (line, {"text": …}).
    count_records(copy: DataCopy, document_id: int, where: str | None = None) -> int
    copy_records(copy, row: CopyRow, columns=None, where=None), count_copy_records(copy, row, where)
        The same for a copy row the caller already read inside its own store transaction.
    count_hint(view, where), crosstab_hint(job, document, dimension) -> str
        query_data calls to suggest in a message (the SQL text stays in this room).
    check_columns(row: CopyRow, columns) -> list[str]
        The copy's spelling of the columns; InvalidInput listing the real ones.
    copy_info(copy: DataCopy, document_id: int) -> CopyRow
        kind ('table' / 'lines'), records, columns [(name, DuckDB type)], warnings; NotFound if none.
    cell_text(value, limit) -> str
        A value on one line (newlines and tabs escaped), cut at `limit` characters.
    format_value(value) -> str
        A value printed exactly (2432188.16, never 2.43219e+06).

Loading uses `start_copy(copy, file: PinnedFile, content_type, stem, connection) -> CopyBuilder | None`
(the file opened once by the loader, read only through its descriptor; `connection`, a
`BuildConnection(copy.spill_directory)` the documents of one load share in turn), then
`builder.finish(profile) -> BuiltCopy | None`, `install_copy(copy, conn, built, document_id)` inside
the transaction that swaps the document in, and `discard(copy, old_file)` after it commits.
"""

from duckdb import Error as DuckDBError

from ..store import Connection
from .building import CopyBuilder, has_copy, start_copy
from .built import BuiltCopy, DeferredColumns
from .conversion import BuildConnection
from .files import DataCopy, discard, discard_removed, install, open_copy, sweep
from .querying import DEFAULT_LIMIT, MAX_LIMIT, QueryResult, query
from .records import (
    check_columns,
    copy_info,
    copy_records,
    count_copy_records,
    count_hint,
    count_records,
    crosstab_hint,
    select_records,
)
from .values import cell_text, format_value, json_value


def install_copy(copy: DataCopy, conn: Connection, built: BuiltCopy, document_id: int) -> str | None:
    """Rename the built copy to its final name and record it for `document_id` (inside the write
    transaction that swaps the document in); returns the replaced file, to `discard` after commit."""
    return install(copy, conn, built.temp, built.row(document_id))


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "BuildConnection",
    "BuiltCopy",
    "CopyBuilder",
    "DataCopy",
    "DeferredColumns",
    "DuckDBError",
    "QueryResult",
    "cell_text",
    "check_columns",
    "copy_info",
    "copy_records",
    "count_copy_records",
    "count_hint",
    "count_records",
    "crosstab_hint",
    "discard",
    "discard_removed",
    "format_value",
    "has_copy",
    "install_copy",
    "json_value",
    "open_copy",
    "query",
    "select_records",
    "start_copy",
    "sweep",
]
