"""A JSON schema profile built from every element: paths, the types seen at each, null rates.

Paths are normalised (`$[*].items[*].price`); a path where two different non-null types were seen
(a number here, a string there) is flagged, integer and float counting as one kind of number.
"""

from collections import Counter
from typing import Any

MAX_PATHS = 500
MAX_DEPTH = 12
TYPE_NAMES = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean"}
NUMBERS = {"integer", "number"}


class SchemaProfiler:
    def __init__(self) -> None:
        self.paths: dict[str, Counter[str]] = {}
        self.truncated = False
        self._names: dict[str, dict[str, str]] = {}  # path -> key -> child path, built once

    def add(self, value: Any, path: str) -> None:
        self._count(path, value)
        self._walk(value, path, 0)

    def _count(self, path: str, value: Any) -> None:
        types = self.paths.get(path)
        if types is None:
            if len(self.paths) >= MAX_PATHS:
                self.truncated = True
                return
            types = self.paths[path] = Counter()
        types["null" if value is None else TYPE_NAMES.get(type(value), "string")] += 1

    def _walk(self, value: Any, path: str, depth: int) -> None:
        """Count every child of a container (scalars inline: this runs once per field of every row)."""
        kind = type(value)
        if depth >= MAX_DEPTH or kind not in (dict, list):
            return
        if kind is list:
            child_path = path + "[*]"
            for child in value:
                self._count(child_path, child)
                if type(child) in (dict, list):
                    self._walk(child, child_path, depth + 1)
            return
        names = self._names.get(path)
        if names is None:
            names = self._names[path] = {}
        for key, child in value.items():
            known = names.get(key)
            if known is None:
                child_path = f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
                if len(names) < MAX_PATHS:  # objects keyed by ids must not grow this without bound
                    names[key] = child_path
            else:
                child_path = known
            self._count(child_path, child)
            if type(child) in (dict, list):
                self._walk(child, child_path, depth + 1)

    def summary(self) -> dict[str, Any]:
        rows = []
        for path, types in self.paths.items():
            count = sum(types.values())
            kinds = {("number" if k in NUMBERS else k) for k in types if k != "null"}
            row: dict[str, Any] = {"path": path, "count": count, "types": dict(types.most_common())}
            row["null_rate"] = round(types["null"] / count, 4) if count else 0.0
            if len(kinds) > 1:
                row["inconsistent"] = True
            rows.append(row)
        result: dict[str, Any] = {"paths": rows}
        inconsistent = [row["path"] for row in rows if row.get("inconsistent")]
        if inconsistent:
            result["inconsistent_paths"] = inconsistent
        if self.truncated:
            result["paths_truncated"] = True
        return result


def type_name(value: Any) -> str:
    return "null" if value is None else TYPE_NAMES.get(type(value), "string")
