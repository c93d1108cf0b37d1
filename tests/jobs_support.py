"""Helpers for the jobs and synthesis tests: documents written straight into a store, fast."""

import hashlib
import time
from collections.abc import Sequence

from rlm_mcp.store import Store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store.rows import NewChunk


def add_document(
    store: Store, name: str, texts: Sequence[str], content_type: str = "text", context: str = ""
) -> tuple[int, list[int]]:
    """A ready document whose chunks are `texts`, indexed like a loaded one; returns its id and chunk ids."""
    rows: list[NewChunk] = []
    line = 1
    for ordinal, text in enumerate(texts):
        end = line + text.count("\n")
        digest = hashlib.sha256(text.encode()).hexdigest()
        rows.append(NewChunk(ordinal, text, context, "", digest, line, end, None, None))
        line = end + 1
    with store.write() as conn:
        doc_id = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (name, f"/data/{name}", content_type, sum(len(t) for t in texts), name, time.time()),
        ).fetchone()[0]
        documents_db.insert_chunks(conn, doc_id, rows)
        ids = [
            r[0]
            for r in conn.execute("SELECT id FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc_id,))
        ]
    return int(doc_id), [int(i) for i in ids]


def delete_document(store: Store, document_id: int) -> None:
    with store.write() as conn:
        documents_db.delete_document(conn, document_id)
