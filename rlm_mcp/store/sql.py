"""SQL text helpers shared by the query modules: placeholders and the document scope of a query."""

import json
from collections.abc import Iterable, Sequence


def placeholders(n: int) -> str:
    """`?,?,…` for an `IN (…)` list of `n` values."""
    return ",".join("?" * n)


def json_array(values: Iterable[int | str]) -> str:
    """The one parameter `IN (SELECT value FROM json_each(?))` reads: the values as a JSON array (any
    number of them, where `?,?,…` stops at the driver's limit on parameters)."""
    return json.dumps(list(values))


def scope(document_ids: Sequence[int] | None, column: str = "c.document_id") -> tuple[str, tuple[int, ...]]:
    """` AND column IN (…)` and its parameters; nothing when no documents are asked for (all of them)."""
    if not document_ids:
        return "", ()
    return f" AND {column} IN ({placeholders(len(document_ids))})", tuple(document_ids)
