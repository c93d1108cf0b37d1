-- New chunks are queued for embedding by store/documents.insert_chunks, in one statement per batch,
-- like their FTS entries: a per-row trigger costs loading about 5 %.
DROP TRIGGER chunks_vec_ai;
