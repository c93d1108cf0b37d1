"""Short ids the model sees: d3 (document), c1042 (chunk), j2 (job), t17 (task)."""

from .errors import InvalidInput

MAX_ID = 2**63 - 1  # SQLite's largest integer; a bigger number names nothing (and would overflow)

PREFIX_NAMES = {"d": "document", "c": "chunk", "j": "job", "t": "task"}
LISTING_HINTS = {
    "d": "list_documents gives valid document ids",
    "c": "search_chunks or get_chunk's neighbours give valid chunk ids",
    "j": "create_job returns a job id",
    "t": "claim_task returns a task id",
}


def format_id(prefix: str, number: int) -> str:
    return f"{prefix}{number}"


def parse_id(value: str | int, prefix: str) -> int:
    """Accept `c12`, `12` or 12 for prefix `c`; anything else is a clear error."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 < value <= MAX_ID:
            return value
    elif isinstance(value, str):
        text = value.strip()
        if text[:1].lower() == prefix:
            text = text[1:]
        if text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID:
            return int(text)
    noun = PREFIX_NAMES[prefix]
    raise InvalidInput(
        f"{value!r} is not a {noun} id; {noun} ids look like '{prefix}12'. {LISTING_HINTS[prefix]}."
    )


def parse_ids(values: list[str | int] | str | int | None, prefix: str) -> list[int] | None:
    if values is None:
        return None
    if isinstance(values, str | int):
        values = [values]
    return sorted({parse_id(v, prefix) for v in values})
