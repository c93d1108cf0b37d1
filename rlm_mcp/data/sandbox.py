"""The sandbox every query runs in: one read-only SELECT over the views of the documents it names.

Two locks, each enough on its own for files: DuckDB's (`enable_external_access=false` with only the
copy files in `allowed_paths`, `lock_configuration=true`, no extension loading, no Python replacement
scans), and a check of the statement's syntax tree before it runs (one SELECT/WITH; tables are
document views, `labels` or the query's own CTEs; table functions only from a short allowlist).
"""

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

from ..errors import InvalidInput

ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
DENIED_FUNCTIONS = frozenset(
    {"glob", "read_text", "read_blob", "read_csv", "read_csv_auto", "read_json", "read_json_auto",
     "read_json_objects", "read_ndjson", "read_parquet", "parquet_scan", "getenv", "query", "query_table",
     "sniff_csv", "current_setting", "duckdb_settings", "sqlite_scan", "postgres_scan"}
)  # fmt: skip
VIEW_NAME = re.compile(r"^d(\d+)(_lines)?$", re.IGNORECASE)
LABELS_VIEW = "labels"
REFUSED_HINT = "query_data runs one read-only SELECT (or WITH … SELECT) over the document views."


@dataclass(frozen=True, slots=True)
class Statement:
    """A checked statement: its text and the document views and whether `labels` it reads."""

    sql: str
    views: frozenset[str]  # lower-case names like d3, d3_lines
    reads_labels: bool
    shape: str  # the top node: SELECT_NODE, SET_OPERATION_NODE (UNION …), …


def check_statement(sql: str) -> Statement:
    """Parse without running: exactly one SELECT whose tables and functions stay inside the sandbox."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise InvalidInput("The SQL is empty. " + REFUSED_HINT)
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as error:
        raise InvalidInput(f"SQL syntax error: {_first_lines(str(error))}") from None
    if len(statements) != 1:
        raise InvalidInput(
            f"Refused: {len(statements)} statements. {REFUSED_HINT} Send them one call at a time."
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        name = str(kind).rsplit(".", 1)[-1]
        raise InvalidInput(
            f"Refused: a {name} statement. {REFUSED_HINT} Writing, copying, attaching, installing "
            "and changing settings are not allowed."
        )
    tree = _syntax_tree(text)
    views, labels = _walk(tree, set())
    return Statement(text, frozenset(views), labels, str(tree["statements"][0]["node"].get("type")))


_PARSERS = threading.local()  # one parsing connection per thread: a connect costs more than a parse


def _parser() -> duckdb.DuckDBPyConnection:
    conn = getattr(_PARSERS, "conn", None)
    if conn is None:
        conn = duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 1})
        conn.execute("SET lock_configuration = true")
        _PARSERS.conn = conn
    return conn


def _syntax_tree(text: str) -> Any:
    raw = _parser().execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0]
    tree = json.loads(raw)
    if tree.get("error"):
        message = tree.get("error_message", "cannot be parsed")
        position = tree.get("position")
        if position is not None and str(position).isdigit():
            message += "\n" + _pointer(text, int(position))
        raise InvalidInput(f"SQL syntax error: {message}. {REFUSED_HINT}")
    return tree


def _pointer(text: str, position: int) -> str:
    """The line of the query holding `position`, with a caret under it."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start : end if end != -1 else len(text)]
    return f"  {line}\n  {' ' * (position - start)}^"


