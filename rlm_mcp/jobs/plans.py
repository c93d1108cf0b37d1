"""Analysis jobs: plan the tasks that cover a question's chunks (create_job); the plan it answers is
`plan_answer`, how far a job has come is in `progress`.

A job groups consecutive chunks into tasks that fit one tool result, picks an analyst per task by
content type, and tells the orchestrator which subagents to spawn. Claiming and submitting tasks is
in `claiming` and `submissions`; merging the results is in `synthesis`.
"""

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import InvalidInput, NotFound
from ..ids import format_id
from ..search.scope import resolve_scope
from ..store import Connection, Store
from ..store import copies as copies_db
from ..store import jobs as db
from ..store import records as records_db
from ..store import tasks as tasks_db
from ..store.rows import Job, JobDocument, PlanChunk
from . import analysts, planning
from . import records as projected
from . import reuse as reusing
from .dimensions import Dimensions, check_dimensions
from .plan_answer import JobPlan
from .planning import MAX_TASK_TOKENS, MIN_TASK_TOKENS, PlannedTask, spawn_plan

if TYPE_CHECKING:  # search brings the embedding layer (numpy): imported when a job searches
    from ..embedding.model import Embedder
    from ..search.quantized import BitIndexCache

DEFAULT_TOP_K = 50
MAX_TOP_K = 2000
SEARCH_PAGE = 50  # search_chunks' page size
MAX_QUERY_CHARS = 4000
MAX_ATTEMPTS = 3  # claims of one task before it ends as failed
MIN_DONE_FOR_RATE = 2  # throughput and ETA need a few completed tasks to mean anything
MIN_RATE_SECONDS = 1.0


Clock = Callable[[], float]  # seconds since the epoch: time.time, or a test's fake clock it advances


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_plan_args(query: str, analyst: str | None, task_tokens: int | None, settings: Settings) -> int:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("query is empty: say what the analysts should look for.")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is {len(query)} characters; at most {MAX_QUERY_CHARS}.")
    analysts.check_analyst(analyst)
    budget = settings.task_tokens if task_tokens is None else task_tokens
    if not MIN_TASK_TOKENS <= budget <= MAX_TASK_TOKENS:
        raise InvalidInput(f"task_tokens={budget} is out of range; use {MIN_TASK_TOKENS}–{MAX_TASK_TOKENS}.")
    return budget


def _search_chunk_ids(
    store: Store,
    settings: Settings,
    search: str,
    document_ids: list[int] | None,
    top_k: int,
    embedder: "Embedder | None",
    bit_indexes: "BitIndexCache | None",
) -> list[int]:
    """The ids of the best `top_k` chunks for `search` (hybrid, which degrades to BM25), page by page."""
    from ..search import modes as search_module  # imported here: search pulls in the embedding layer

    found: list[int] = []
    while len(found) < top_k:
        page = min(SEARCH_PAGE, top_k - len(found))
        result = search_module.search_chunks(
            store, settings, search, "hybrid", document_ids, page, len(found), embedder, bit_indexes
        )
        found += [hit.chunk_id for hit in result.hits]
        if len(result.hits) < page:
            break
    return list(dict.fromkeys(found))


