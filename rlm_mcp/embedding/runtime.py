"""Run the shipped model with onnxruntime directly: tokenizer, session options we choose, mean pooling.

fastembed runs a session with onnxruntime's defaults: thread-pool threads that spin while they wait
(on a shared 2-core machine they burn the CPU a search needs: measured 6.6 chunks per CPU-second
spinning against 14.5 not), memory patterns kept per input shape, and padded batches of 16. Here the
pool sleeps, patterns are off, and every text runs alone, unpadded:
- the int8 graph quantizes its activations per tensor, so in a batch a text's vector would depend on
  its batch-mates (and on their padding); alone, a text always gets the same vector, the one its
  query gets too;
- on 256-token chunks (where the hours go) one at a time was the fastest measured (18.7 chunks per
  CPU-second against 15.7 at 8 and 15.9 at 16); short texts (titles) lose ~25 %;
- the arena (kept: turned off, every activation is a fresh malloc, half the speed and a higher peak)
  holds one text's activations, so peak RSS stays bounded whatever the corpus.
Tokenizing (truncate at `model_max_length`) and pooling (the mean over the tokens, then unit length)
are what fastembed does for this model; a test checks both agree.
"""

import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Vectors = NDArray[np.float32]
# onnxruntime's opt-out of its telemetry on Linux and macOS; read once, when onnxruntime is imported
ORT_TELEMETRY_OFF = ("ORT_DISABLE_TELEMETRY", "1")

MODEL_FILE = "model.onnx"
POOL_EPS = 1e-12


def import_onnxruntime() -> Any:
    """onnxruntime, imported with its telemetry off.

    Trigger: every import of onnxruntime goes through here (fastembed's too, see
    `model._text_embedding`; the converter's child gets the variable in its environment). Why:
    onnxruntime (1.2x wheels, Linux and macOS) starts its telemetry when it is imported: unless
    ORT_DISABLE_TELEMETRY=1 is set by then, it writes a device id and an event store under
    ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and sends events to Microsoft's collector; the
    variable is read once per process, so a later `disable_telemetry_events()` only stops later
    events. Outcome: the variable set before the import (whatever the user's environment said: this
    product is offline), events disabled after.
    """
    name, value = ORT_TELEMETRY_OFF
    if "onnxruntime" in sys.modules and os.environ.get(name) != value:
        log.warning("onnxruntime was imported before rlm-mcp could set %s=%s", name, value)
    os.environ[name] = value
    import onnxruntime

    onnxruntime.disable_telemetry_events()
    return onnxruntime


class OnnxSession:
    """One model directory (model.onnx plus tokenizer files) as a thread-safe text → vector function.

    onnxruntime's `run` is safe to call from several threads at once, and so is the tokenizer's
    `encode_batch`: a search embedding its query never waits for the worker's batch to finish.
    """

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0  # 0: one per physical core
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
        self.session = ort.InferenceSession(
            str(model_dir / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = _load_tokenizer(model_dir)
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit vectors, one row per text; each text runs alone (see BATCH_SIZE)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, encoding in enumerate(self.tokenizer.encode_batch(list(texts))):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed: dict[str, Any] = {"input_ids": ids}
            if "attention_mask" in self._inputs:
                feed["attention_mask"] = np.ones_like(ids)
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0][0]  # (tokens, dim): no padding to average out
            pooled = hidden.mean(axis=0, dtype=np.float64)
            vectors[row] = pooled / max(float(np.linalg.norm(pooled)), POOL_EPS)
        return vectors


def _load_tokenizer(model_dir: Path) -> Any:
    """The model's tokenizer, truncating at `model_max_length`, never padding."""
    from tokenizers import Tokenizer

    config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=int(config["model_max_length"]))
    tokenizer.no_padding()
    return tokenizer
