"""Tools over documents and chunks: load, search, read, list, remove, status.

The core (loading, search, documents) is imported inside each tool, on its first call: the server
answers `initialize` and `tools/list` without it.
"""

import threading
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import Field

from ..workspace import Workspace
from .common import DESTRUCTIVE, READ_ONLY, ResponseFormatArg, respond

if TYPE_CHECKING:
    from .. import loading

CANCEL_WAIT_SECONDS = 30.0  # a cancelled load is waited for this long to remove what it wrote

DocumentIds = Annotated[
    list[str | int] | str | None,
    Field(description="Restrict to these documents, e.g. ['d1', 'd4'] or 'd1'; omit for all."),
]
ScopePath = Annotated[
    str | None,
    Field(
        description="Restrict to loaded documents under a folder ('src/') or matching a glob "
        "('src/**/*.py', '*.csv'), relative to the project; combines with document_ids."
    ),
]


def register(server: MCPServer, state: Workspace) -> None:
    # Destructive: reloading a changed file replaces that document's chunks (and their ids).
    @server.tool(annotations=DESTRUCTIVE, structured_output=False)
    async def load_document(
        path: Annotated[str, Field(description="A file, a directory or a glob, relative to the project.")],
        ctx: Context,
        name: Annotated[str | None, Field(description="Display name for a single file.")] = None,
        content_type: Annotated[
            str, Field(description="'auto' (default) or text, markdown, csv, tsv, json, jsonl, code, log.")
        ] = "auto",
        recursive: Annotated[bool, Field(description="Walk subdirectories of a directory.")] = True,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Load a file, directory (honours .gitignore, skips binaries) or glob into the store: chunks it,
        indexes it for search at once and reports a profile. Reloading unchanged content is a no-op."""

        cancel, finished = threading.Event(), threading.Event()

        def progress(done: float, total: float, message: str) -> None:
            if not cancel.is_set():
                anyio.from_thread.run(ctx.report_progress, done, total, message)

        def load() -> "loading.LoadResult":
            from .. import loading  # in the worker thread: the event loop never waits for the import

            try:
                return loading.load_document(
                    state.store, state.settings, path, name, content_type, recursive, progress, cancel
                )
            finally:
                state.wake_embedding()

        def run() -> str:
            try:
                return respond(load, response_format)
            finally:
                finished.set()

        try:
            # abandon_on_cancel: a cancelled request (notifications/cancelled cancels this scope) stops
            # waiting at once; the flag then stops the load between batches, and its staging goes.
            return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            cancel.set()
            with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_WAIT_SECONDS):
                while not finished.is_set():  # the store is as before when the request is over
                    await anyio.sleep(0.02)
            raise

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def search_chunks(
        query: Annotated[str, Field(description="Words to look for, or a pattern with mode='regex'.")],
        mode: Annotated[
            Literal["hybrid", "bm25", "semantic", "regex"],
            Field(description="hybrid (default: keywords + meaning), bm25 (keywords), semantic, regex."),
        ] = "hybrid",
        document_ids: DocumentIds = None,
        top_k: Annotated[int, Field(description="Hits per page (1–50).")] = 10,
        offset: Annotated[int, Field(description="Skip this many hits (paging).")] = 0,
        path: ScopePath = None,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Find the chunks that match a query; each hit has a chunk id, its location and a preview.
        Read a hit in full with get_chunk."""
        from .. import search

        return respond(
            lambda: search.search_chunks(
                state.store,
                state.settings,
                query,
                mode,
                document_ids,
                top_k,
                offset,
                state.embedder,
                state.bit_indexes,
                path,
            ),
            response_format,
        )

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def get_chunk(
        chunk_id: Annotated[str, Field(description="A chunk id such as 'c1042'.")],
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """One chunk's text with its context preamble (heading path, CSV header, imports, JSON path),
        its location and the ids of its neighbours."""
        from .. import documents

        return respond(lambda: documents.get_chunk(state.store, chunk_id), response_format)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def list_documents(
        offset: Annotated[int, Field(description="Skip this many documents.")] = 0,
        limit: Annotated[int, Field(description="Documents per page (1–200).")] = 50,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """The loaded documents with ids, types, sizes and chunk counts, paged."""
        from .. import documents

        return respond(lambda: documents.list_documents(state.store, offset, limit), response_format)

    @server.tool(annotations=DESTRUCTIVE, structured_output=False)
    def remove_document(
        document_id: Annotated[str, Field(description="A document id such as 'd3'.")],
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Remove a document and its chunks from the store (the file on disk is untouched)."""
        from .. import documents

        return respond(lambda: documents.remove_document(state.store, document_id), response_format)

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def status(response_format: ResponseFormatArg = "text") -> str:
        """Where the store is, what it holds (documents, open jobs), and whether vectors and the embedding
        model are available."""
        from .. import documents

        return respond(lambda: documents.status(state.store, state.settings, state.worker), response_format)
