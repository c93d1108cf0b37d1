"""query_data: exact answers from the columnar copies (DuckDB loads on the first call)."""

from typing import Annotated

from mcp.server import MCPServer
from pydantic import Field

from ..answers import Answer
from ..ids import parse_ids
from ..workspace import Workspace
from .common import READ_ONLY, ResponseFormatArg, respond

MAX_LIMIT = 1000  # data.MAX_LIMIT, repeated so the server starts without importing duckdb


def register(server: MCPServer, state: Workspace) -> None:
    @server.tool(annotations=READ_ONLY, structured_output=False)
    def query_data(
        sql: Annotated[
            str,
            Field(
                description="One DuckDB SELECT (or WITH … SELECT). Views: d3 (a table's records: `record`, "
                "then its columns), d3_lines (a text's `line, text`), labels (job_id, document_id, "
                "record, dimension, value). DESCRIBE d3 lists columns."
            ),
        ],
        document_ids: Annotated[
            list[str | int] | None,
            Field(description="Only these documents' views may be read, e.g. ['d3']; omit for all."),
        ] = None,
        offset: Annotated[int, Field(description="Skip this many result rows (paging).", ge=0)] = 0,
        limit: Annotated[
            int | None,
            Field(description=f"Rows per page (default 100, at most {MAX_LIMIT}).", ge=1, le=MAX_LIMIT),
        ] = None,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Exact counts, sums, distincts, percentiles and regex tallies over tables, JSON and text by
        SQL, instead of reading chunks or planning a job. Read-only and sandboxed (no files, no
        settings), time-limited, paged; numbers are printed exactly."""

        def run() -> Answer:
            from .. import data

            copy = data.open_copy(state.settings, state.store)
            return data.query(copy, sql, parse_ids(document_ids, "d"), offset, limit)

        return respond(run, response_format)
