"""Profiles for a model to read: a few compact lines, whatever the width of the data.

`render_profile` writes the text shown in load_document's answer; `compact_profile` trims the JSON
form (a 2,500-column CSV keeps its first columns and a count of the types of all of them).
"""

from collections import Counter
from decimal import Decimal
from typing import Any

from ..answers import exact_number

MAX_ITEMS = 40  # columns or JSON paths listed one by one
MAX_PROBLEMS = 5
COLUMNS_BUDGET = 900  # characters of per-column detail in the text answer
TOP_VALUES_BUDGET = 500  # characters of exact top values (from the columnar copy) in the text answer
LISTED_TOP_COLUMNS = 10
DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


def compact_profile(profile: dict[str, Any], max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """The profile with long lists cut to `max_items`, saying how many were left out."""
    compact = dict(profile)
    for key in ("column_profiles", "paths"):
        items = profile.get(key)
        if isinstance(items, list) and len(items) > max_items:
            compact[key] = items[:max_items]
            compact[f"{key}_omitted"] = len(items) - max_items
            if key == "column_profiles":
                compact["column_types"] = dict(Counter(str(c.get("type")) for c in items).most_common())
    if isinstance(profile.get("problems"), list):
        compact["problems"] = profile["problems"][:MAX_PROBLEMS]
    top = profile.get("top_values")
    if isinstance(top, dict) and len(top) > LISTED_TOP_COLUMNS:
        compact["top_values"] = dict(list(top.items())[:LISTED_TOP_COLUMNS])
        compact["top_values_omitted"] = len(top) - LISTED_TOP_COLUMNS
    return compact


def render_profile(profile: dict[str, Any], limit: int = 1500) -> str:
    """One to a few lines: tables by column, JSON by path, code by symbols, logs by level."""
    if "column_profiles" in profile:
        text = _table(profile)
    elif "paths" in profile:
        text = _json(profile)
    elif "language" in profile:
        text = _code(profile)
    else:
        text = "; ".join(f"{k} {_short(v)}" for k, v in profile.items())
    if isinstance(profile.get("top_values"), dict) and profile["top_values"]:
        text += "\n  " + _top_values(profile["top_values"])
    problems = profile.get("problems") or []
    if problems:
        listed = "; ".join(_problem(p) for p in problems[:MAX_PROBLEMS])
        more = f" (+{len(problems) - MAX_PROBLEMS} more)" if len(problems) > MAX_PROBLEMS else ""
        text += f"\n  problems: {listed}{more}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _top_values(top: dict[str, list[list[Any]]]) -> str:
    """`exact counts: status open 12,345 · closed 8,765; region …` within TOP_VALUES_BUDGET."""
    parts: list[str] = []
    for name, pairs in top.items():
        listed = " · ".join(f"{_short('NULL' if v is None else v)} {_count(n)}" for v, n in pairs[:8])
        more = f" · … {len(pairs) - 8} more" if len(pairs) > 8 else ""
        part = f"{_short(name)} {listed}{more}"
        if parts and sum(len(p) + 2 for p in parts) + len(part) > TOP_VALUES_BUDGET:
            parts.append(f"… {len(top) - len(parts)} more columns (query_data counts any)")
            break
        parts.append(part)
    return "exact counts: " + "; ".join(parts)


def _table(profile: dict[str, Any]) -> str:
    columns: list[dict[str, Any]] = profile["column_profiles"]
    delimiter = DELIMITER_NAMES.get(profile.get("delimiter") or ",")
    head = f"{profile['rows']:,} rows × {profile['columns']:,} columns ({delimiter}"
    head += ", header)" if profile.get("header", True) else ", no header row)"
    if profile.get("ragged_rows"):
        head += f"; {profile['ragged_rows']:,} ragged rows kept"
    if profile.get("blank_lines"):
        head += f"; {profile['blank_lines']:,} blank lines"
    if len(columns) > MAX_ITEMS:
        types = Counter(str(c.get("type")) for c in columns)
        head += "\n  column types: " + ", ".join(f"{n:,} {t}" for t, n in types.most_common())
    shown: list[str] = []
    for column in columns[:MAX_ITEMS]:
        detail = _column(column)
        if shown and sum(len(s) + 2 for s in shown) + len(detail) > COLUMNS_BUDGET:
            break
        shown.append(detail)
    text = head + "\n  columns: " + "; ".join(shown)
    if len(shown) < len(columns):
        text += f"; … {len(columns) - len(shown):,} more (the JSON answer lists the first {MAX_ITEMS})"
    return text


def _column(column: dict[str, Any]) -> str:
    parts = [str(column["name"])[:40], str(column["type"])]
    if "min" in column:
        parts.append(f"[{_short(column['min'])}..{_short(column['max'])}]")
    if column.get("nulls"):
        parts.append(f"nulls {_count(column['nulls'])}")
    elif column.get("null_rate"):
        parts.append(f"null {column['null_rate'] * 100:.1f}%")
    approx = "~" if column.get("distinct_estimated") else ""
    parts.append(f"distinct {approx}{_count(column['distinct'])}")
    return " ".join(parts)


def _json(profile: dict[str, Any]) -> str:
    if "records" in profile:
        head = f"{profile['records']:,} records ({profile['lines']:,} lines)"
        if profile.get("broken_lines"):
            head += f"; {profile['broken_lines']:,} broken lines skipped"
    else:
        head = f"{profile.get('top_level') or 'empty'} document, {profile.get('elements', 0):,} elements"
        if profile.get("unparsed_lines"):
            head += f"; {profile['unparsed_lines']:,} lines after a syntax error kept as text"
    paths: list[dict[str, Any]] = profile["paths"]
    shown = []
    for row in paths[:MAX_ITEMS]:
        types = "|".join(row["types"])
        null = f" null {row['null_rate'] * 100:.1f}%" if row.get("null_rate") else ""
        flag = " (inconsistent)" if row.get("inconsistent") else ""
        shown.append(f"{row['path']} {types}{null}{flag}")
    text = head + f"\n  {len(paths):,} paths: " + "; ".join(shown)
    if len(paths) > MAX_ITEMS:
        text += f"; … {len(paths) - MAX_ITEMS:,} more"
    if profile.get("paths_truncated"):
        text += " (path list capped)"
    inconsistent = profile.get("inconsistent_paths") or []
    if inconsistent:
        text += "\n  type inconsistencies at: " + ", ".join(inconsistent[:10])
    return text


def _code(profile: dict[str, Any]) -> str:
    kinds = profile.get("kinds") or {}
    listed = ", ".join(f"{n} {k}" for k, n in list(kinds.items())[:8])
    lines, symbols = profile.get("lines", 0), profile.get("symbols", 0)
    text = f"{profile['language']} · {lines:,} lines · {symbols:,} symbols"
    if listed:
        text += f" ({listed})"
    return text + f" · {profile.get('chunking', 'tree-sitter')}"


def _problem(problem: dict[str, Any]) -> str:
    where = f"line {problem['line']}" if "line" in problem else "?"
    return f"{where}: {str(problem.get('error', ''))[:100]}"


def _short(value: Any) -> str:
    """A value for the profile's text: numbers exact and whole (`2432188.16`, never `2.43e+06`, never
    cut); other values up to 40 characters."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float | Decimal):
        return exact_number(value)
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_short(k)}: {_short(v)}" for k, v in value.items()) + "}"
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _count(value: Any) -> str:
    """A count with thousands separators (`12,345`), exact; anything else as `_short` prints it."""
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _short(value)


def summarize_documents(documents: list[tuple[str, dict[str, Any] | None]]) -> str:
    """One line for a directory load: files per content type, languages and symbols, rows."""
    kinds: Counter[str] = Counter(kind for kind, _ in documents)
    languages: Counter[str] = Counter()
    symbols = rows = 0
    for kind, profile in documents:
        profile = profile or {}
        if kind == "code":
            languages[str(profile.get("language", "unknown"))] += 1
            symbols += int(profile.get("symbols", 0))
        rows += int(profile.get("rows") or profile.get("records") or 0)
    parts = []
    for kind, count in _ranked(kinds):
        part = f"{count:,} {kind}"
        if kind == "code" and languages:
            listed = ", ".join(f"{language} {n:,}" for language, n in _ranked(languages)[:6])
            part += f" ({listed}; {symbols:,} symbols)"
        parts.append(part)
    text = "Content: " + ", ".join(parts)
    return text + (f"; {rows:,} table rows / JSONL records" if rows else "") + "."


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
