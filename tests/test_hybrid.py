"""semantic and hybrid search: fusion, scoping inside the query, degrading to BM25 with a reason; and the
embeddings as the user sees them (load answer, status, `rlm-mcp embed`, the MCP server)."""

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from rlm_mcp.config import Settings
from rlm_mcp.documents.status import status
from rlm_mcp.embedding import worker as embedding_worker
from rlm_mcp.embedding.model import DEFAULT_MODEL_ID
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import SearchResult, fusion, hybrid, search_chunks
from rlm_mcp.server import create_server
from rlm_mcp.store import Store
from rlm_mcp.store import documents as documents_db
from rlm_mcp.store import search as search_db
from rlm_mcp.workspace import Workspace

from .conftest import project_env
from .fakes import FakeEmbedder
from .test_vectors import add_document

TOPICS = {
    "harbour.txt": "harbour ships anchor tide pier",
    "forest.txt": "forest trees moss fern owl",
    "kitchen.txt": "kitchen bread oven flour salt",
}


Search = Callable[..., SearchResult]
pytestmark = pytest.mark.backends


@pytest.fixture
def search(store: Store, settings: Settings, embedder: FakeEmbedder) -> Search:
    """search_chunks as the server calls it: with the workspace's embedder (here the fake)."""
    return functools.partial(search_chunks, store, settings, embedder=embedder)


@pytest.fixture
def corpus(project: Path, settings: Settings, store: Store, embedder: FakeEmbedder) -> dict[str, str]:
    for name, words in TOPICS.items():
        (project / name).write_text(
            "\n\n".join(f"{words} note {i} " * 20 for i in range(12)), encoding="utf-8"
        )
    docs = load_document(store, settings, ".").documents
    embedding_worker.embed_all(store, embedder)
    return {d.name: f"d{d.id}" for d in docs}


def test_rrf_sums_reciprocal_ranks_and_says_where_each_hit_came_from() -> None:
    fused = fusion.rrf({"bm25": [(1, 9.0), (2, 5.0)], "semantic": [(2, 0.9), (3, 0.8)]}, k=60)
    assert [f.id for f in fused] == [2, 1, 3]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert fused[0].ranks == (("bm25", 2), ("semantic", 1))
    assert fused[2].ranks == (("semantic", 2),)


def test_minmax_rescales_each_list_and_adds_them_with_equal_weights() -> None:
    fused = fusion.minmax({"bm25": [(1, 10.0), (2, 6.0), (3, 2.0)], "semantic": [(3, 0.9), (4, 0.5)]})
    scores = {f.id: f.score for f in fused}
    assert scores == {1: 1.0, 2: 0.5, 3: 1.0, 4: 0.0}
    assert [f.id for f in fused][:2] == [1, 3]  # ties go to the better best rank, then the smaller id


def test_minmax_weighs_code_chunks_towards_the_semantic_list() -> None:
    bm25 = [(1, 10.0), (2, 4.0), (3, 0.0)]  # rescaled: 1.0, 0.4, 0.0
    semantic = [(2, 0.9), (1, 0.5), (3, 0.1)]  # rescaled: 1.0, 0.5, 0.0
    prose = hybrid.fuse_candidates(bm25, semantic, dict.fromkeys((1, 2, 3), "text"))
    assert [(f.id, f.score) for f in prose] == [(1, pytest.approx(1.5)), (2, pytest.approx(1.4)), (3, 0.0)]
    assert prose == fusion.minmax({"bm25": bm25, "semantic": semantic})  # prose: equal weights, as before
    share = hybrid.SEMANTIC_SHARE["code"]
    code = hybrid.fuse_candidates(bm25, semantic, dict.fromkeys((1, 2, 3), "code"))
    assert {f.id: f.score for f in code} == {
        1: pytest.approx(2 * (1 - share) * 1.0 + 2 * share * 0.5),
        2: pytest.approx(2 * (1 - share) * 0.4 + 2 * share * 1.0),
        3: 0.0,
    }
    assert [f.id for f in code] == [2, 1, 3]
    mixed = hybrid.fuse_candidates(bm25, semantic, {1: "markdown", 2: "code"})  # 3: no type known
    assert {f.id: f.score for f in mixed} == {1: pytest.approx(1.5), 2: pytest.approx(1.52), 3: 0.0}
    rrf = hybrid.fuse_candidates(bm25, semantic, dict.fromkeys((1, 2, 3), "code"), "rrf")
    assert rrf == fusion.rrf({"bm25": bm25, "semantic": semantic})  # weights are min-max's only


