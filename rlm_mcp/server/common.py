"""What every tool wrapper shares: annotations, the response_format argument, and `respond`.

JSON-string arguments (Claude Code sometimes sends a list or an object as a JSON string) are decoded
here at the boundary, by the SDK, for every parameter not typed plain `str`; the core takes lists and
dicts only. Parameters that also accept `str` do so that a string which is not JSON reaches the core
and gets its house-style error, not pydantic's text.
"""

import logging
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..answers import Answer, render
from ..errors import RlmError

log = logging.getLogger("rlm_mcp.server")

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)

ResponseFormatArg = Annotated[
    Literal["text", "json"],
    Field(
        description="'text' (default): compact text for reading; 'json': the same data as one JSON object."
    ),
]


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
