"""What every tool wrapper shares: annotations, the response_format argument, and `respond`.

JSON-string arguments (Claude Code sometimes sends a list or an object as a JSON string) are decoded
here at the boundary, by the SDK, for every parameter not typed plain `str`; the core takes lists and
dicts only. Parameters that also accept `str` do so that a string which is not JSON reaches the core
and gets its house-style error, not pydantic's text.
"""

import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from ..answers import Answer, render
from ..errors import RlmError

log = logging.getLogger("rlm_mcp.server")

# Every tool states all four hints (Claude Code runs only read-only tools in parallel). No tool reaches
# outside the local store and the project's files, so none is open-world.
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
WRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
WRITES_IDEMPOTENT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)
ALWAYS_LOAD = {"anthropic/alwaysLoad": True}  # never deferred behind tool search (analysts have none)

ResponseFormatArg = Annotated[
    Literal["text", "json"],
    Field(
        description="'text' (default): compact text for reading; 'json': the same data as one JSON object."
    ),
]


_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "an object",
}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def explain_invalid_arguments(tool: str, error: ValidationError) -> str:
    """What was wrong with a call's arguments, in a sentence: never the validator's own report."""
    by_argument: dict[str, list[str]] = {}
    given: dict[str, Any] = {}
    for e in error.errors(include_url=False):
        name = str(e["loc"][0]) if e.get("loc") else "arguments"
        kind = str(e.get("type", ""))
        if kind == "missing":
            wanted = "is required"
        elif kind == "extra_forbidden":
            wanted = "is not a parameter of this tool"
        elif kind == "literal_error":
            wanted = f"must be {(e.get('ctx') or {}).get('expected', 'one of the listed values')}"
        else:
            wanted = f"must be {_EXPECTED.get(kind, 'of the type its schema gives')}"
        by_argument.setdefault(name, [])
        if wanted not in by_argument[name]:
            by_argument[name].append(wanted)
        given.setdefault(name, e.get("input"))
    problems = []
    for name, wants in by_argument.items():
        musts = [w.removeprefix("must be ") for w in wants if w.startswith("must be ")]
        text = f"{name} must be {' or '.join(musts)} (got {_shown(given[name])})" if musts else ""
        problems.append(text or f"{name} {wants[0]}")
    listed = "; ".join(problems[:6]) + (f" (and {len(problems) - 6} more)" if len(problems) > 6 else "")
    return (
        f"{tool}: {listed}. Nothing was changed; call {tool} again with corrected arguments "
        "(its input schema lists every parameter and its type)."
    )


def respond(call: Callable[[], Answer], response_format: str = "text") -> str:
    """Run a core call and render its answer; every failure reaches the model as a clear ToolError."""
    try:
        return render(call(), "json" if response_format == "json" else "text")
    except RlmError as error:
        raise ToolError(str(error)) from error
    except OverflowError as error:  # a number too large for SQLite (ids, offsets, limits ≥ 2^63)
        raise ToolError(
            "A number in the arguments is too large (the store holds integers below 2^63). Nothing was "
            "changed; use the ids and counts that list_documents, search_chunks and job_status show."
        ) from error
    except RecursionError as error:  # input nested too deeply to handle (100k-deep JSON)
        log.exception("input nested too deeply")
        raise ToolError(
            "The input is nested too deeply to handle. Nothing was changed; flatten it, or load it as "
            "content_type='text'."
        ) from error
    except Exception as error:  # the top-level boundary: never a traceback to the model
        log.exception("tool failed")
        raise ToolError(
            f"Internal error ({type(error).__name__}: {error}). Nothing was changed by this call; "
            "status shows the store's state. Please report this with the server log."
        ) from error