def _walk(node: Any, ctes: set[str]) -> tuple[set[str], bool]:
    """Every table the tree reads; refuses table functions off the allowlist and file functions."""
    views: set[str] = set()
    labels = False
    if isinstance(node, list):
        for item in node:
            found, reads = _walk(item, ctes)
            views |= found
            labels = labels or reads
        return views, labels
    if not isinstance(node, dict):
        return views, labels
    for entry in (node.get("cte_map") or {}).get("map") or []:
        if isinstance(entry, dict) and "key" in entry:
            ctes.add(str(entry["key"]).lower())
    kind = node.get("type")
    if kind == "TABLE_FUNCTION":
        name = str((node.get("function") or {}).get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise InvalidInput(
                f"Refused: the table function {name}() is not allowed (no file or catalog access). "
                f"Read the document views instead (d3, d3_lines, labels); list_documents gives ids."
            )
    elif node.get("class") == "FUNCTION" and str(node.get("function_name", "")).lower() in DENIED_FUNCTIONS:
        raise InvalidInput(
            f"Refused: {node['function_name']}() reads files or settings, which query_data does not "
            "allow. Query the document views (d3, d3_lines, labels) instead."
        )
    elif kind == "BASE_TABLE":
        found, reads = _table(node, ctes)
        views |= found
        labels = labels or reads
    elif kind == "SHOW_REF" and node.get("table_name"):
        found, reads = _table({"table_name": str(node["table_name"]).strip('"')}, ctes)
        views |= found
        labels = labels or reads
    for value in node.values():
        if isinstance(value, dict | list):
            found, reads = _walk(value, ctes)
            views |= found
            labels = labels or reads
    return views, labels


def _table(node: dict[str, Any], ctes: set[str]) -> tuple[set[str], bool]:
    name = str(node.get("table_name", ""))
    lowered = name.lower()
    if node.get("schema_name") or node.get("catalog_name"):
        raise InvalidInput(
            f"Refused: {name} is qualified by a schema or catalog; only the document views are readable."
        )
    if lowered in ctes:
        return set(), False
    if lowered == LABELS_VIEW:
        return set(), True
    if VIEW_NAME.match(lowered):
        return {lowered}, False
    raise InvalidInput(
        f"No table {name!r}: query_data reads one view per document, named by its id (d3; d3_lines for "
        "the lines of a text document) and `labels`. list_documents gives the ids."
    )


def _first_lines(message: str, lines: int = 4) -> str:
    return "\n".join(message.splitlines()[:lines])


@dataclass(frozen=True, slots=True)
class Limits:
    memory: str
    threads: int
    spill_directory: str


def open_sandbox(files: list[str], limits: Limits, setup: list[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read `files` and nothing else, after running `setup` (views)."""
    conn = duckdb.connect(
        ":memory:",
        config={
            "threads": limits.threads,
            "memory_limit": limits.memory,
            "temp_directory": limits.spill_directory,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "python_enable_replacements": False,
        },
    )
    try:
        if files:
            conn.execute("SET allowed_paths = " + _list_literal(files))
        conn.execute("SET allowed_directories = " + _list_literal([limits.spill_directory]))
        conn.execute("SET enable_external_access = false")
        for statement in setup:
            conn.execute(statement)
        conn.execute("SET lock_configuration = true")
    except BaseException:
        conn.close()
        raise
    return conn


def _list_literal(items: list[str]) -> str:
    return "[" + ", ".join(quote_literal(i) for i in items) + "]"


@contextmanager
def sandboxed(files: list[str], limits: Limits, setup: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = open_sandbox(files, limits, setup)
    try:
        yield conn
    finally:
        conn.close()


_SANDBOXES = threading.local()  # per thread: (files, limits) -> a locked connection with those views
MAX_CACHED_SANDBOXES = 4


@contextmanager
def cached_sandbox(files: list[str], limits: Limits, setup: list[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A sandbox reused by later queries over the same copy files (a copy file never changes: a new
    version gets a new name), so a query does not pay for a new DuckDB each time. A query that
    fails drops its connection; tables made for one query (`labels`) are dropped after it."""
    cache: dict[tuple[Any, ...], duckdb.DuckDBPyConnection] = _SANDBOXES.__dict__.setdefault("cache", {})
    key = (tuple(files), limits, tuple(setup))
    conn = cache.pop(key, None)
    if conn is None:
        conn = open_sandbox(files, limits, setup)
    try:
        yield conn
        conn.execute("DROP TABLE IF EXISTS labels")
    except BaseException:
        conn.close()
        raise
    cache[key] = conn
    while len(cache) > MAX_CACHED_SANDBOXES:
        cache.pop(next(iter(cache))).close()


@contextmanager
def time_limit(conn: duckdb.DuckDBPyConnection, seconds: float | None) -> Iterator[threading.Event]:
    """Interrupt whatever `conn` runs once `seconds` pass; the event tells whether it fired."""
    fired = threading.Event()
    if seconds is None:
        yield fired
        return

    def interrupt() -> None:
        fired.set()
        conn.interrupt()

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
