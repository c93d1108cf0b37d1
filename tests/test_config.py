"""Settings from the environment: defaults, overrides, and clear errors for bad values."""

from pathlib import Path

import pytest

from rlm_mcp.config import load_settings
from rlm_mcp.errors import InvalidInput
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import hybrid
from rlm_mcp.search import modes as search
from rlm_mcp.store import open_store


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


def test_hybrid_search_uses_the_configured_fusion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(tmp_path), "RLM_FUSION": "rrf:20"})
    (tmp_path / "a.txt").write_text("lanterns in the harbour\n", encoding="utf-8")
    store = open_store(settings.db_path)
    load_document(store, settings, "a.txt")
    seen: dict[str, object] = {}

    def spy(*args: object, **kwargs: object) -> search.SearchResult:
        seen.update(kwargs)
        return search.bm25_search(store, "lanterns", None, 1, 0)

    monkeypatch.setattr(hybrid, "vector_search", spy)
    search.search_chunks(store, settings, "lanterns", "hybrid")
    assert (seen["fusion"], seen["rrf_k"]) == ("rrf", 20.0)
    store.close()
