"""The stdio transport: the SDK's own, plus an answer to every line it cannot read.

The SDK's stdin reader parses each line; a line it cannot parse (a lone surrogate such as `\\ud800`,
nesting of 200 levels or more, invalid JSON, JSON that is not JSON-RPC) becomes a `ValidationError`
in the read stream, which the session only logs: the caller gets no answer and waits for its own
timeout. `answering_stdio` relays the SDK's read stream and answers such a line on the write stream
with a JSON-RPC error: -32700 (parse error) or -32600 (invalid request), carrying the request's id
when it can be recovered from the line (else `null`, as JSON-RPC says), and serving goes on. The
SDK keeps everything else: its claim of fds 0 and 1, its reader and writer.
"""

import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

log = logging.getLogger("rlm_mcp.server")

RequestId = int | str
# One JSON token: a whole string (escapes included), a structural character, or a bare word/number.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],:]|[^\s{}\[\],:"]+')
_REASONS = (  # what the SDK's JSON parser says → what the caller can change
    ("hex escape", "a string holds a lone surrogate (such as \\ud800 without its pair)"),
    ("surrogate", "a string holds a lone surrogate (such as \\ud800 without its pair)"),
    ("recursion limit", "it is nested 200 levels deep or more"),
)


@asynccontextmanager
async def answering_stdio() -> AsyncIterator[tuple[ObjectReceiveStream[SessionMessage | Exception], Any]]:
    """The SDK's `stdio_server()` streams, with unreadable lines answered instead of dropped."""
    async with stdio_server() as (sdk_read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        async with anyio.create_task_group() as group:
            group.start_soon(_relay, sdk_read, send, write)
            try:
                yield receive, write
            finally:
                group.cancel_scope.cancel()


async def _relay(source: Any, into: ObjectSendStream[SessionMessage | Exception], replies: Any) -> None:
    """Forward every message; answer every line the SDK could not read (and forward nothing)."""
    async with into:
        async for item in source:
            if not isinstance(item, ValidationError):
                await into.send(item)
                continue
            answer = rejection(item)
            if answer is None:
                log.warning("ignored an unreadable message that looks like a response")
                continue
            log.warning("answered an unreadable request (id %r): %s", answer.id, answer.error.message)
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await replies.send(SessionMessage(answer))


def rejection(error: ValidationError) -> JSONRPCError | None:
    """The JSON-RPC error answering a line the SDK rejected, or None for a broken response (a reply
    to a reply would confuse the client)."""
    problems = error.errors(include_url=False)
    unparsed = next((p for p in problems if p.get("type") == "json_invalid"), None)
    if unparsed is not None:
        line = unparsed.get("input")
        said = str((unparsed.get("ctx") or {}).get("error", ""))
        reason = next((r for marker, r in _REASONS if marker in said), f"it is not valid JSON ({said})")
        message = (
            f"Parse error: {reason}. The request was not run; send it again as valid JSON in UTF-8, "
            "with no lone surrogates and nested fewer than 200 levels."
        )
        request_id, keys = _peek(line) if isinstance(line, str) else (None, set())
        return None if _is_response(keys) else _error(request_id, PARSE_ERROR, message)
    parsed = _whole_message(problems)
    if parsed is not None and _is_response(set(parsed)):
        return None
    message = (
        "Invalid Request: the message is JSON but not a JSON-RPC 2.0 request the server can read (it "
        'needs "jsonrpc": "2.0", a string "method", an object "params" if any, and an integer or '
        'string "id"). The request was not run.'
    )
    return _error(_valid_id(parsed.get("id")) if parsed else None, INVALID_REQUEST, message)


def _is_response(keys: set[str]) -> bool:
    return "method" not in keys and bool(keys & {"result", "error"})


def _error(request_id: RequestId | None, code: int, message: str) -> JSONRPCError:
    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _whole_message(problems: list[Any]) -> dict[str, Any] | None:
    """The parsed message itself, from the problems pydantic reports at its top level."""
    for problem in problems:
        found = problem.get("input")
        if (
            isinstance(found, dict)
            and len(problem.get("loc", ())) <= 2
            and ("method" in found or "id" in found)
        ):
            return found
    return None


def _valid_id(value: object) -> RequestId | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return value


def recover_id(line: str) -> RequestId | None:
    """The top-level "id" of a line that may be invalid JSON, too deep, or cut off after the id."""
    return _peek(line)[0]


def _peek(line: str) -> tuple[RequestId | None, set[str]]:
    """(the top-level id, the top-level member names seen) of a line, however broken it is."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):
        return _scan(line)
    if not isinstance(message, dict):
        return None, set()
    return _valid_id(message.get("id")), set(message)


def _scan(line: str) -> tuple[RequestId | None, set[str]]:
    """A shallow scan of the top-level object's members: nested values are skipped by depth, so
    depth costs nothing, and whatever breaks the line stops the scan only where it is."""
    depth = 0
    key: object = None
    keys: set[str] = set()
    found: RequestId | None = None
    expect_key = after_colon = False
    for match in _TOKEN.finditer(line):
        token = match.group()
        if token in ("{", "["):
            if depth == 0 and token != "{":
                break
            depth += 1
            expect_key, after_colon = depth == 1, False
        elif token in ("}", "]"):
            depth -= 1
            if depth <= 0:
                break
        elif depth == 0:
            break
        elif depth > 1:
            continue
        elif token == ",":
            expect_key, after_colon, key = True, False, None
        elif token == ":":
            after_colon = True
        elif expect_key:
            key, expect_key = _decode(token), False
            if isinstance(key, str):
                keys.add(key)
        elif after_colon:
            if key == "id" and found is None:
                found = _valid_id(_decode(token))
            after_colon = False
    return found, keys


def _decode(token: str) -> object:
    try:
        return json.loads(token)
    except (ValueError, RecursionError):
        return None
