"""The store seam carries typed rows: no driver rows, no long positional tuples, no bare Any.

A second backend implements the same functions; what crosses the seam must be plain Python values
and the frozen, slotted dataclasses of `rlm_mcp.store`.
"""

import dataclasses
import importlib
import inspect
import pkgutil
import typing
from types import ModuleType, UnionType
from typing import Any

import rlm_mcp.store as store_package
import rlm_mcp.store.rows as store_rows

MAX_TUPLE_FIELDS = 3  # (requeued, failed), (id, hash), (chunk_id, distance): more wants a dataclass
# Inside the seam, not across it: the connection factory returns the opaque Connection, and the JSON
# codec that the query modules share takes and gives any JSON value.
INSIDE = {"connection.connect", "json_columns.to_json", "json_columns.from_json"}


def _store_modules() -> list[ModuleType]:
    """The store's modules, with the row modules of store/rows/ (store/postgres/ is the backend's inside)."""
    names = [m.name for m in pkgutil.iter_modules(store_package.__path__) if m.name != "migrations"]
    names += [f"rows.{m.name}" for m in pkgutil.iter_modules(store_rows.__path__)]
    return [importlib.import_module(f"rlm_mcp.store.{name}") for name in names]


def _problems(annotation: Any, where: str, json_value: bool = False) -> list[str]:
    if annotation is Any:
        return [] if json_value else [f"{where}: Any"]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and args and args[-1] is not Ellipsis and len(args) > MAX_TUPLE_FIELDS:
        return [f"{where}: a {len(args)}-field tuple"]
    if origin is dict and len(args) == 2:  # JSON objects: dict[str, Any] is a decoded value
        return _problems(args[0], where) + _problems(args[1], where, json_value=True)
    if origin in (typing.Union, UnionType) or origin is not None:
        return [p for a in args if a is not Ellipsis for p in _problems(a, where)]
    module = getattr(annotation, "__module__", "")
    if module.startswith(("sqlite3", "sqlean", "_sqlite3")):
        return [f"{where}: driver type {annotation!r}"]
    return []


def test_store_functions_take_and_return_typed_values() -> None:
    problems = []
    for module in _store_modules():
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            if f"{module.__name__.rsplit('.', 1)[1]}.{name}" in INSIDE:
                continue
            hints = typing.get_type_hints(function)
            for parameter, annotation in hints.items():
                if parameter == "conn":  # the opaque Connection
                    continue
                problems += _problems(annotation, f"{module.__name__}.{name}({parameter})")
    assert problems == []


def test_store_rows_are_frozen_slotted_dataclasses() -> None:
    rows = [
        (module.__name__, cls)
        for module in _store_modules()
        for _, cls in inspect.getmembers(module, dataclasses.is_dataclass)
        if cls.__module__ == module.__name__
    ]
    assert len(rows) >= 20
    loose = [
        f"{name}.{cls.__name__}"
        for name, cls in rows
        if not cls.__dataclass_params__.frozen or "__slots__" not in cls.__dict__
    ]
    assert loose == []
