-- Analysis jobs: tasks leased to analysts, the chunks each task covers, the findings they submit.
-- No foreign key points from a job's rows to documents or chunks: reloading or removing a document
-- deletes its chunks, and a job must notice that (a clear failure), never lose its findings.
CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    query         TEXT NOT NULL,
    scope         TEXT NOT NULL,                 -- JSON: document_ids, search, top_k, analyst
    task_tokens   INTEGER NOT NULL,
    lease_seconds INTEGER NOT NULL,
    max_attempts  INTEGER NOT NULL,
    chunks        INTEGER NOT NULL,              -- chunks covered by level-0 tasks
    created_at    REAL NOT NULL
);

CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY,
    job_id           INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    level            INTEGER NOT NULL DEFAULT 0,  -- 0: chunks of documents; n > 0: a reduce level over findings
    ordinal          INTEGER NOT NULL,
    analyst          TEXT NOT NULL,
    tokens           INTEGER NOT NULL,
    inputs           TEXT,                        -- reduce tasks: JSON list of groups of finding ids
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'claimed', 'done', 'failed')),
    worker           TEXT,
    lease_expires_at REAL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    error            TEXT,                        -- why a task failed, or why its last lease was lost
    claimed_at       REAL,
    completed_at     REAL,
    summary          TEXT,
    relevance        TEXT,
    counts           TEXT,                        -- JSON {dimension: {value: int}}
    stats            TEXT,                        -- JSON {metric: {n, sum, min, max}}
    follow_up        TEXT,                        -- JSON list of strings
    submission_hash  TEXT,                        -- makes a repeated submission a no-op
    UNIQUE (job_id, level, ordinal)
);
CREATE INDEX tasks_queue ON tasks(job_id, state, level, ordinal);

CREATE TABLE task_chunks (
    task_id      INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    chunk_id     INTEGER NOT NULL,                -- no FK: the chunk may be deleted by a reload
    document_id  INTEGER NOT NULL,
    ordinal      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,                   -- a chunk whose text changed is not the one planned
    PRIMARY KEY (task_id, position)
);
CREATE INDEX task_chunks_chunk ON task_chunks(chunk_id);

CREATE TABLE findings (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    task_id           INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    level             INTEGER NOT NULL DEFAULT 0,
    position          INTEGER NOT NULL,
    chunk_id          INTEGER NOT NULL,           -- no FK: findings outlive their documents
    title             TEXT NOT NULL,
    detail            TEXT NOT NULL,
    evidence          TEXT NOT NULL,
    verified          INTEGER NOT NULL,           -- 1 when evidence occurs in the task's text
    evidence_chunk_id INTEGER,                    -- where the evidence was found
    line              INTEGER,
    kind              TEXT,
    severity          TEXT,
    tags              TEXT NOT NULL DEFAULT '[]', -- JSON list
    citations         TEXT NOT NULL DEFAULT '[]', -- JSON list of chunk ids (reduce levels carry many)
    UNIQUE (task_id, position)
);
CREATE INDEX findings_job ON findings(job_id, level);
