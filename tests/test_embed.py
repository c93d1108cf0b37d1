"""The embedding model: offline, pinned, behind the Embedder seam; and the background pipeline with it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rlm_mcp
from rlm_mcp.config import Settings
from rlm_mcp.embedding import model as embed
from rlm_mcp.embedding import worker as embedding_worker
from rlm_mcp.errors import Unavailable
from rlm_mcp.hashing import hash_file
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import search_chunks
from rlm_mcp.store import Store
from rlm_mcp.store import vectors as vdb

from .test_vectors import add_document


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> embed.FastEmbedder:
    """The real shipped model, assembled in a private cache dir (loads in ~0.2 s)."""
    embedder = embed.FastEmbedder(cache_dir=tmp_path_factory.mktemp("models"))
    embedder.load()
    return embedder


def test_the_shipped_model_embeds_offline_into_unit_vectors_of_384(model: embed.FastEmbedder) -> None:
    vectors = model.embed_documents(["The cat sat on the mat.", "Stock markets fell sharply."])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = model.embed_query("a kitten resting on a rug")
    assert query.shape == (384,)
    assert float(vectors[0] @ query) > float(vectors[1] @ query) + 0.2


def test_the_model_dir_holds_the_pinned_onnx_and_the_shipped_tokenizer(model: embed.FastEmbedder) -> None:
    directory = embed.assemble_model_dir(model._cache_dir)
    assert hash_file(directory / "model.onnx").sha256 == embed.MODEL_SHA256
    converted = embed.assemble_model_dir(model._cache_dir, int8_compute=True)
    assert converted != directory and not (converted / "model.onnx").is_symlink()
    assert (converted / "tokenizer.json").read_bytes() == (directory / "tokenizer.json").read_bytes()
    config = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["model_max_length"] == 256
    assert (Path(rlm_mcp.__file__).parent / "model" / "NOTICE").read_text().count("Apache License") >= 1


def test_the_default_converts_the_pinned_file_to_int8_matmuls_once_and_reuses_it(
    model: embed.FastEmbedder,
) -> None:
    import onnx

    assert model.model_id == embed.DEFAULT_MODEL_ID and model.spec.int8_compute
    directory = embed.assemble_model_dir(model._cache_dir, int8_compute=True)
    graph = onnx.load(str(directory / "model.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert "MatMulInteger" in ops and "DynamicQuantizeLinear" in ops
    assert not any(n.op_type == "MatMul" and n.input[1].endswith("_f") for n in graph.node)
    built = (directory / "model.onnx").stat().st_mtime_ns
    assert embed.assemble_model_dir(model._cache_dir, int8_compute=True) == directory
    assert (directory / "model.onnx").stat().st_mtime_ns == built  # cached, not converted again


def test_a_damaged_converted_model_is_converted_again(tmp_path: Path) -> None:
    directory = embed.assemble_model_dir(tmp_path, int8_compute=True)
    good = hash_file(directory / "model.onnx").sha256
    (directory / "model.onnx").write_bytes(b"half a file")
    again = embed.assemble_model_dir(tmp_path, int8_compute=True)
    assert again == directory and hash_file(again / "model.onnx").sha256 == good


def test_int8_compute_stays_close_to_the_stored_file_and_a_text_gets_one_vector_alone_or_not(
    model: embed.FastEmbedder, tmp_path: Path
) -> None:
    texts = [
        "Cats purr on the sofa and chase mice at night.",
        "The stock market fell as bond yields rose sharply in the afternoon session.",
        "def parse(path):\n    return json.loads(Path(path).read_text())",
        "Mitochondria are the powerhouse of the cell; they make ATP by oxidative phosphorylation.",
    ]
    stored = embed.FastEmbedder(embed.STORED_INT8_MODEL_ID, cache_dir=model._cache_dir)
    reference = stored.embed_documents(texts)
    vectors = model.embed_documents(texts)
    cosines = (reference * vectors).sum(axis=1)
    assert cosines.min() > 0.98 and cosines.mean() > 0.99, cosines
    assert np.array_equal(model.embed_documents(texts[1:2])[0], vectors[1])
    assert np.array_equal(model.embed_query(texts[2]), vectors[2])


def test_our_onnx_session_equals_fastembed_on_the_same_file(model: embed.FastEmbedder) -> None:
    from rlm_mcp.embedding.runtime import OnnxSession

    texts = ["short", "A longer sentence about harbours, tides and the ships that leave at dawn. " * 12]
    stored = embed.FastEmbedder(embed.STORED_INT8_MODEL_ID, cache_dir=model._cache_dir)
    ours = OnnxSession(embed.assemble_model_dir(model._cache_dir)).embed(texts)
    np.testing.assert_allclose(ours, stored.embed_documents(texts), atol=1e-5)


def test_a_model_file_with_another_hash_is_refused_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake_pkg"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "model.onnx").write_bytes(b"not the model")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(embed, "MODEL_PACKAGE", "fake_pkg")
    with pytest.raises(Unavailable, match=r"SHA-256.*not the pinned") as info:
        embed.FastEmbedder(cache_dir=tmp_path / "cache").load()
    assert "bm25" in str(info.value)


def test_rlm_embed_model_accepts_a_local_directory_and_reads_its_dimension(tmp_path: Path) -> None:
    shipped = Path(rlm_mcp.__file__).parent / "model"
    for name in embed.TOKENIZER_FILES:
        shutil.copyfile(shipped / name, tmp_path / name)
    (tmp_path / "model.onnx").symlink_to(embed.pinned_model_file())
    spec = embed.resolve_model(str(tmp_path))
    assert (spec.dim, spec.model_id, spec.pinned) == (384, f"dir:{tmp_path.resolve()}", False)
    vectors = embed.FastEmbedder(spec).embed_documents(["hello"])
    assert vectors.shape == (1, 384)


def test_an_unknown_model_name_is_a_clear_error() -> None:
    with pytest.raises(Unavailable, match="neither a directory nor a fastembed model"):
        embed.resolve_model("no-such/model-xyz")


def test_resolving_the_default_model_loads_nothing(tmp_path: Path) -> None:
    """Naming the model, building the embedder and reading its id and size import no runtime and
    assemble no model directory: that waits for the first embedding."""
    code = (
        "import sys; from rlm_mcp.embedding import model as m;"
        "spec = m.resolve_model(None); e = m.FastEmbedder();"
        "print(spec.model_id, spec.dim, spec.pinned, e.model_id, e.dim);"
        "print([n for n in ('fastembed', 'onnxruntime', 'tokenizers') if n in sys.modules])"
    )
    cache = tmp_path / "cache"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    ids, loaded = out.stdout.strip().splitlines()
    assert ids == f"{embed.DEFAULT_MODEL_ID} 384 True {embed.DEFAULT_MODEL_ID} 384"
    assert loaded == "[]" and not cache.exists()


@pytest.mark.backends
def test_loaded_documents_get_real_vectors_and_semantic_search_finds_meaning(
    project: Path,
    settings: Settings,
    store: Store,
    model: embed.FastEmbedder,
) -> None:
    (project / "pets.md").write_text("# Pets\n\nCats purr on the sofa and chase mice at night.\n")
    (project / "money.md").write_text("# Markets\n\nThe stock market fell as bond yields rose.\n")
    loaded = load_document(store, settings, ".")
    assert loaded.embeddings_waiting == 2
    result = embedding_worker.embed_all(store, model)
    assert (result.stored, result.embedded) == (2, 2)
    hits = search_chunks(store, settings, "feline animals", "semantic", top_k=1, embedder=model).hits
    assert hits[0].location.startswith("pets.md")
    stored = store.conn().execute("SELECT vector FROM embeddings").fetchall()
    text = store.conn().execute("SELECT text FROM chunks ORDER BY id").fetchone()[0]
    expected = model.embed_documents([text])[0]
    assert any(np.allclose(np.frombuffer(row[0], dtype=np.float32), expected, atol=1e-6) for row in stored)


@pytest.mark.backends
def test_pipeline_skips_text_it_embedded_before(store: Store, model: embed.FastEmbedder) -> None:
    add_document(store, "/a", ["same words here", "other words"])
    embedding_worker.embed_all(store, model)
    add_document(store, "/b", ["same words here"])
    again = embedding_worker.embed_all(store, model)
    assert (again.stored, again.embedded, again.reused) == (1, 0, 1)
    assert vdb.backlog(store.conn()) == 0
