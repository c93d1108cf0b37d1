"""The int8-compute variant of the shipped model, made locally from the pinned file (no download).

The bundled `model.onnx` stores its MatMul weights as int8 but multiplies in fp32: each weight is
`Cast(int8) * scale` and then an fp32 MatMul. Here those weights are folded back to fp32 and the graph
is re-quantized with onnxruntime's `quantize_dynamic` (per-channel int8 weights, uint8 activations
quantized per batch), so the MatMuls run on int8 kernels (VNNI where the CPU has it). The token and
position embedding tables stay int8-stored: they feed a Gather, not a MatMul. The result is written
to a temporary file beside the target and renamed into place, so a half-written model is never seen.

Run as a module (`python -m rlm_mcp.embedding.quantize SRC DST`) it converts in a child process, so
the server never holds onnx's ~100 MB of graph copies; `build_int8_model` is the same in-process.
"""

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import Unavailable

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1  # part of the cache directory name: a new recipe never reuses an old file
CONVERT_TIMEOUT_SECONDS = 300.0
INT8 = 3  # onnx.TensorProto.INT8


def build_int8_model(source: Path, target: Path) -> None:
    """Write the dynamic-int8 graph of `source` (the pinned int8-storage model) to `target`."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dropped_nodes: set[int] = set()
    dropped_inits: set[str] = set()
    folded = []
    for node in graph.node:
        stored = initializers.get(node.input[0]) if node.op_type == "Cast" and node.input else None
        if stored is None or stored.data_type != INT8:
            continue
        (scale_mul,) = consumers[node.output[0]]
        if scale_mul.op_type != "Mul" or any(c.op_type != "MatMul" for c in consumers[scale_mul.output[0]]):
            continue  # an embedding table (Gather): keep it int8-stored
        (scale_name,) = [name for name in scale_mul.input if name != node.output[0]]
        weight = numpy_helper.to_array(stored).astype(np.float32)
        scale = numpy_helper.to_array(initializers[scale_name]).astype(np.float32)
        folded.append(numpy_helper.from_array((weight * scale).astype(np.float32), scale_mul.output[0]))
        dropped_nodes |= {id(node), id(scale_mul)}
        dropped_inits |= {stored.name, scale_name}
    if not folded:
        raise Unavailable(f"{source} has no int8-stored MatMul weights to convert")
    kept_nodes = [n for n in graph.node if id(n) not in dropped_nodes]
    kept_inits = [i for i in graph.initializer if i.name not in dropped_inits]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend([*kept_inits, *folded])
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=target.parent) as scratch:
        fp32 = Path(scratch) / "fp32.onnx"
        onnx.save(model, str(fp32))
        del model
        out = Path(scratch) / "int8.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint on the root logger
        try:
            quantize_dynamic(
                str(fp32),
                str(out),
                per_channel=True,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=["MatMul"],
            )
        finally:
            root.setLevel(level)
        os.replace(out, target)


def convert_in_child(source: Path, target: Path) -> None:
    """`build_int8_model` in a child process (bounded memory and time in the caller)."""
    command = [sys.executable, "-m", __name__, str(source), str(target)]
    # telemetry off (see runtime.import_onnxruntime); the quantizer's scratch files beside the target,
    # in the model cache, not in the system temp dir
    env = os.environ | {"ORT_DISABLE_TELEMETRY": "1", "TMPDIR": str(target.parent)}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_SECONDS, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"Converting the embedding model to int8 compute failed: {exc}") from None
    if done.returncode != 0 or not target.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(
            f"Converting the embedding model to int8 compute failed (exit {done.returncode}): "
            + " / ".join(tail)
        )


if __name__ == "__main__":
    build_int8_model(Path(sys.argv[1]), Path(sys.argv[2]))