def test_hybrid_search_weighs_each_hit_by_its_documents_content_type(
    project: Path, store: Store, settings: Settings, search: Search, embedder: FakeEmbedder
) -> None:
    (project / "tide.py").write_text(
        "".join(f"def tide_table_{i}(harbour):\n    return harbour.tide * {i}\n\n\n" for i in range(8)),
        encoding="utf-8",
    )
    (project / "tide.md").write_text(
        "\n\n".join(f"# Tides {i}\n\nThe harbour tide table, note {i}." for i in range(8)), encoding="utf-8"
    )
    load_document(store, settings, ".")
    embedding_worker.embed_all(store, embedder)
    query = "harbour tide table"
    result = search(query, "hybrid", top_k=40)
    conn = store.conn()
    bm25 = search_db.bm25_candidates(conn, hybrid.candidate_query(query) or "", None, hybrid.CANDIDATES)
    vectors = hybrid.vector_candidates(store, query, None, hybrid.CANDIDATES, embedder).ranked
    kinds = {h.chunk_id: "code" if h.location.startswith("tide.py") else "markdown" for h in result.hits}
    assert set(kinds.values()) == {"code", "markdown"}
    expected = hybrid.fuse_candidates(bm25, vectors, kinds)
    assert [(h.chunk_id, h.score) for h in result.hits] == [(f.id, pytest.approx(f.score)) for f in expected]
    equal = {f.id: f.score for f in fusion.minmax({"bm25": bm25, "semantic": vectors})}
    changed = {h.chunk_id for h in result.hits if h.score != pytest.approx(equal[h.chunk_id])}
    assert changed and all(kinds[c] == "code" for c in changed)  # only code chunks moved


def test_content_types_of_candidates_come_from_ready_documents_in_one_batch(
    project: Path, store: Store, settings: Settings
) -> None:
    (project / "tide.py").write_text("def tide(harbour):\n    return harbour.tide\n", encoding="utf-8")
    (project / "tide.md").write_text("# Tides\n\nThe harbour tide table.\n", encoding="utf-8")
    (project / "tide.csv").write_text("id,tide\n1,high\n", encoding="utf-8")
    ids = {d.name: d.id for d in load_document(store, settings, ".").documents}
    with store.write() as w:
        staging = documents_db.insert_staging(w, "late.txt", "/late.txt", "text", 1, "h", "me")
    missing = max(ids.values()) + 100
    found = documents_db.ready_content_types(store.conn(), [*ids.values(), ids["tide.py"], staging, missing])
    assert found == {ids["tide.py"]: "code", ids["tide.md"]: "markdown", ids["tide.csv"]: "csv"}
    assert documents_db.ready_content_types(store.conn(), []) == {}


def test_scoped_semantic_search_returns_k_hits_from_the_scope(search: Search, corpus: dict[str, str]) -> None:
    scope = [corpus["forest.txt"]]
    result = search("harbour ships anchor", "semantic", document_ids=scope, top_k=5)
    assert result.mode == "semantic" and len(result.hits) == 5
    assert {f"d{h.document_id}" for h in result.hits} == set(scope)
    unscoped = search("harbour ships anchor", "semantic", top_k=3)
    assert all(h.location.startswith("harbour.txt") for h in unscoped.hits)


def test_hybrid_fuses_both_lists_and_pages_through_them(search: Search, corpus: dict[str, str]) -> None:
    first = search("oven bread", "hybrid", top_k=4)
    assert first.mode == "hybrid" and len(first.hits) == 4 and first.note is None
    assert all(h.location.startswith("kitchen.txt") for h in first.hits)
    assert set(first.hits[0].ranks or {}) == {"bm25", "semantic"}
    second = search("oven bread", "hybrid", top_k=4, offset=4)
    assert not {h.chunk_id for h in first.hits} & {h.chunk_id for h in second.hits}
    data = first.to_json()["hits"][0]
    assert set(data["ranks"]) == {"bm25", "semantic"}
    assert "bm25 #" in first.to_text()


def test_hybrid_says_what_share_is_embedded_while_embeddings_are_incomplete(
    project: Path, store: Store, settings: Settings, search: Search, corpus: dict[str, str]
) -> None:
    (project / "more.txt").write_text("oven bread crust\n\nflour and water\n", encoding="utf-8")
    load_document(store, settings, "more.txt")
    result = search("oven bread", "hybrid", top_k=3)
    assert result.note is not None and "Embeddings cover" in result.note and "still waiting" in result.note


