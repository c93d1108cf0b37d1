"""The MCP server: creation, its `Workspace` (lazy state, closed by the SDK's lifespan), its tools.

Nothing heavy happens before the first request is answered: the store opens on the first tool
call, the embedding model later still. Tools live in one module per noun (`documents`, `jobs`),
each with a `register(server, state)` function; what they share is in `common`.
"""

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import Tool
from pydantic import ValidationError

from .. import __version__
from ..config import Settings
from ..workspace import Workspace
from . import data, documents, jobs
from .common import ALWAYS_LOAD, explain_invalid_arguments
from .stdio import answering_stdio

log = logging.getLogger("rlm_mcp.server")

SERVER_NAME = "rlm"
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)
INSTRUCTIONS = """\
rlm keeps documents too large for your context in a local SQLite store and lets you work through \
them in pieces. Ids are short: d3 (document), c1042 (chunk), j2 (job), t17 (task).
Workflow: load_document(path) → search_chunks(query) and get_chunk(chunk_id) for targeted \
questions; counts, sums, distincts and other exact answers over tables, JSON and logs come from \
query_data(sql) (views d3, d3_lines, labels); for questions that need judgement over the whole \
input, create_job(query, document_ids) → spawn the \
analyst subagents it names (they loop claim_task / submit_findings) → job_status(job_id) → \
synthesize(job_id) for exact merged counts and cited themes. Never paste whole documents into the \
conversation: read chunks by id. Every tool takes response_format='json' for scripts."""


class RlmServer(MCPServer):
    """The MCP server with two rules for every tool, whoever registered it: each is always loaded
    (`anthropic/alwaysLoad`, so Claude Code never defers it behind tool search), and arguments that
    fail validation are answered with a sentence naming the argument, never the validator's report;
    over stdio, a line the SDK cannot read gets a JSON-RPC error instead of no answer."""

    async def list_tools(self) -> list[Tool]:
        tools = await super().list_tools()
        return [t.model_copy(update={"meta": {**(t.meta or {}), **ALWAYS_LOAD}}) for t in tools]

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as error:
            if isinstance(error.__cause__, ValidationError):
                raise ToolError(explain_invalid_arguments(name, error.__cause__)) from None
            raise
        return result

    async def run_stdio_async(self) -> None:
        """The SDK's stdio transport, with a JSON-RPC error for every line it cannot read (`stdio`)."""
        async with answering_stdio() as (read_stream, write_stream):
            lowlevel = self._lowlevel_server
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


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

    server = RlmServer(SERVER_NAME, version=__version__, instructions=INSTRUCTIONS, lifespan=lifespan)
    documents.register(server, state)
    jobs.register(server, state)
    data.register(server, state)
    return server


def serve_stdio(settings: Settings | None = None) -> int:
    """`rlm-mcp serve`: the server on stdio until stdin closes or SIGTERM / SIGINT arrives; exit 0.

    Every way out closes the workspace: the embedding worker stopped and joined (bounded), its batch
    released. A process whose embedding thread is still inside onnxruntime must not run the
    interpreter's and the C++ runtime's exit handlers (that is the SIGABRT "terminate called without
    an active exception" and its core file), so such an exit, and the exit on a signal, is `os._exit`.
    """
    state = Workspace(settings, background=True)
    anyio.run(_serve_until_signal, create_server(workspace=state), state)
    from ..embedding import EMBEDDING_THREAD  # after the session: the server starts without it

    if any(t.name == EMBEDDING_THREAD and t.is_alive() for t in threading.enumerate()):
        _exit_now(0)
    return 0


async def _serve_until_signal(server: MCPServer, state: Workspace) -> None:
    async with anyio.create_task_group() as group:
        if sys.platform != "win32":  # asyncio has no signal handlers there; Ctrl+C still ends the process
            group.start_soon(_exit_on_signal, state)
        await server.run_stdio_async()  # returns when stdin closes; the lifespan closed the workspace
        group.cancel_scope.cancel()


async def _exit_on_signal(state: Workspace) -> None:
    """Trigger: SIGTERM or SIGINT. Why: cancelling the SDK's stdin reader waits for a line that may
    never come (it blocks in a thread). Outcome: close the workspace here, then leave at once."""
    with anyio.open_signal_receiver(*EXIT_SIGNALS) as signals:
        async for signum in signals:
            log.info("%s: stopping the server", signal.Signals(signum).name)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(state.close)
            _exit_now(0)


def _exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the client closed the pipe
            stream.flush()
    os._exit(code)
