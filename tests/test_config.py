"""Settings from the environment: defaults, overrides, and clear errors for bad values."""

from pathlib import Path

import pytest

from rlm_mcp.config import load_settings
from rlm_mcp.embedding import embed_all
from rlm_mcp.errors import InvalidInput
from rlm_mcp.loading import load_document
from rlm_mcp.search import search_chunks
from rlm_mcp.store import open_store

from .fakes import FakeEmbedder


def test_defaults_put_the_store_under_the_project(tmp_path: Path) -> None:
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(tmp_path)})
    assert settings.db_path == tmp_path.resolve() / ".rlm" / "rlm.db"
    assert settings.allowed_roots == (tmp_path.resolve(),)
    assert (settings.fusion, settings.rrf_k) == ("minmax", 60.0)


def test_overrides_widen_roots_and_choose_rrf(tmp_path: Path) -> None:
    other = tmp_path / "data"
    settings = load_settings(
        {
            "CLAUDE_PROJECT_DIR": str(tmp_path),
            "RLM_ALLOWED_ROOTS": str(other),
            "RLM_DB": "x.db",
            "RLM_FUSION": "rrf:10",
            "RLM_LEASE_SECONDS": "30",
        }
    )
    assert settings.allowed_roots == (tmp_path.resolve(), other.resolve())
    assert settings.db_path == tmp_path.resolve() / "x.db"
    assert (settings.fusion, settings.rrf_k, settings.lease_seconds) == ("rrf", 10.0, 30)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RLM_FUSION", "borda"),
        ("RLM_FUSION", "rrf:x"),
        ("RLM_FUSION", "minmax:3"),
        ("RLM_LEASE_SECONDS", "-5"),
        ("RLM_TASK_TOKENS", "many"),
    ],
)
def test_bad_values_are_clear_errors_that_name_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InvalidInput, match=name):
        load_settings({"CLAUDE_PROJECT_DIR": str(tmp_path), name: value})


@pytest.mark.parametrize("setting", ["rrf:20", "minmax"])
def test_hybrid_search_ranks_with_the_configured_fusion(
    tmp_path: Path, embedder: FakeEmbedder, setting: str
) -> None:
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(tmp_path), "RLM_FUSION": setting})
    words = ["lanterns harbour", "lanterns", "harbour night", "lanterns at the harbour at night"]
    (tmp_path / "a.txt").write_text("\n\n".join(f"{w} {'filler ' * 60}" for w in words), encoding="utf-8")
    store = open_store(settings.db_path)
    try:
        load_document(store, settings, "a.txt")
        embed_all(store, embedder)
        found = search_chunks(store, settings, "lanterns harbour", "hybrid", top_k=10, embedder=embedder)
        assert found.mode == "hybrid" and any(set(h.ranks or {}) == {"bm25", "semantic"} for h in found.hits)
        for hit in found.hits:
            ranks = hit.ranks or {}
            if setting == "minmax":  # each list rescaled to [0, 1] and added: at most 2, never RRF-sized
                assert 0.0 <= hit.score <= 2.0
            else:
                assert hit.score == pytest.approx(sum(1 / (20 + r) for r in ranks.values()))
        if setting == "minmax":
            assert found.hits[0].score >= 1.0  # the best of at least one list scores 1 after rescaling
    finally:
        store.close()
