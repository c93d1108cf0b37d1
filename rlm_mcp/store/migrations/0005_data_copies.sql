-- The columnar copy of a document (rlm_mcp/data/): a Parquet file under the store's data directory,
-- written at load. A reload writes a new file under a new name and swaps this row in the same
-- transaction as the document; the old file is deleted after that commits. The row follows its
-- document's id (a reload keeps d3) and goes with it.
CREATE TABLE data_copies (
    document_id  INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE ON UPDATE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('table', 'lines')),
    file         TEXT NOT NULL UNIQUE,           -- file name inside the data directory
    records      INTEGER NOT NULL,               -- rows of a table, lines of a text
    columns      TEXT NOT NULL,                  -- JSON [[name, duckdb type], ...], record first
    warnings     TEXT NOT NULL DEFAULT '[]',     -- JSON list: renamed headers, widened types, ...
    created_at   REAL NOT NULL
);
