"""The analyst subagents: which one reads which content, and the instructions each task carries.

The instructions travel inside every claimed task, so an analyst needs nothing else to do its job;
agents/*.md say the same thing in longer form.
"""

from ..errors import InvalidInput

DATA = "rlm-data-analyzer"
JSON = "rlm-json-analyzer"
CODE = "rlm-code-analyzer"
CHUNK = "rlm-chunk-analyzer"
ANALYSTS = (CHUNK, CODE, DATA, JSON)

# The content types the loader stores (chunking.CONTENT_TYPES) that have an analyst of their own;
# text, markdown and log go to the chunk analyst.
ANALYST_BY_TYPE = {"csv": DATA, "tsv": DATA, "json": JSON, "jsonl": JSON, "code": CODE}

COMMON = (
    "Submit with submit_findings(task_id, worker, findings=[{title, detail, evidence, chunk_id, line?, "
    "kind?, severity?, tags?}], summary, relevance='high'|'medium'|'low'|'none', follow_up?). "
    "evidence = a short VERBATIM quote copied from the chunk text (not paraphrased); chunk_id = the "
    "chunk it comes from (one of this task's). Report only what the text shows; findings=[] with "
    "relevance='none' is a valid answer. Give 1-3 tags per finding. Then call claim_task again."
)

INSTRUCTIONS = {
    CHUNK: (
        "Read every chunk below and report what answers the question: facts, claims, names, numbers, "
        "events, contradictions. One finding per distinct point. " + COMMON
    ),
    CODE: (
        "Read the code below and report what answers the question: relevant functions and classes, "
        "bugs, security issues, error handling, data flow, dependencies. Use kind (e.g. bug, security, "
        "api, design) and severity (critical|high|medium|low|info); line = the file line of the "
        "evidence. " + COMMON
    ),
    DATA: (
        "The chunks are rows of a table; the context repeats the header. Count only the rows in each "
        "chunk's text (never the header or context). For exact arithmetic send counts={column: {value: "
        'rows}} (exact value text, an empty cell as "") and stats={column: {n, sum, min, max}} over '
        "the numeric values of YOUR rows only; the "
        "server adds them up across tasks, so never estimate or extrapolate. Findings are for notable "
        "rows or anomalies, quoting the row. " + COMMON
    ),
    JSON: (
        "The chunks are JSON elements (their path is in the context). Report elements that answer the "
        "question, quoting the relevant key/value verbatim. For exact totals send counts={field: "
        "{value: elements}} and stats={field: {n, sum, min, max}} over YOUR elements only; the server "
        "adds them up across tasks. " + COMMON
    ),
}

REDUCE_INSTRUCTIONS = (
    "This is a REDUCE task: the items below are findings other analysts already made (with the chunk "
    "ids they cite). Merge duplicates and closely related points into fewer, stronger findings that "
    "answer the question; keep every distinct fact, number and disagreement. For each merged finding: "
    "evidence = a verbatim quote copied from one of the items, chunk_id = a chunk id that item cites. "
    "Do not send counts or stats (the server sums those exactly). " + COMMON
)


RECORDS_INSTRUCTIONS = (
    "This task holds RECORDS, not chunks: each line is one record, `r<number> | <values>`, with only the "
    "columns the question needs (the context names them). Judge each record on its own; never count or "
    "add up yourself (the server does it exactly). Per-record judgements go in labels={dimension: "
    '{"<record number>": "<value>"}}, every record of the task once per dimension (open dimensions: a '
    "short lowercase phrase; 'other' or 'none' when nothing fits). Findings only for notable records: "
    "evidence = a short VERBATIM quote from the record's line, record = its number (instead of "
    "chunk_id). Submit with submit_findings(task_id, worker, labels=..., findings=[...], summary, "
    "relevance='high'|'medium'|'low'|'none'); findings=[] is valid. Then call claim_task again."
)


def dimension_rules(dimensions: str, records: int | None) -> str:
    """What a claim adds when the job fixes its dimensions."""
    if records is None:
        return (
            f"DIMENSIONS (use exactly these keys, nothing else): {dimensions}. counts={{dimension: "
            "{value: n}}} by these dimensions only."
        )
    return (
        f"DIMENSIONS (use exactly these keys, nothing else): {dimensions}. For each dimension send labels="
        f"{{dimension: {{record: value}}}} for all {records} records of this task, or counts={{dimension: "
        f"{{value: n}}}} that add up to exactly {records} (each record once, under one value)."
    )


def analyst_for(content_type: str) -> str:
    return ANALYST_BY_TYPE.get(content_type, CHUNK)


def check_analyst(analyst: str | None) -> str | None:
    """The analyst a caller named, if it is one of ANALYSTS (None: chosen by content type)."""
    if analyst is not None and analyst not in ANALYSTS:
        raise InvalidInput(f"analyst {analyst!r} is not known; use one of: {', '.join(ANALYSTS)}.")
    return analyst


def instructions_for(analyst: str, level: int, records: bool = False) -> str:
    if level > 0:
        return REDUCE_INSTRUCTIONS
    return RECORDS_INSTRUCTIONS if records else INSTRUCTIONS.get(analyst, INSTRUCTIONS[CHUNK])
