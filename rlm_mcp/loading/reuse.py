"""Chunk reuse on reload: a changed file keeps the chunk rows whose text did not change.

Before a reload writes anything, the content hashes of the previous version's chunks (and of a killed
load of the same bytes, which makes a restart a resume) are read into a map. Each new chunk whose text
is already there is not inserted: its old row is moved into the new version in the final transaction,
with its id, FTS entry and vector, and only its place (ordinal, lines, rows, section, context) updated.
"""

from dataclasses import dataclass, field

from ..chunking import Chunk
from ..errors import Conflict
from ..store import Connection
from ..store import documents as db
from ..store.rows import ChunkMove


@dataclass(slots=True)
class ChunkReuse:
    available: dict[str, list[int]] = field(default_factory=dict)  # content hash -> old chunk ids
    moves: list[ChunkMove] = field(default_factory=list)

    sources: list[int] = field(default_factory=list)  # the documents whose rows may be kept
    kept_from_previous: int = 0  # rows kept from the previous version (the rest come from a killed load)

    @classmethod
    def load(cls, conn: Connection, previous: int | None, interrupted: list[int]) -> "ChunkReuse":
        """Rows of the previous version are preferred; a killed load's rows are stored negated."""
        reuse = cls()
        sources = [(previous, 1)] if previous is not None else []
        sources += [(staging, -1) for staging in interrupted]
        reuse.sources = [document_id for document_id, _ in sources]
        for document_id, sign in sources:
            for chunk_id, content_hash in db.chunk_ids_by_hash(conn, [document_id]):
                reuse.available.setdefault(content_hash, []).append(sign * chunk_id)
        for ids in reuse.available.values():
            ids.reverse()  # pop(): the previous version's rows first, each source in document order
        return reuse

    def take(self, ordinal: int, chunk: Chunk, content_hash: str) -> bool:
        """Keep an old row for this chunk if one has the same text; False means: insert it."""
        ids = self.available.get(content_hash)
        if not ids:
            return False
        chunk_id = ids.pop()
        if not ids:
            del self.available[content_hash]
        if chunk_id > 0:
            self.kept_from_previous += 1
        chunk_id = abs(chunk_id)
        self.moves.append(
            ChunkMove(chunk_id, ordinal, chunk.context, chunk.section, chunk.start_line, chunk.end_line,
                      chunk.start_row, chunk.end_row)
        )  # fmt: skip
        return True

    def apply(self, conn: Connection, document_id: int) -> int:
        """Move the kept rows into `document_id` (inside the transaction that finalises the load)."""
        moved = db.adopt_chunks(conn, document_id, self.moves, self.sources)
        if moved != len(self.moves):
            raise Conflict(
                "The document was changed by another load while this one ran; call load_document again."
            )
        return moved
