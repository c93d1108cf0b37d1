"""Embeddings: the Embedder protocol and bundled offline model (`model`, imported lazily: numpy and
onnxruntime are heavy) and the background worker that embeds queued chunks (`worker`). The process's
embedder and worker are owned by the `Workspace`."""

from .worker import EMBEDDING_THREAD, EmbeddingWorker, EmbedReport, embed_all, embed_pending, vector_status

__all__ = [
    "EMBEDDING_THREAD",
    "EmbedReport",
    "EmbeddingWorker",
    "embed_all",
    "embed_pending",
    "vector_status",
]
