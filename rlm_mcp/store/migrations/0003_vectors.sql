-- Vectors: a cache keyed by content (unchanged text is never embedded twice), a work queue filled by
-- triggers (every new chunk waits there until it has a vector), and the vec0 KNN table kept in step
-- with chunks by triggers. chunks_vec is created for the default model (384 dimensions); store/vectors.py
-- recreates it when another model with another dimension takes over, and re-queues every chunk.
CREATE TABLE vector_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE embeddings (
    content_hash  TEXT NOT NULL,
    model         TEXT NOT NULL,
    vector        BLOB NOT NULL,                 -- float32, unit length
    PRIMARY KEY (content_hash, model)
) WITHOUT ROWID;

CREATE TABLE embed_queue (
    chunk_id       INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
    claimed_by     TEXT,                         -- host:pid:thread of the worker embedding it now
    claimed_until  REAL                          -- the claim lapses then (a crashed worker's batch comes back)
);

-- document_id is a metadata column, so KNN is scoped by document inside the query; embedding_bit is
-- the binary quantization used as a fast first pass at scale (no comments inside: vec0 parses its args).
CREATE VIRTUAL TABLE chunks_vec USING vec0(
    chunk_id INTEGER PRIMARY KEY,
    document_id INTEGER,
    embedding float[384] distance_metric=cosine,
    embedding_bit bit[384]
);

INSERT INTO embed_queue (chunk_id) SELECT id FROM chunks;
-- 'version' changes whenever chunks_vec may have changed: in-memory indexes over it know when to reload.
INSERT INTO vector_meta (key, value) VALUES ('version', 0);

CREATE TRIGGER chunks_vec_ai AFTER INSERT ON chunks BEGIN
    INSERT OR IGNORE INTO embed_queue (chunk_id) VALUES (new.id);
END;
CREATE TRIGGER chunks_vec_ad AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_vec WHERE chunk_id = old.id;
    UPDATE vector_meta SET value = value + 1 WHERE key = 'version';
END;
CREATE TRIGGER chunks_vec_au_document AFTER UPDATE OF document_id ON chunks BEGIN
    UPDATE chunks_vec SET document_id = new.document_id WHERE chunk_id = old.id;
    UPDATE vector_meta SET value = value + 1 WHERE key = 'version';
END;
CREATE TRIGGER chunks_vec_au_text AFTER UPDATE OF text ON chunks BEGIN
    DELETE FROM chunks_vec WHERE chunk_id = old.id;
    INSERT OR REPLACE INTO embed_queue (chunk_id) VALUES (new.id);
    UPDATE vector_meta SET value = value + 1 WHERE key = 'version';
END;
