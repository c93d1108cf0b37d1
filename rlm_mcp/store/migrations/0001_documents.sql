-- Documents and their chunks, with an external-content FTS5 index. Inserts are indexed in bulk by
-- store/documents.insert_chunks (a per-row trigger makes loading 3x slower); deletes and text updates
-- are kept in step by triggers.
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    path          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    profile       TEXT,                          -- JSON, computed once at load
    state         TEXT NOT NULL DEFAULT 'ready', -- 'loading' while a load is under way (staging row)
    loader        TEXT,                          -- for a staging row: host:pid of the loading process
    loaded_at     REAL NOT NULL
);
CREATE UNIQUE INDEX documents_ready_path ON documents(path) WHERE state = 'ready';

CREATE TABLE chunks (
    id            INTEGER PRIMARY KEY,
    document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE ON UPDATE CASCADE,
    ordinal       INTEGER NOT NULL,
    text          TEXT NOT NULL,
    context       TEXT NOT NULL DEFAULT '',      -- preamble: heading path, CSV header, imports, JSON path
    section       TEXT NOT NULL DEFAULT '',      -- short label for locations: heading, symbol, JSON path
    content_hash  TEXT NOT NULL,
    start_line    INTEGER NOT NULL,
    end_line      INTEGER NOT NULL,
    start_row     INTEGER,                       -- CSV rows / JSON elements owned by this chunk
    end_row       INTEGER,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_hash ON chunks(content_hash);

CREATE VIRTUAL TABLE chunks_fts USING fts5(
    text, content = 'chunks', content_rowid = 'id', tokenize = 'porter unicode61'
);

CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER chunks_au AFTER UPDATE OF text ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
