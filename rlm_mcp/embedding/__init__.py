"""Embeddings: the Embedder protocol and bundled offline model (`model`, imported lazily: numpy and
onnxruntime are heavy) and the background worker that embeds queued chunks (`worker`)."""

from .worker import (
    EmbeddingWorker,
    EmbedReport,
    embed_all,
    embed_pending,
    notify,
    start_background,
    stop_workers,
    vector_status,
)

__all__ = [
    "EmbedReport",
    "EmbeddingWorker",
    "embed_all",
    "embed_pending",
    "notify",
    "start_background",
    "stop_workers",
    "vector_status",
]
