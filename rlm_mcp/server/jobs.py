"""Tools of the RLM loop: create_job, list_jobs, claim_task, submit_findings, job_status, synthesize.

The jobs core (and the report's Jinja2) is imported inside each tool, on its first call: the server
answers `initialize` and `tools/list` without it.
"""

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from pydantic import Field, WithJsonSchema

from ..workspace import Workspace
from .common import READ_ONLY, WRITES, WRITES_IDEMPOTENT, ResponseFormatArg, respond
from .documents import DocumentIds, ScopePath

JobId = Annotated[str, Field(description="A job id such as 'j2' (create_job returns it).")]
Worker = Annotated[str, Field(description="Your worker name, unique per analyst, e.g. 'data-1'.")]
# jobs.ANALYSTS, repeated so the server starts without importing the jobs core (a test keeps them equal)
ANALYSTS = ("rlm-chunk-analyzer", "rlm-code-analyzer", "rlm-data-analyzer", "rlm-json-analyzer")
AnalystName = Annotated[
    str | None, Field(description=f"One of {', '.join(ANALYSTS)}; omit to pick by content type.")
]

FINDING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": "The finding in a few words."},
        "detail": {"type": "string", "description": "What it means, briefly."},
        "evidence": {"type": "string", "description": "A verbatim quote from the chunk (short)."},
        "chunk_id": {"type": "string", "description": "The chunk quoted, one of the task's, e.g. 'c12'."},
        "line": {"type": "integer", "minimum": 1, "description": "Line number, when known."},
        "kind": {"type": "string"},
        "severity": {"type": "string", "enum": ["critical", "high", "medium", "low", "info"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "evidence", "chunk_id"],
}
# The schema the model sees is typed; validation is the core's, which lists every problem in one
# message (and takes a single finding, or the list as a JSON string, as well).
Findings = Annotated[
    list[Any] | dict[str, Any] | str,
    WithJsonSchema({"type": "array", "items": FINDING_SCHEMA}),
    Field(
        description="The task's findings, each with a verbatim evidence quote and its chunk_id; [] if none."
    ),
]


