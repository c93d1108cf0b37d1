"""Column names a query can use: unique (DuckDB compares names case-insensitively), never empty, and
never one of the copy's own columns (`record`, `line`)."""

from collections.abc import Sequence

RESERVED = ("record",)
MAX_NAME_CHARS = 120
MAX_REPORTED = 8


def unique_names(names: Sequence[str], reserved: Sequence[str] = RESERVED) -> tuple[list[str], list[str]]:
    """Names made unique and non-empty, and a warning for each kind of change (say so, never silently)."""
    taken = {r.lower() for r in reserved}
    result: list[str] = []
    empty: list[int] = []
    renamed: list[str] = []
    for index, raw in enumerate(names, start=1):
        name = raw.strip().removeprefix("\ufeff")[:MAX_NAME_CHARS]
        if not name:
            empty.append(index)
            name = f"column_{index}"
        base, suffix = name, 2
        while name.lower() in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        if name != (raw.strip().removeprefix("\ufeff")[:MAX_NAME_CHARS] or f"column_{index}"):
            renamed.append(f"{raw.strip()!r} -> {name!r}")
        taken.add(name.lower())
        result.append(name)
    warnings = []
    if empty:
        listed = ", ".join(map(str, empty[:MAX_REPORTED])) + (" …" if len(empty) > MAX_REPORTED else "")
        warnings.append(f"{len(empty)} empty header name(s) (column {listed}) named column_N")
    if renamed:
        listed = ", ".join(renamed[:MAX_REPORTED]) + (" …" if len(renamed) > MAX_REPORTED else "")
        warnings.append(f"{len(renamed)} duplicate or reserved column name(s) made unique: {listed}")
    return result, warnings
