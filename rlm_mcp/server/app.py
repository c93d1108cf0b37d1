"""The MCP server: creation, lazy state, and the one helper every tool wrapper calls.

Nothing heavy happens before the first request is answered: the store opens on the first tool
call, the embedding model later still. Tools live in one module per noun (`documents`, `jobs`),
each with a `register(server, state)` function.
"""

import logging
from collections.abc import Callable
from typing import Annotated, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from .. import __version__
from ..answers import Answer, render
from ..config import Settings
from ..errors import RlmError
from ..workspace import Workspace

log = logging.getLogger("rlm_mcp.server")

SERVER_NAME = "rlm"
INSTRUCTIONS = """\
rlm keeps documents too large for your context in a local SQLite store and lets you work through \
them in pieces. Ids are short: d3 (document), c1042 (chunk), j2 (job), t17 (task).
Workflow: load_document(path) → search_chunks(query) and get_chunk(chunk_id) for targeted \
questions; for questions that need the whole input, create_job(query, document_ids) → spawn the \
analyst subagents it names (they loop claim_task / submit_findings) → job_status(job_id) → \
synthesize(job_id) for exact merged counts and cited themes. Never paste whole documents into the \
conversation: read chunks by id. Every tool takes response_format='json' for scripts."""

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
    except Exception as error:  # the top-level boundary: never a traceback to the model
        log.exception("tool failed")
        raise ToolError(
            f"Internal error ({type(error).__name__}: {error}). Nothing was changed by this call; "
            "status shows the store's state. Please report this with the server log."
        ) from error


def _start_embeddings(state: Workspace) -> None:
    from .. import embedding_worker

    embedding_worker.start_background(state.store, state.settings)


def create_server(settings: Settings | None = None) -> MCPServer:
    from . import documents, jobs

    state = Workspace(settings)
    # Embeddings follow in the background, started with the store on the first tool call: never before
    # the server has answered its first request.
    state.on_store_open.append(_start_embeddings)
    server = MCPServer(SERVER_NAME, version=__version__, instructions=INSTRUCTIONS)
    documents.register(server, state)
    jobs.register(server, state)
    return server
