"""SQL text helpers shared by the query modules: placeholders and the document scope of a query."""

from collections.abc import Sequence


def placeholders(n: int) -> str:
    """`?,?,…` for an `IN (…)` list of `n` values."""
    return ",".join("?" * n)


def scope(document_ids: Sequence[int] | None, column: str = "c.document_id") -> tuple[str, tuple[int, ...]]:
    """` AND column IN (…)` and its parameters; nothing when no documents are asked for (all of them)."""
    if not document_ids:
        return "", ()
    return f" AND {column} IN ({placeholders(len(document_ids))})", tuple(document_ids)
