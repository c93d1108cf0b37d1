"""The MCP server: creation, its `Workspace` (lazy state, closed by the SDK's lifespan), its tools.

Nothing heavy happens before the first request is answered: the store opens on the first tool
call, the embedding model later still. Tools live in one module per noun (`documents`, `jobs`),
each with a `register(server, state)` function; what they share is in `common`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server import MCPServer

from .. import __version__
from ..config import Settings
from ..workspace import Workspace
from . import documents, jobs

SERVER_NAME = "rlm"
INSTRUCTIONS = """\
rlm keeps documents too large for your context in a local SQLite store and lets you work through \
them in pieces. Ids are short: d3 (document), c1042 (chunk), j2 (job), t17 (task).
Workflow: load_document(path) → search_chunks(query) and get_chunk(chunk_id) for targeted \
questions; for questions that need the whole input, create_job(query, document_ids) → spawn the \
analyst subagents it names (they loop claim_task / submit_findings) → job_status(job_id) → \
synthesize(job_id) for exact merged counts and cited themes. Never paste whole documents into the \
conversation: read chunks by id. Every tool takes response_format='json' for scripts."""


def create_server(settings: Settings | None = None, workspace: Workspace | None = None) -> MCPServer:
    """The server over `workspace` (default: one on `settings`, embedding in the background, started
    with the store on the first tool call: never before the server has answered its first request)."""
    state = workspace or Workspace(settings, background=True)

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[Workspace]:
        try:
            yield state
        finally:  # however the session ends: the worker stopped and joined, the store closed
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(state.close)

    server = MCPServer(SERVER_NAME, version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)
    documents.register(server, state)
    jobs.register(server, state)
    return server
