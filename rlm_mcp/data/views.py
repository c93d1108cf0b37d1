"""The views a query sees: `d3` over a table's Parquet copy, `d3_lines` over a text's, and `labels`."""

from collections.abc import Iterable
from typing import Any

from ..ids import format_id
from ..store.labels import LabelRow
from ..store.rows import CopyRow
from .files import DataCopy, local_file
from .lines import lines_view
from .sandbox import LABELS_VIEW, quote_literal, quote_name

LABEL_COLUMNS = "job_id VARCHAR, document_id VARCHAR, record BIGINT, dimension VARCHAR, value VARCHAR"


def view_setup(copy: DataCopy, copies: dict[str, CopyRow]) -> tuple[list[str], list[str]]:
    """CREATE VIEW statements for the views a query reads, and the files they may open."""
    statements, files = [], []
    for name, row in sorted(copies.items()):
        path = str(local_file(copy, row))
        files.append(path)
        relation = (
            lines_view(path) if row.kind == "lines" else f"SELECT * FROM read_parquet({quote_literal(path)})"
        )
        statements.append(f"CREATE VIEW {quote_name(name)} AS {relation}")
    return statements, files


def labels_setup(rows: Iterable[LabelRow]) -> list[tuple[str, list[Any]]]:
    """The `labels` view's rows, sent to DuckDB as five parallel lists (one statement, no per-row cost)."""
    jobs: list[str] = []
    documents: list[str] = []
    records: list[int] = []
    dimensions: list[str] = []
    values: list[str] = []
    for row in rows:
        jobs.append(format_id("j", row.job_id))
        documents.append(format_id("d", row.document_id))
        records.append(row.record)
        dimensions.append(row.dimension)
        values.append(row.value)
    create = f"CREATE TABLE {LABELS_VIEW} ({LABEL_COLUMNS})"
    fill = (
        f"INSERT INTO {LABELS_VIEW} SELECT unnest($1::VARCHAR[]), unnest($2::VARCHAR[]), "
        "unnest($3::BIGINT[]), unnest($4::VARCHAR[]), unnest($5::VARCHAR[])"
    )
    return [(create, []), (fill, [jobs, documents, records, dimensions, values])]
