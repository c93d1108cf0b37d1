"""Rendering answers: text held to MAX_ANSWER_CHARS in `render`, the one place the limit is kept."""

import json
from dataclasses import dataclass
from typing import Any

from rlm_mcp.answers import MAX_ANSWER_CHARS, render


@dataclass
class Long:
    lines: int

    def to_json(self) -> dict[str, Any]:
        return {"lines": [f"line {i}" for i in range(self.lines)]}

    def to_text(self) -> str:
        body = [f"line {i}: " + "x" * 90 for i in range(self.lines)]
        return "\n".join([*body, "Next: get_chunk(chunk_id) for one hit in full."])


def test_a_text_answer_over_the_limit_is_cut_at_a_line_and_keeps_its_next_step() -> None:
    text = render(Long(1000))  # ~100k characters
    lines = text.splitlines()
    assert len(text) <= MAX_ANSWER_CHARS
    assert lines[-1] == "Next: get_chunk(chunk_id) for one hit in full."
    assert lines[-2].startswith("[… answer cut at 30,000 characters")
    kept = lines[:-2]
    assert kept == [f"line {i}: " + "x" * 90 for i in range(len(kept))] and len(kept) > 250


def test_an_answer_under_the_limit_and_json_are_left_whole() -> None:
    short = Long(10)
    assert render(short) == short.to_text()
    assert json.loads(render(Long(1000), "json")) == Long(1000).to_json()
