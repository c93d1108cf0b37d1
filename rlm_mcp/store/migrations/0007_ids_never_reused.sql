-- Ids are never reused: a finding that cites d3 or c1042 must never come to cite another file's
-- text after remove_document. SQLite gives a new row max(id) + 1, so deleting the newest document
-- freed its ids; the highest id ever used is kept here (as AUTOINCREMENT's sqlite_sequence would,
-- without rebuilding the tables) and inserts start above it (store/documents.py).
CREATE TABLE id_high_water (
    name     TEXT PRIMARY KEY,                    -- 'documents' or 'chunks'
    last_id  INTEGER NOT NULL
);
INSERT INTO id_high_water (name, last_id)
    SELECT 'documents', coalesce(max(id), 0) FROM documents;
INSERT INTO id_high_water (name, last_id)
    SELECT 'chunks', coalesce(max(id), 0) FROM chunks;

-- Before a document goes (its chunks go with it by cascade), its id and the highest chunk id are kept.
CREATE TRIGGER documents_keep_high_water BEFORE DELETE ON documents BEGIN
    UPDATE id_high_water SET last_id = max(last_id, old.id) WHERE name = 'documents';
    UPDATE id_high_water SET last_id = max(last_id, (SELECT coalesce(max(id), 0) FROM chunks))
        WHERE name = 'chunks';
END;
