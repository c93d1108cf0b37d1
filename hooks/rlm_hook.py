#!/usr/bin/env python3
"""The rlm plugin's Claude Code hooks, standard library only so they start in a few milliseconds.

    rlm_hook.py read   PreToolUse on Read: a file over RLM_HOOK_READ_BYTES (default 256 KB) gets a
                       note suggesting the rlm store, with its size. Never blocks, never denies.
    rlm_hook.py keep   PostToolUse: a tool result over RLM_HOOK_KEEP_CHARS (default 50,000 characters,
                       about what Claude Code keeps before it persists a result to a file and shows
                       a 2 KB preview) is loaded into the store by `rlm-mcp hook keep`, which prints
                       the replacement (a short preview plus document and chunk ids). Smaller
                       results, RLM_HOOK_KEEP=0, or any failure: the result passes through untouched.

Claude Code sends the event as JSON on stdin; exit code 0 with no output leaves everything as it was.
"""

import json
import os
import sys

READ_BYTES = 256 * 1024
KEEP_CHARS = 50_000
KEEP_TIMEOUT = 50  # seconds; the hook's own timeout in hooks.json is 60


def _number(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def read_hint(event: dict) -> dict | None:
    limit = _number("RLM_HOOK_READ_BYTES", READ_BYTES)
    tool_input = event.get("tool_input") or {}
    path = tool_input.get("file_path")
    if limit <= 0 or not isinstance(path, str) or tool_input.get("limit"):
        return None  # off, or a ranged read the model chose on purpose
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    if size <= limit:
        return None
    note = (
        f"{path} is {_size(size)}, more than fits well in context. Consider the rlm store instead: "
        f"load_document(path={path!r}) then search_chunks / get_chunk by id, query_data for exact "
        "counts over tables, or /rlm:analyze for a question about the whole file."
    )
    return {"hookSpecificOutput": {"hookEventName": "PreToolUse", "additionalContext": note}}


def keep(raw: bytes) -> bytes | None:
    if os.environ.get("RLM_HOOK_KEEP", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    if len(raw) <= _number("RLM_HOOK_KEEP_CHARS", KEEP_CHARS):
        return None  # the whole event is smaller than the limit: its result certainly is
    import shlex  # imported here: the read hint must start fast, and it never needs these
    import shutil
    import subprocess

    command = shlex.split(os.environ.get("RLM_MCP_COMMAND", "")) or [shutil.which("rlm-mcp") or ""]
    if not command[0]:
        return None  # rlm-mcp is not installed here: nothing to keep the result in
    try:
        done = subprocess.run(
            [*command, "hook", "keep"],
            input=raw,
            capture_output=True,
            timeout=KEEP_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout.strip() else None


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else ""
    raw = sys.stdin.buffer.read()
    try:
        if mode == "read":
            answer = read_hint(json.loads(raw))
            if answer:
                sys.stdout.write(json.dumps(answer))
        elif mode == "keep":
            out = keep(raw)
            if out:
                sys.stdout.buffer.write(out)
    except Exception as error:  # a hook must never stop Claude Code's work
        print(f"rlm hook {mode}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
