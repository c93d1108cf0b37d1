"""The shape every core result takes: the same data as text for a model, or as JSON for scripts.

Interfaces (MCP server, CLI) call a core function, get an `Answer`, and pick a rendering; they never
build text themselves. Text answers stay under ~8k tokens, carry ids inline and end with what to
call next.
"""

import decimal
import json
import math
from typing import Any, Literal, Protocol

ResponseFormat = Literal["text", "json"]
MAX_ANSWER_CHARS = 30_000  # ~7.5k tokens: Claude Code warns at 10k tokens and cuts at 25k


class Answer(Protocol):
    def to_json(self) -> dict[str, Any]: ...

    def to_text(self) -> str: ...


def render(answer: Answer, response_format: ResponseFormat = "text") -> str:
    """JSON whole (for scripts); text held to MAX_ANSWER_CHARS, the one place that limit is enforced."""
    if response_format == "json":
        return json.dumps(answer.to_json(), ensure_ascii=False, separators=(",", ":"), default=str)
    return fit_answer(answer.to_text())


def fit_answer(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """Trigger: a text answer longer than `limit` (answers page themselves; this is the safety net).
    Why: Claude Code warns past 10k tokens and cuts past 25k, losing the end, where 'Next:' is.
    Outcome: whole lines up to the limit, a note saying it was cut, and the closing 'Next:' line kept."""
    if len(text) <= limit:
        return text
    last = text.rstrip().rpartition("\n")[2]
    tail = last if last.startswith("Next:") else ""
    note = f"[… answer cut at {limit:,} characters: ask for less, or the next page with offset]"
    room = limit - len(note) - len(tail) - 2
    head = text[:room].rpartition("\n")[0] or text[:room]
    return "\n".join(part for part in (head, note, tail) if part)


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit - 1)
    return flat[: cut if cut > limit // 2 else limit - 1] + "…"


def exact_number(value: Any) -> str:
    """A number as a model should quote it: integers whole, decimals with every digit they have and
    no exponent (`2432188.16`, never `2.43219e+06`); anything else as its text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        value = decimal.Decimal(repr(value))  # repr: the shortest digits that read back the same float
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        text = format(value, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    return str(value)