def create_job(
    store: Store,
    settings: Settings,
    query: str,
    document_ids: list[str | int] | str | int | None = None,
    search: str | None = None,
    top_k: int | None = None,
    analyst: str | None = None,
    task_tokens: int | None = None,
    embedder: "Embedder | None" = None,
    bit_indexes: "BitIndexCache | None" = None,
    clock: Clock = time.time,
    path: str | None = None,
    columns: Any = None,
    where: Any = None,
    dimensions: Any = None,
    reuse: Any = None,
) -> JobPlan:
    """Plan tasks over every chunk of the documents (all, by id, or under `path`), or over the chunks
    `search` finds among them (hybrid with `embedder`, BM25 without). With `columns` / `where`, tasks
    hold only those columns of the records `where` selects (a projected job); `dimensions` fixes the
    count keys and label vocabularies analysts must use. A task whose work an earlier job already did
    (same content, question, analyst, dimensions and instructions: `jobs.reuse`) is born done with
    that work unless `reuse='none'`."""
    mode = reusing.check_reuse(reuse)
    projection = projected.check_projection(columns, where)
    # Projected records are dense and evenly sized, so their estimate is close: a task may fill the
    # whole budget of one tool result.
    default = MAX_TASK_TOKENS if projection is not None and task_tokens is None else task_tokens
    budget = _check_plan_args(query, analyst, default, settings)
    fixed = check_dimensions(dimensions)
    path = path.strip() if isinstance(path, str) and path.strip() else None
    doc_ids = resolve_scope(store.conn(), settings, document_ids, path)
    search = search.strip() if isinstance(search, str) and search.strip() else None
    k = _check_top_k(top_k)
    hit_ids = (
        _search_chunk_ids(store, settings, search, doc_ids, k, embedder, bit_indexes) if search else None
    )
    scope = {"document_ids": doc_ids, "path": path, "search": search, "top_k": k if search else None}
    scope["analyst"] = analyst
    scope["reuse"] = mode
    if projection is not None:
        tasks, skipped, copy = _projected_tasks(
            store, settings, doc_ids, hit_ids, search, projection, analyst, budget
        )
        with store.write() as conn:
            job_id, tally = _insert_job(
                conn, settings, query.strip(), scope, budget, tasks, clock(), projection, fixed, mode, copy
            )
        return _job_plan(job_id, query.strip(), tasks, search, path, projection, fixed, skipped, tally, mode)
    with store.write() as conn:
        docs = db.ready_documents(conn, doc_ids)
        _check_documents(docs, doc_ids)
        per_doc = _scoped_rows(conn, docs, hit_ids, search)
        tasks = planning.plan_tasks(conn, per_doc, analyst, budget)
        if not tasks:
            raise NotFound("The documents have no chunks; load_document them again.")
        job_id, tally = _insert_job(
            conn, settings, query.strip(), scope, budget, tasks, clock(), None, fixed, mode
        )
    return _job_plan(job_id, query.strip(), tasks, search, path, None, fixed, (), tally, mode)


def _projected_tasks(
    store: Store,
    settings: Settings,
    doc_ids: list[int] | None,
    hit_ids: list[int] | None,
    search: str | None,
    projection: projected.Projection,
    analyst: str | None,
    budget: int,
) -> tuple[list[PlannedTask], tuple[str, ...], Any]:
    """Tasks over the projected records of each document (and the columnar copy they came from);
    documents without a columnar copy are refused when named, skipped (and said) when the job covers
    every document."""
    from .. import data  # the data room brings DuckDB: imported when a job is projected

    copy = data.open_copy(settings, store)
    with store.read() as conn:
        docs = db.ready_documents(conn, doc_ids)
        _check_documents(docs, doc_ids)
        sources = []
        skipped = []
        for doc in docs:
            row = copies_db.get_copy(conn, doc.id)
            if row is None and doc_ids is None:
                skipped.append(f"{format_id('d', doc.id)} {doc.name}")
                continue
            row = row or projected.copy_or_raise(conn, doc)
            sources.append((doc, row, records_db.ranged_chunks(conn, doc.id, row.kind == "lines")))
    if not sources:
        raise InvalidInput(
            "None of the documents has a columnar copy, so columns= and where= have no records to select; "
            "omit them to plan over chunks."
        )
    only = set(hit_ids) if hit_ids is not None else None
    tasks: list[PlannedTask] = []
    for doc, row, chunks in sources:
        kind = analyst or analysts.analyst_for(doc.content_type)
        tasks += projected.plan_projected(copy, doc, row, chunks, projection, kind, budget, only)
    if not tasks:
        if search:
            raise NotFound(
                f"No record in the chunks search {search!r} found matches where={projection.where!r}; "
                "try other words, or omit search."
            )
        raise projected.no_records(sources[0][0] if len(sources) == 1 else None, projection)
    return tasks, tuple(skipped), copy


def _job_plan(
    job_id: int,
    query: str,
    tasks: list[PlannedTask],
    search: str | None,
    path: str | None = None,
    projection: projected.Projection | None = None,
    dimensions: Dimensions | None = None,
    skipped: tuple[str, ...] = (),
    tally: reusing.ReuseTally | None = None,
    mode: str = "exact",
) -> JobPlan:
    reused = tally.ordinals if tally else set()
    to_run = [t for i, t in enumerate(tasks) if i not in reused]
    per_analyst = Counter(t.analyst for t in to_run)
    planned_records = sum(t.records.count for t in tasks if t.records) if projection else None
    return JobPlan(
        job_id,
        query,
        len(tasks),
        sum(len(t.chunks) for t in tasks),
        len(
            {r.document_id for t in tasks for r in t.chunks}
            | {t.records.document_id for t in tasks if t.records}
        ),
        sum(t.tokens for t in tasks),
        dict(sorted(per_analyst.items())),
        spawn_plan(per_analyst),
        planning.plan_cost(to_run),
        search,
        path,
        planned_records,
        projection,
        dimensions,
        skipped,
        tally,
        mode,
    )


