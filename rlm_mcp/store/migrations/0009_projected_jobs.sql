-- Projected jobs and fixed dimensions (create_job(columns=, where=, dimensions=)).
-- A projected job hands analysts only some columns of the records a predicate selects, each record
-- with its number (the columnar copy's `record`, or a text's `line`). `task_records` says which
-- records a task holds: their runs of consecutive numbers, how many, and a digest of the text the
-- plan rendered, so a claim can tell that the copy changed under the job. task_chunks still lists
-- the chunks those records belong to (coverage, citations and freshness stay chunk-based).
ALTER TABLE jobs ADD COLUMN columns TEXT;      -- JSON list of projected column names, or NULL
ALTER TABLE jobs ADD COLUMN where_sql TEXT;    -- the predicate on the document's view, or NULL
ALTER TABLE jobs ADD COLUMN dimensions TEXT;   -- JSON {dimension: [vocabulary] | null}, or NULL

CREATE TABLE task_records (
    task_id      INTEGER PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,
    document_id  INTEGER NOT NULL,            -- no FK: the document may be reloaded or removed
    first_record INTEGER NOT NULL,
    last_record  INTEGER NOT NULL,
    records      INTEGER NOT NULL,            -- how many records the task holds
    runs         TEXT NOT NULL,               -- JSON [[first, last], ...]: the records, as runs
    digest       TEXT NOT NULL                -- sha256 of the rendered records as planned
);
