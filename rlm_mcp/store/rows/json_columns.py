"""The JSON codec of the store's JSON columns: decoded in `store/`, so callers see dicts and lists."""

import functools
import json
from typing import Any


def to_json(value: Any) -> str | None:
    """A JSON column's text; None stays NULL."""
    return None if value is None else json.dumps(value)


def from_json(raw: str | None) -> Any:
    """A JSON column's value; NULL and '' are None."""
    return json.loads(raw) if raw else None


@functools.lru_cache(maxsize=4096)
def tags_from_json(raw: str) -> tuple[str, ...]:
    """A findings' tags column; the same few tag lists repeat across thousands of findings."""
    return tuple(json.loads(raw))


def ids_from_json(raw: str) -> tuple[int, ...]:
    """A findings' citations column: usually `[123]` or `[1, 2]`, parsed without the JSON decoder."""
    inner = raw[1:-1]
    try:
        return tuple(int(x) for x in inner.split(",")) if inner.strip() else ()
    except ValueError:
        return tuple(json.loads(raw))