def test_without_vectors_semantic_and_hybrid_answer_with_bm25_and_say_why(
    project: Path, store: Store, settings: Settings, search: Search
) -> None:
    (project / "a.txt").write_text("the lighthouse keeper\n", encoding="utf-8")
    load_document(store, settings, "a.txt")
    for mode in ("semantic", "hybrid"):
        result = search("lighthouse", mode)
        assert result.mode == "bm25" and len(result.hits) == 1
        assert result.note and "BM25 only" in result.note and "1 chunks waiting" in result.note


def test_vectors_of_another_model_are_never_mixed_into_a_search(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    result = search_chunks(store, settings, "oven", "semantic", embedder=FakeEmbedder("other-model"))
    assert result.mode == "bm25" and result.note and "come from fake" in result.note


def test_hybrid_never_returns_chunks_of_a_document_still_loading(
    store: Store, search: Search, embedder: FakeEmbedder
) -> None:
    add_document(store, "/ready.txt", ["oven bread one", "oven bread two"])
    with store.write() as conn:  # a load under way: its chunks may already have vectors
        staging = conn.execute(
            "INSERT INTO documents (name, path, content_type, bytes, content_hash, state, loaded_at) "
            "VALUES ('s', '/s', 'text', 1, 'x', 'loading', 0) RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO chunks (document_id, ordinal, text, content_hash, start_line, end_line) "
            "VALUES (?, 0, 'oven bread oven bread', 'h-staging', 1, 1)",
            (staging,),
        )
    embedding_worker.embed_all(store, embedder)
    result = search("oven bread", "hybrid", top_k=5)
    assert len(result.hits) == 2 and staging not in {h.document_id for h in result.hits}


def test_load_answer_and_status_show_the_backlog(project: Path, store: Store, settings: Settings) -> None:
    (project / "a.txt").write_text("one\n\ntwo\n", encoding="utf-8")
    loaded = load_document(store, settings, "a.txt")
    assert loaded.to_json()["embeddings_waiting"] == loaded.embeddings_waiting >= 1
    assert "waiting, computed in the background" in loaded.to_text()
    report = status(store, settings).to_json()["vectors"]
    assert report["waiting"] == loaded.embeddings_waiting and report["vectors"] == 0
    assert report["model"] == DEFAULT_MODEL_ID and report["model_available"] is True


def test_rlm_mcp_embed_embeds_everything_in_the_foreground(
    project: Path, backend_env: dict[str, str]
) -> None:
    (project / "a.txt").write_text("The harbour at dawn.\n\nShips leave with the tide.\n", encoding="utf-8")
    env = project_env(project, **backend_env)
    run = [sys.executable, "-m", "rlm_mcp"]
    subprocess.run(
        [*run, "load", "a.txt"], cwd=project, env=env, check=True, capture_output=True, timeout=120
    )
    done = subprocess.run(
        [*run, "embed", "--json"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["chunks"] >= 1 and report["waiting"] == 0 and report["model"] == DEFAULT_MODEL_ID
    found = subprocess.run(
        [*run, "search", "boats leaving port", "--mode", "semantic", "--json"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(found.stdout)["hits"]


@pytest.mark.anyio
async def test_the_server_embeds_in_the_background_after_its_first_tool_call(
    project: Path, embedder: FakeEmbedder, backend_env: dict[str, str]
) -> None:
    import anyio

    settings = Settings(**{**_settings_fields(project, backend_env), "embed_in_background": True})
    state = Workspace(settings, embedder=embedder, background=True)
    (project / "a.txt").write_text("oven bread\n\nflour salt\n", encoding="utf-8")
    async with Client(create_server(workspace=state)) as client:
        await client.call_tool("load_document", {"path": "a.txt"})
        assert state.worker is not None
        drained = await anyio.to_thread.run_sync(state.worker.drained.wait, 10.0)
        answer = await client.call_tool("status", {"response_format": "json"})
        vectors = json.loads(answer.content[0].text)["vectors"]
        assert drained and vectors["waiting"] == 0 and vectors["vectors"] >= 1
        assert vectors["worker"] == "running" and vectors["embedded_by_this_process"] == vectors["vectors"]
        found = await client.call_tool("search_chunks", {"query": "bread", "response_format": "json"})
        assert "note" not in json.loads(found.content[0].text)
        worker = state.worker
    assert state.worker is None and not worker.running  # the lifespan stopped and joined it


def _settings_fields(project: Path, backend_env: dict[str, str]) -> dict[str, object]:
    from rlm_mcp.config import load_settings

    loaded = load_settings(project_env(project, **backend_env))
    return {name: getattr(loaded, name) for name in Settings.__dataclass_fields__}
