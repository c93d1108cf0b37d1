"""The shape every core result takes: the same data as text for a model, or as JSON for scripts.

Interfaces (MCP server, CLI) call a core function, get an `Answer`, and pick a rendering; they never
build text themselves. Text answers stay under ~8k tokens, carry ids inline and end with what to
call next.
"""

import json
from typing import Any, Literal, Protocol

ResponseFormat = Literal["text", "json"]
MAX_ANSWER_CHARS = 30_000  # ~7.5k tokens: Claude Code warns at 10k tokens and cuts at 25k


class Answer(Protocol):
    def to_json(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...


def render(answer: Answer, response_format: ResponseFormat = "text") -> str:
    if response_format == "json":
        return json.dumps(answer.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)
    return answer.to_text()


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > limit // 2 else limit - 1] + "…"
