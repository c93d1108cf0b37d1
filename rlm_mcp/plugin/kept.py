"""Tool results too large for Claude Code's context, kept in the store instead of cut to a preview.

The plugin's PostToolUse hook (hooks/rlm_hook.py) hands an oversized result here (`rlm-mcp hook keep`):
its text is written under `.rlm/kept/`, loaded as a document, and the hook answers Claude Code with
`hookSpecificOutput.updatedToolOutput`: a short preview plus the document and chunk ids to search or
read. The replacement keeps the result's shape (a string, a list of content blocks, an object with
`content` or `stdout`), so Claude Code accepts it; anything else passes through untouched.
"""

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..ids import format_id
from ..loading.loader import load_document
from ..store import Store
from ..store import documents as documents_db

DEFAULT_KEEP_CHARS = 50_000  # Claude Code persists results over ~25k tokens / 50k characters to a file
PREVIEW_CHARS = 1500
OWN_TOOLS = ("mcp__rlm__", "mcp__plugin_rlm_rlm__")  # rlm's own answers are sized to fit already
KEPT_DIRNAME = "kept"

Rebuild = Callable[[str], Any]


def _blocks_text(blocks: list[Any]) -> str | None:
    texts = [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]
    if not texts or len(texts) != len(blocks):
        return None  # images or other blocks: not ours to replace
    return "\n".join(str(t) for t in texts)


def result_text(response: Any) -> tuple[str, Rebuild] | None:
    """The text of a tool result, and how to build a replacement of the same shape."""
    if isinstance(response, str):
        return response, lambda text: text
    if isinstance(response, list):
        joined = _blocks_text(response)
        return (joined, lambda text: [{"type": "text", "text": text}]) if joined is not None else None
    if isinstance(response, dict):
        content = response.get("content")
        if isinstance(content, list) and (joined := _blocks_text(content)) is not None:
            return joined, lambda text: {**response, "content": [{"type": "text", "text": text}]}
        if isinstance(response.get("stdout"), str):
            return response["stdout"], lambda text: {**response, "stdout": text}
        if isinstance(response.get("result"), str):
            return response["result"], lambda text: {**response, "result": text}
    return None


@dataclass(frozen=True, slots=True)
class Kept:
    tool: str
    chars: int
    document_id: int
    chunks: int
    first_chunk: int | None
    last_chunk: int | None
    preview: str

    def message(self) -> str:
        doc = format_id("d", self.document_id)
        span = (
            f", {format_id('c', self.first_chunk)}–{format_id('c', self.last_chunk)}"
            if self.first_chunk is not None and self.last_chunk is not None
            else ""
        )
        first = format_id("c", self.first_chunk) if self.first_chunk is not None else "c1"
        return (
            f"[rlm] This {self.tool} result was {self.chars:,} characters, more than the context keeps. "
            f"It is stored in full as document {doc} ({self.chunks} chunks{span}) in the rlm store. "
            f"Search it with search_chunks(query, document_ids=[{doc!r}]), read a part with "
            f"get_chunk({first!r}), or count exactly with query_data. The first "
            f"{len(self.preview):,} characters:\n{self.preview}"
        )


def _kept_file(settings: Settings, tool: str, text: str) -> tuple[str, str]:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", tool)[:60] or "tool"
    try:
        json.loads(text)
        suffix = ".json"
    except ValueError:
        suffix = ".txt"
    folder = settings.db_path.parent / KEPT_DIRNAME
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-{digest}{suffix}"
    path.write_text(text, encoding="utf-8")
    return str(path), f"{tool} output {time.strftime('%Y-%m-%d %H:%M:%S')}"


def keep_result(store: Store, settings: Settings, event: dict[str, Any], limit: int) -> dict[str, Any] | None:
    """The hook's answer for an oversized result, or None to let the result pass through."""
    tool = str(event.get("tool_name") or "tool")
    if tool.startswith(OWN_TOOLS):
        return None
    found = result_text(event.get("tool_response"))
    if found is None or len(found[0]) <= limit:
        return None
    text, rebuild = found
    store.conn()  # the store first: it creates its folder (private, git-ignored) before the kept file
    path, name = _kept_file(settings, tool, text)
    loaded = load_document(store, settings, path, name=name).documents
    if len(loaded) != 1:
        return None
    doc = loaded[0]
    with store.read() as conn:
        first, last = documents_db.chunk_range(conn, doc.id)
    kept = Kept(tool, len(text), doc.id, doc.chunks, first, last, text[:PREVIEW_CHARS])
    return {
        "hookSpecificOutput": {"hookEventName": "PostToolUse", "updatedToolOutput": rebuild(kept.message())}
    }
