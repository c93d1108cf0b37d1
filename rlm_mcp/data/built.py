"""What building a copy hands over: a table's columns the chunker left for DuckDB to profile
(`DeferredColumns`, given to `CopyBuilder.finish`) and the finished copy that waits in a temp file for
its document's swap (`BuiltCopy`)."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.rows import CopyRow
from . import files


@dataclass(frozen=True, slots=True)
class DeferredColumns:
    """A table the chunker did not profile (`profiles_columns`): its header, whether every record was
    a clean line (csvrows.clean_records, so DuckDB read the very fields Python reads), and the Python
    profile to fall back on when DuckDB's cannot be had."""

    names: list[str]
    clean: bool
    fallback: Callable[[], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class BuiltCopy:
    """A finished copy waiting in a temp file for the transaction that swaps its document in."""

    temp: Path
    kind: str
    records: int
    columns: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...]
    top_values: dict[str, list[list[object]]]

    def row(self, document_id: int) -> CopyRow:
        return CopyRow(
            document_id, self.kind, files.final_name(self.temp), self.records, self.columns, self.warnings
        )

    def discard(self) -> None:
        """A swap that failed: the temp file goes, and so does the file it was renamed to if the
        rename ran before the transaction rolled back (its name is this build's own, never a live copy's)."""
        files.discard_temp(self.temp)
        files.discard_temp(self.temp.with_name(files.final_name(self.temp)))
