"""Helpers for the jobs and synthesis tests: documents written straight into a store, fast."""

import hashlib
import time
from collections.abc import Sequence

from rlm_mcp.store import Store


def add_document(
    store: Store, name: str, texts: Sequence[str], content_type: str = "text", context: str = ""
) -> tuple[int, list[int]]:
    """A ready document whose chunks are `texts` (one line each unless they hold newlines)."""
    with store.write() as conn:
        doc_id = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, loaded_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, f"/data/{name}", content_type, sum(len(t) for t in texts), name, time.time()),
        ).lastrowid
        line = 1
        ids = []
        for ordinal, text in enumerate(texts):
            lines = text.count("\n") + 1
            ids.append(
                conn.execute(
                    "INSERT INTO chunks (document_id, ordinal, text, context, section, content_hash, "
                    "start_line, end_line) VALUES (?, ?, ?, ?, '', ?, ?, ?)",
                    (doc_id, ordinal, text, context, hashlib.sha256(text.encode()).hexdigest(), line,
                     line + lines - 1),
                ).lastrowid
            )
            line += lines
    return int(doc_id), [int(i) for i in ids]


def delete_document(store: Store, document_id: int) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
