"""Prose chunking loses no text: every character of a paragraph, however long and however its
sentences end, is in exactly one chunk, in order; only whitespace at a chunk's edges may differ."""

import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_mcp.chunking.base import MAX_CHARS, Chunk
from rlm_mcp.chunking.prose import ProseChunker

WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa")
# A full stop (or ! ?) with the quote or bracket that closes the sentence: straight, curly, nested.
ENDS = ('." ', ".' ", ".” ", ".’ ", '!" ', "?' ", ".\"' ", ".) ", ".] ", "… ", '." \n', ".”\n", ". ")


def _paragraph(seed: int, size: int) -> str:
    rnd = random.Random(seed)
    out: list[str] = []
    while sum(map(len, out)) < size:
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(2, 14)))
        opening = rnd.choice(("", '"', "'", "“", "(")) if rnd.random() < 0.5 else ""
        out.append(opening + words.capitalize() + rnd.choice(ENDS))
    return "".join(out).strip()


def _chunks(text: str, content_type: str = "text") -> list[Chunk]:
    return list(ProseChunker(content_type).chunks(io.StringIO(text)))


def _assert_owned_in_order(source: str, chunks: list[Chunk]) -> None:
    """Each chunk's text is the next stretch of the source: found from where the previous one ended,
    with only whitespace between them, and the source's lines it starts and ends on are its own."""
    position = 0
    for chunk in chunks:
        owned = chunk.text.strip()
        found = source.find(owned, position)
        assert found >= 0, f"chunk text not in the source from {position}: {owned[:80]!r}…"
        assert source[position:found].strip() == "", f"lost before a chunk: {source[position:found]!r}"
        assert chunk.start_line == source.count("\n", 0, found) + 1
        assert chunk.end_line == source.count("\n", 0, found + len(owned)) + 1
        position = found + len(owned)
    assert source[position:].strip() == "", f"lost at the end: {source[position:]!r}"


@pytest.mark.parametrize("seed", range(6))
def test_a_long_paragraph_keeps_every_closing_quote_after_a_full_stop(seed: int) -> None:
    paragraph = _paragraph(seed, 3 * MAX_CHARS)
    assert len(paragraph) > MAX_CHARS and "\n\n" not in paragraph
    assert all(end.strip() in paragraph for end in ('."', ".'", ".”"))
    chunks = _chunks(paragraph)
    assert len(chunks) > 1  # the paragraph is split at its sentences
    assert all(len(c.text) <= MAX_CHARS + 1 for c in chunks)
    _assert_owned_in_order(paragraph, chunks)
    assert sum(c.text.count(q) for c in chunks for q in "\"'”’") == sum(paragraph.count(q) for q in "\"'”’")


def test_a_long_paragraph_between_others_keeps_its_text_and_lines() -> None:
    text = f"Title line\n\nA short one.\n\n{_paragraph(11, 2 * MAX_CHARS + 500)}\n\nThe end.\n"
    _assert_owned_in_order(text, _chunks(text))


SENTENCE = st.builds(
    lambda opening, words, end: opening + " ".join(words) + end,
    st.sampled_from(("", '"', "'", "“", "‘", "(", "[")),
    st.lists(st.sampled_from((*WORDS, "x" * 300, "CHAPTER I", "# Heading")), min_size=1, max_size=30),
    st.sampled_from((*ENDS, "\n\n", "\n \n", ".\n\n\n", "", " ", "\t")),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(SENTENCE, min_size=1, max_size=120), st.sampled_from(("text", "markdown")))
def test_prose_chunking_loses_no_text(sentences: list[str], content_type: str) -> None:
    source = "".join(sentences)
    chunks = _chunks(source, content_type)
    assert "".join("".join(c.text for c in chunks).split()) == "".join(source.split())
