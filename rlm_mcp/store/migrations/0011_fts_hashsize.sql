-- FTS5 keeps the postings of a transaction in memory up to its 'hashsize' (1 MB by default) and
-- writes a segment each time it fills: a 4 MB batch of chunks wrote several small segments that
-- automerge then merged again. 64 MB holds a whole batch, so each batch writes one segment (loading
-- 40 books and a 75 MB CSV took 10-15 % less CPU). The index's content, and so every bm25 score, is
-- the same; only the segments it is stored in differ. Persistent: it lives in chunks_fts_config.
INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('hashsize', 67108864);
