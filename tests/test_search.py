"""search_chunks in bm25 and regex modes: ranking, scoping inside SQL, paging and hostile input."""

from pathlib import Path

import pytest

from rlm_mcp.config import Settings
from rlm_mcp.errors import InvalidInput, NotFound
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import fts_query, search_chunks
from rlm_mcp.search.results import WORD
from rlm_mcp.store import Store

pytestmark = pytest.mark.backends


@pytest.fixture
def corpus(project: Path, settings: Settings, store: Store) -> dict[str, str]:
    """Two documents: one about harbours with a single mention of a lighthouse, one all lighthouses."""
    (project / "harbour.txt").write_text(
        "\n\n".join(f"The harbour master logs ship {i} at dawn. " * 8 for i in range(40))
        + "\n\nOnce a lighthouse keeper visited.\n",
        encoding="utf-8",
    )
    (project / "light.txt").write_text(
        "\n\n".join(f"The lighthouse lamp {i} turns all night over the rocks. " * 8 for i in range(40)),
        encoding="utf-8",
    )
    docs = load_document(store, settings, ".").documents
    return {d.name: f"d{d.id}" for d in docs}


def test_bm25_ranks_the_chunk_with_the_words_first(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    result = search_chunks(store, settings, "harbour master", "bm25", top_k=3)
    assert len(result.hits) == 3
    assert all(h.location.startswith("harbour.txt:") for h in result.hits)
    assert result.hits[0].score >= result.hits[1].score >= result.hits[2].score
    assert "«" in result.hits[0].preview


def test_scoped_search_still_returns_k_hits_from_the_scope(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    result = search_chunks(store, settings, "lighthouse", "bm25", [corpus["harbour.txt"]], top_k=5)
    assert [h.document_id for h in result.hits] == [int(corpus["harbour.txt"][1:])]
    unscoped = search_chunks(store, settings, "lamp rocks", "bm25", [corpus["light.txt"]], top_k=5)
    assert len(unscoped.hits) == 5
    assert {h.document_id for h in unscoped.hits} == {int(corpus["light.txt"][1:])}


def test_paging_with_offset_returns_the_next_hits_without_overlap(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    first = search_chunks(store, settings, "lighthouse lamp", "bm25", top_k=4)
    second = search_chunks(store, settings, "lighthouse lamp", "bm25", top_k=4, offset=4)
    assert len(first.hits) == len(second.hits) == 4
    assert not {h.chunk_id for h in first.hits} & {h.chunk_id for h in second.hits}
    assert "offset=4" in first.to_text()


@pytest.mark.parametrize(
    ("query", "word"),
    [
        ('"unbalanced', None),
        ("NEAR(lamp b)", "lamp"),
        ("lamp*", "lamp"),
        ("-rocks", "rocks"),
        ("(((", None),
        ("col:lamp", "lamp"),
        ("^lamp", "lamp"),
        ("' OR 1=1 --", None),
    ],
)
def test_fts_operators_in_the_query_are_plain_words(
    store: Store, settings: Settings, corpus: dict[str, str], query: str, word: str | None
) -> None:
    """FTS5 syntax in user text never acts as syntax: the query finds what its words find."""
    result = search_chunks(store, settings, query, "bm25", top_k=50)
    plain = " ".join(WORD.findall(query))
    if plain:
        same = search_chunks(store, settings, plain, "bm25", top_k=50)
        assert [h.chunk_id for h in result.hits] == [h.chunk_id for h in same.hits]
        assert result.total == same.total
    else:
        assert result.hits == () and result.total == 0 and result.note
    if word is not None:  # only corpus word in the query: a direct count of the chunks holding it
        texts = [r[0] for r in store.conn().execute("SELECT text FROM chunks")]
        assert result.total == sum(word in {w.lower() for w in WORD.findall(t)} for t in texts)
        assert result.total > 0 and all(word in h.preview.lower() for h in result.hits)


def test_fts_query_quotes_every_word() -> None:
    assert fts_query('say "hi" NEAR(x) -y*') == '"say" OR "hi" OR "near" OR "x" OR "y"'
    assert fts_query("*** () --") is None


def test_query_without_words_answers_with_no_hits_and_a_note(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    result = search_chunks(store, settings, "*** ()", "bm25")
    assert result.hits == () and result.note


def test_regex_finds_matches_with_their_line(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    result = search_chunks(store, settings, r"lighthouse keeper \w+", "regex")
    assert result.total == 1
    (hit,) = result.hits
    assert "«lighthouse keeper visited»" in hit.preview
    assert hit.location.startswith("harbour.txt:")


def test_invalid_regex_is_a_clear_error(store: Store, settings: Settings, corpus: dict[str, str]) -> None:
    with pytest.raises(InvalidInput, match="Invalid regular expression"):
        search_chunks(store, settings, "(unclosed[", "regex")


def test_catastrophic_regex_stops_at_the_time_budget(project: Path, store: Store) -> None:
    from rlm_mcp.config import load_settings

    from .conftest import project_env

    fast = load_settings(project_env(project, RLM_REGEX_BUDGET="0.3"))
    (project / "a.txt").write_text(("a" * 40 + "!\n\n") * 5, encoding="utf-8")
    load_document(store, fast, "a.txt")
    result = search_chunks(store, fast, r"(a|aa)+$", "regex")
    assert result.note and "Stopped after" in result.note


@pytest.mark.parametrize(("top_k", "offset"), [(0, 0), (-1, 0), (5, -1)])
def test_out_of_range_paging_is_a_clear_error(
    store: Store, settings: Settings, corpus: dict[str, str], top_k: int, offset: int
) -> None:
    with pytest.raises(InvalidInput):
        search_chunks(store, settings, "lamp", "bm25", top_k=top_k, offset=offset)


def test_huge_top_k_is_capped_with_a_note(project: Path, store: Store, settings: Settings) -> None:
    (project / "many.txt").write_text(
        "\n\n".join(f"Lamp number {i}. " * 100 for i in range(80)), encoding="utf-8"
    )
    load_document(store, settings, "many.txt")
    result = search_chunks(store, settings, "lamp", "bm25", top_k=10_000)
    assert len(result.hits) == 50 and result.note and "capped" in result.note
    assert len(result.to_text()) < 30_000


def test_unknown_document_ids_are_named_in_the_error(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    with pytest.raises(NotFound, match="d999"):
        search_chunks(store, settings, "lamp", "bm25", ["d999"])
    with pytest.raises(InvalidInput, match="document id"):
        search_chunks(store, settings, "lamp", "bm25", ["x7"])


def test_unknown_mode_and_empty_query_are_clear_errors(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput, match="mode"):
        search_chunks(store, settings, "lamp", "fuzzy")
    with pytest.raises(InvalidInput, match="empty"):
        search_chunks(store, settings, "  ", "bm25")


def test_hybrid_and_semantic_answer_with_bm25_and_say_why_until_vectors_exist(
    store: Store, settings: Settings, corpus: dict[str, str]
) -> None:
    query = "lighthouse lamp at night"
    bm25 = search_chunks(store, settings, query, "bm25", top_k=3)
    waiting = store.conn().execute("SELECT count(*) FROM chunks").fetchone()[0]
    for mode in ("hybrid", "semantic"):
        result = search_chunks(store, settings, query, mode, top_k=3)
        assert result.mode == "bm25" and len(result.hits) == 3
        assert [h.chunk_id for h in result.hits] == [h.chunk_id for h in bm25.hits]
        assert result.note == (
            f"{mode} search answered with BM25 only: embeddings are still being computed ({waiting} chunks "
            "waiting); try again shortly, or run `rlm-mcp embed` to finish them now"
        )