def _check_top_k(top_k: int | None) -> int:
    k = DEFAULT_TOP_K if top_k is None else top_k
    if not 1 <= k <= MAX_TOP_K:
        raise InvalidInput(f"top_k={k} is out of range; use 1–{MAX_TOP_K}.")
    return k


def _scoped_rows(
    conn: Connection, docs: list[JobDocument], hit_ids: list[int] | None, search: str | None
) -> list[tuple[JobDocument, list[PlanChunk]]]:
    """(document, chunk rows) to plan: every chunk, or the search hits grouped by document in order."""
    if hit_ids is None:
        return [(d, db.chunk_plan_rows(conn, d.id)) for d in docs]
    rows = db.chunk_plan_rows_by_id(conn, hit_ids) if hit_ids else []
    if not rows:
        raise NotFound(
            f"search {search!r} found no chunks; try other words, or omit search for full coverage."
        )
    by_doc = {d.id: d for d in docs}
    grouped: dict[int, list[PlanChunk]] = {}
    for r in rows:
        grouped.setdefault(r.document_id, []).append(r)
    return [(by_doc[d], grouped[d]) for d in sorted(grouped) if d in by_doc]


def _insert_job(
    conn: Connection,
    settings: Settings,
    query: str,
    scope: dict[str, Any],
    budget: int,
    tasks: list[PlannedTask],
    created_at: float,
    projection: projected.Projection | None,
    dimensions: Dimensions | None,
    mode: reusing.ReuseMode = "exact",
    copy: Any = None,
) -> tuple[int, reusing.ReuseTally]:
    """Insert the job and its tasks, each with its work key; tasks with reusable work are born done."""
    chunks = sum(len(t.chunks) for t in tasks)
    parts = reusing.KeyParts(query, dimensions, projection.columns if projection else None,
                             projection.where if projection else None)  # fmt: skip
    keys = reusing.work_keys(conn, tasks, parts)
    sources = reusing.find_sources(conn, keys, mode)
    reused: list[reusing.NewTask] = []
    job_id = db.insert_job(
        conn, query, scope, budget, settings.lease_seconds, MAX_ATTEMPTS, chunks, created_at,
        projection.columns if projection else None, projection.where if projection else None, dimensions,
    )  # fmt: skip
    for ordinal, (task, key) in enumerate(zip(tasks, keys, strict=True)):
        task_id = tasks_db.insert_task(conn, job_id, 0, ordinal, task.analyst, task.tokens, None, key)
        tasks_db.insert_task_chunks(conn, task_id, task.chunks)
        if key in sources:
            reused.append(reusing.NewTask(task_id, ordinal, task, sources[key]))
        if task.records is not None:
            r = task.records
            records_db.insert_task_records(
                conn,
                records_db.TaskRecords(task_id, r.document_id, r.first, r.last, r.count, r.runs, r.digest),
            )
    tally = reusing.ReuseTally()
    projected_texts = reusing.ProjectedTexts(conn, job_id, copy) if copy is not None else None
    reusing.attach_reused(conn, job_id, reused, created_at, reusing.TextsOf(conn, projected_texts), tally)
    return job_id, tally


def _check_documents(docs: list[JobDocument], doc_ids: list[int] | None) -> None:
    if doc_ids is not None:
        missing = sorted(set(doc_ids) - {d.id for d in docs})
        if missing:
            names = ", ".join(format_id("d", m) for m in missing)
            raise NotFound(f"No document {names}; list_documents gives valid document ids.")
    if not docs:
        raise NotFound("No documents are loaded; call load_document first.")


def job_or_raise(conn: Connection, job_id: int) -> Job:
    row = db.job_row(conn, job_id)
    if row is None:
        raise NotFound(
            f"No job {format_id('j', job_id)}; list_jobs lists the store's jobs, create_job plans a new one."
        )
    return row
