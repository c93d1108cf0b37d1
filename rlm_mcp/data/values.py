"""Values out of DuckDB, printed exactly: integers whole, decimals with every digit they have, floats
as their shortest round-trip digits without exponent notation, dates in ISO form."""

import datetime as dt
import decimal
import json
import math
import uuid
from typing import Any

MAX_CELL_CHARS = 2000  # one cell of a text answer; longer values are cut and say so


def format_value(value: Any) -> str:
    """The text of one value as a model reads it: `2432188.16`, never `2.43219e+06`."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _float_text(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = format(decimal.Decimal(repr(value)), "f")  # repr: the shortest digits that round-trip
    return text[:-2] if text.endswith(".0") else text


def json_value(value: Any) -> Any:
    """The same value for a JSON answer: numbers stay numbers where JSON can hold them exactly
    (a decimal that a float cannot represent digit for digit travels as its exact string)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value() and value.as_tuple().exponent >= 0:  # type: ignore[operator]
            return int(value)
        as_float = float(value)
        return as_float if decimal.Decimal(repr(as_float)) == value else format(value, "f")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def cell_text(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    """A value for one cell of a text table: on one line, cut at `limit` characters."""
    text = format_value(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= limit else text[: limit - 1] + "…"