def register(server: MCPServer, state: Workspace) -> None:
    @server.tool(annotations=WRITES, structured_output=False)
    def create_job(
        query: Annotated[str, Field(description="The question every analyst answers about its chunks.")],
        document_ids: DocumentIds = None,
        path: ScopePath = None,
        search: Annotated[
            str | None, Field(description="Cover only the chunks this search finds (instead of everything).")
        ] = None,
        top_k: Annotated[int | None, Field(description="With search: how many chunks (default 50).")] = None,
        analyst: AnalystName = None,
        task_tokens: Annotated[
            int | None, Field(description="Chunk text per task in tokens (default 6000, at most 8000).")
        ] = None,
        columns: Annotated[
            list[str] | str | None,
            Field(description="Tables: hand analysts only these columns of each record (a projected job)."),
        ] = None,
        where: Annotated[
            str | None,
            Field(
                description="Only the records this SQL condition on the document's view selects, e.g. "
                "\"status = 'open'\" (a text's lines: regexp_matches(text, 'error'))."
            ),
        ] = None,
        dimensions: Annotated[
            list[str] | dict[str, Any] | str | None,
            Field(
                description="Fix the count/label keys: ['status'] or {'root_cause': ['auth', 'network', "
                "'other'], 'sentiment': null} (null: open vocabulary)."
            ),
        ] = None,
        reuse: Annotated[
            Literal["exact", "none"],
            Field(
                description="'exact' (default): a task whose content, question, analyst and dimensions an "
                "earlier job already analysed is born done with that work (re-runs pay only for what "
                "changed); 'none': analyse everything again."
            ),
        ] = "exact",
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Plan an analysis: tasks of consecutive chunks covering the documents (or a search's hits),
        an analyst per task by content type; says which analyst subagents to spawn, how many rounds,
        and what it costs in analyst input tokens. Scope it (path, document_ids, search) first. Counts
        and sums are query_data's; for tables, project (columns, where) so analysts read only what
        needs judgement, and fix dimensions so they label records instead of counting."""
        from .. import jobs

        return respond(
            lambda: jobs.create_job(
                state.store,
                state.settings,
                query,
                document_ids,
                search,
                top_k,
                analyst,
                task_tokens,
                state.embedder,
                state.bit_indexes,
                state.clock,
                path,
                columns=columns,
                where=where,
                dimensions=dimensions,
                reuse=reuse,
            ),
            response_format,
        )

    @server.tool(annotations=READ_ONLY, structured_output=False)
    def list_jobs(
        limit: Annotated[int, Field(description="Jobs per page, newest first (1–100).")] = 20,
        offset: Annotated[int, Field(description="Skip this many jobs (paging).")] = 0,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """The store's jobs, newest first, with their question, tasks by state and coverage: how to find
        a job again after /compact or in a new session."""
        from .. import jobs

        return respond(lambda: jobs.list_jobs(state.store, limit, offset), response_format)

    @server.tool(annotations=WRITES, structured_output=False)
    def claim_task(
        job_id: JobId,
        worker: Worker,
        analyst: Annotated[
            str | None, Field(description="Your analyst type: tasks of this type are handed out first.")
        ] = None,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Lease the next task of a job: returns the question, instructions and the chunks' text inline.
        task_id is null when no task is left. Finish with submit_findings before the lease expires."""
        from .. import jobs

        return respond(
            lambda: jobs.claim_task(state.store, job_id, worker, analyst, state.clock, state.settings),
            response_format,
        )

    # Idempotent: the same submission twice is stored once.
    @server.tool(annotations=WRITES_IDEMPOTENT, structured_output=False)
    def submit_findings(
        task_id: Annotated[str, Field(description="The task id claim_task returned, e.g. 't17'.")],
        worker: Worker,
        findings: Findings,
        summary: Annotated[str | None, Field(description="One or two sentences on the task.")] = None,
        relevance: Annotated[str | None, Field(description="high | medium | low | none")] = None,
        counts: Annotated[
            dict[str, Any] | str | None,
            Field(description="Exact tallies of YOUR chunks: {dimension: {value: int}}"),
        ] = None,
        stats: Annotated[
            dict[str, Any] | str | None,
            Field(description="Numeric columns of YOUR chunks: {metric: {n, sum, min, max}}"),
        ] = None,
        follow_up: Annotated[
            list[str] | str | None, Field(description="Questions worth a further search.")
        ] = None,
        labels: Annotated[
            dict[str, Any] | str | None,
            Field(
                description="Per-record judgements: {dimension: {record number: value}}, every record "
                "of the task once per dimension; the server counts them."
            ),
        ] = None,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Store a task's findings and complete it: evidence is checked against the task's chunks;
        the same submission twice is stored once. Then call claim_task for the next task."""
        from .. import jobs

        return respond(
            lambda: jobs.submit_findings(
                state.store,
                task_id,
                worker,
                findings,
                summary,
                relevance,
                counts,
                stats,
                follow_up,
                state.clock,
                labels=labels,
                settings=state.settings,
            ),
            response_format,
        )

    # Not read-only: expired leases go back to the queue (the same call again changes nothing more).
    @server.tool(annotations=WRITES_IDEMPOTENT, structured_output=False)
    def job_status(job_id: JobId, response_format: ResponseFormatArg = "text") -> str:
        """Tasks by state, chunk coverage, throughput, ETA and what the tasks cost so far (characters and
        tokens handed out and received, attempts, wall time); returns expired leases to the queue."""
        from .. import jobs

        return respond(lambda: jobs.job_status(state.store, job_id, state.clock), response_format)

    # Not read-only: the first call past a size limit plans a reduce level (idempotently).
    @server.tool(annotations=WRITES_IDEMPOTENT, structured_output=False)
    def synthesize(
        job_id: JobId,
        offset: Annotated[int, Field(description="Skip this many folded findings (paging).")] = 0,
        response_format: ResponseFormatArg = "text",
    ) -> str:
        """Merge a job's findings deterministically: coverage, exact counts, merged stats, themes with
        chunk citations, follow-ups. Pages, or plans a reduce level of tasks when findings are many.
        Also writes the job's HTML report (.rlm/reports/<job>.html) and names it."""
        from ..report import synthesize_with_report

        return respond(
            lambda: synthesize_with_report(state.store, state.settings, job_id, offset, state.themes),
            response_format,
        )
