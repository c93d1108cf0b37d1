"""Reading the store: one chunk with its context, the list of documents, removal, and status."""

from .reading import ChunkView, DocumentList, Removed, get_chunk, list_documents, remove_document
from .status import Status, status

__all__ = [
    "ChunkView",
    "DocumentList",
    "Removed",
    "Status",
    "get_chunk",
    "list_documents",
    "remove_document",
    "status",
]
