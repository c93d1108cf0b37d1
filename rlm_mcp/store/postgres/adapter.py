"""The store's SQL on PostgreSQL: one connection object with the SQLite connection's surface.

The query modules (`store/documents.py`, `jobs.py`, …) write their SQL once, in the subset both
engines share. What differs is translated here, by a fixed and tested set of rules, once per
statement text (cached):

- `?` placeholders become `%s` (and a literal `%` becomes `%%`), never inside a quoted string;
- `x IN (SELECT value FROM json_each(?))`, the SQLite way to pass a list, becomes `x = ANY(%s)`
  with the JSON text decoded into a Python list, so Postgres types the array by its column;
- `INSERT OR IGNORE INTO …` becomes `INSERT INTO … ON CONFLICT DO NOTHING`;
- `group_concat(` becomes `string_agg(`.

Where the engines differ by more than spelling (full-text search, vectors, bulk inserts, the claim
with `SKIP LOCKED`), the query module asks `is_postgres(conn)` and runs the Postgres statement itself
through `conn.pg`, the psycopg connection. Rows answer by position and by column name, like
`sqlite3.Row`; `numeric` values (Postgres' `sum` of a bigint) come back as int, or float when they
have a fraction, as SQLite gives them.
"""

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any

_LIST_PARAM = re.compile(r"\bIN\s*\(\s*SELECT\s+value\s+FROM\s+json_each\(\s*\?\s*\)\s*\)", re.IGNORECASE)
_OR_IGNORE = re.compile(r"^\s*INSERT\s+OR\s+IGNORE\s+INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)
_GROUP_CONCAT = re.compile(r"\bgroup_concat\(", re.IGNORECASE)
_LIST_MARK = "\x00list\x00"


class Row(tuple[Any, ...]):
    """A result row: by position (`row[0]`), by column name (`row["id"]`), or unpacked."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(column.name for column in cursor.description or ())
    cls = type("Row", (Row,), {"names": names, "__slots__": ()})

    def make(values: Sequence[Any]) -> Row:
        row: Row = cls(values)
        return row

    return make


@lru_cache(maxsize=1024)
def translate(sql: str) -> tuple[str, tuple[int, ...]]:
    """The Postgres text of a store statement, and which of its parameters carry a JSON list."""
    text = _LIST_PARAM.sub(f"= ANY({_LIST_MARK})", sql)
    text = _GROUP_CONCAT.sub("string_agg(", text)
    ignore = bool(_OR_IGNORE.match(text))
    if ignore:
        text = _OR_IGNORE.sub("INSERT INTO", text, count=1)
    out: list[str] = []
    lists: list[int] = []
    index = 0
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
            index += 1
        elif text.startswith(_LIST_MARK, i):
            out.append("%s")
            lists.append(index)
            index += 1
            i += len(_LIST_MARK)
            continue
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
        i += 1
    result = "".join(out).rstrip().rstrip(";")
    if ignore:
        returning = _RETURNING.search(result)
        if returning:
            result = result[: returning.start()] + "ON CONFLICT DO NOTHING " + result[returning.start() :]
        else:
            result += " ON CONFLICT DO NOTHING"
    return result, tuple(lists)


def _params(params: Sequence[Any], lists: tuple[int, ...]) -> Sequence[Any]:
    if not lists:
        return params
    values = list(params)
    for position in lists:
        raw = values[position]
        values[position] = json.loads(raw) if isinstance(raw, str | bytes) else list(raw)
    return values


class PgConnection:
    """A psycopg connection that runs the store's statements (see the module docstring)."""

    dialect = "postgres"

    def __init__(self, pg: Any) -> None:
        self.pg = pg
        pg.row_factory = _row_factory
        _numbers_as_sqlite_gives_them(pg)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        text, lists = translate(sql)
        # always with parameters (maybe none): the text's `%%` is then read as `%`, as translate wrote it
        return self.pg.execute(text, _params(params, lists))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        text, lists = translate(sql)
        cursor = self.pg.cursor()
        cursor.executemany(text, [_params(r, lists) for r in rows])
        return cursor

    @property
    def closed(self) -> bool:
        return bool(self.pg.closed)

    def close(self) -> None:
        self.pg.close()

    def __iter__(self) -> Iterator[Any]:  # pragma: no cover - a connection is not iterable
        raise TypeError("PgConnection is not iterable")


def is_postgres(conn: Any) -> bool:
    """Whether `conn` is a Postgres connection (the query modules branch on it where SQL differs)."""
    return isinstance(conn, PgConnection)


def native(conn: Any) -> Any:
    """The psycopg connection behind `conn` (native `%s` SQL), or `conn` itself when it is one."""
    return conn.pg if isinstance(conn, PgConnection) else conn


def _numbers_as_sqlite_gives_them(pg: Any) -> None:
    """`numeric` → int (or float with a fraction), so JSON answers never meet a Decimal."""
    from psycopg.types.numeric import NumericLoader

    class Loader(NumericLoader):
        def load(self, data: Any) -> Any:
            value = super().load(data)
            if isinstance(value, Decimal):
                return int(value) if value == value.to_integral_value() else float(value)
            return value

    pg.adapters.register_loader("numeric", Loader)
