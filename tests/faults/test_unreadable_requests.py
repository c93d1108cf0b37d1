"""Lines the SDK cannot read, sent as raw bytes to a real `rlm-mcp serve` over stdio: each gets a
JSON-RPC error (with the request's id when the line still shows it), and the server keeps serving."""

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from rlm_mcp.server.stdio import recover_id

from ..conftest import project_env

ANSWER_SECONDS = 60.0
HELLO = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}
DEEP = 250


def _request(request_id: object, method: str, params: str) -> bytes:
    return (
        f'{{"jsonrpc":"2.0","id":{json.dumps(request_id)},"method":"{method}","params":{params}}}\n'
    ).encode()


# (what is wrong, the raw line, the id the answer carries, the JSON-RPC error code)
UNREADABLE: list[tuple[str, bytes, object, int]] = [
    (
        "lone surrogate",
        _request(11, "tools/call", r'{"name":"search_chunks","arguments":{"query":"\ud800"}}'),
        11,
        -32700,
    ),
    (
        "lone low surrogate, string id",
        _request("q-12", "tools/call", r'{"name":"search_chunks","arguments":{"query":"a\udc00b"}}'),
        "q-12",
        -32700,
    ),
    ("nesting 250", _request(13, "tools/list", '{"x":' + "[" * DEEP + "]" * DEEP + "}"), 13, -32700),
    (
        "nesting 100,000, never closed",
        b'{"jsonrpc":"2.0","id":14,"method":"tools/list","params":{"x":' + b"[" * 100_000 + b"\n",
        14,
        -32700,
    ),
    ("cut off after the id", b'{"jsonrpc":"2.0","id":15,"method":"tools/li\n', 15, -32700),
    ("not JSON at all", b"hello there\n", None, -32700),
    ("an id nested only", b'{"params":{"id":16},"method":\n', None, -32700),
    ("JSON, not JSON-RPC", b'{"jsonrpc":"2.0","id":17,"method":5}\n', 17, -32600),
    ("a list", b"[1, 2, 3]\n", None, -32600),
    (
        "invalid UTF-8 bytes inside a string",
        b'{"jsonrpc":"2.0","id":18,"method":"tools/list","params":{"_meta":{"note":"\xff\xfe"}}}\n',
        18,
        None,
    ),
]


def _lines(stream: IO[bytes], into: "queue.Queue[dict[str, Any]]") -> None:
    for line in stream:
        into.put(json.loads(line))


class _Server:
    def __init__(self, project: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rlm_mcp", "serve"],
            cwd=project,
            env=project_env(project),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.answers: queue.Queue[dict[str, Any]] = queue.Queue()
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=_lines, args=(self.proc.stdout, self.answers), daemon=True)
        self.reader.start()

    def send(self, raw: bytes) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(raw)
        self.proc.stdin.flush()
        return self.answers.get(timeout=ANSWER_SECONDS)

    def call(self, request_id: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.send(_request(request_id, method, json.dumps(params)))

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        code = self.proc.wait(30)
        self.reader.join(30)
        log = self.proc.stderr.read().decode("utf-8", "replace")
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code, log


@pytest.fixture
def server(project: Path) -> Any:
    running = _Server(project)
    try:
        answer = running.call(1, "initialize", HELLO)
        assert answer["id"] == 1 and "result" in answer, answer
        assert running.proc.stdin is not None
        running.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        yield running
    finally:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()
        for stream in (running.proc.stdin, running.proc.stdout, running.proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.mark.slow
def test_every_unreadable_line_is_answered_and_the_server_keeps_serving(server: _Server) -> None:
    for what, raw, request_id, code in UNREADABLE:
        answer = server.send(raw)
        if code is None:  # the SDK reads invalid UTF-8 as U+FFFD: an ordinary request, answered
            assert answer["id"] == request_id and ("result" in answer or "error" in answer), (what, answer)
            continue
        assert answer.get("id", "missing") == request_id, (what, answer)
        assert answer["error"]["code"] == code, (what, answer)
        message = answer["error"]["message"]
        assert "not run" in message, (what, message)
        for internal in ("Traceback", "ValidationError", "pydantic", "jsonrpc_message_adapter"):
            assert internal not in message, (what, message)
        if "surrogate" in what:
            assert "lone surrogate" in message, message
        if "nesting" in what:
            assert "200 levels" in message, message
        listed = server.call(100, "tools/list", {})  # still serving, in order
        assert listed["id"] == 100 and len(listed["result"]["tools"]) >= 13, (what, listed)
    status = server.call(101, "tools/call", {"name": "status", "arguments": {}})
    assert status["id"] == 101 and not status["result"].get("isError"), status
    code, log = server.close()
    assert code == 0, log[-2000:]
    assert "Traceback" not in log, log[-2000:]


@pytest.mark.slow
def test_a_broken_response_from_the_client_gets_no_reply(server: _Server) -> None:
    assert server.proc.stdin is not None
    server.proc.stdin.write(b'{"jsonrpc":"2.0","id":7,"result":' + b"[" * 300 + b"]" * 300 + b"}\n")
    server.proc.stdin.write(b'{"jsonrpc":"2.0","id":8,"result":5,"error":"x"}\n')
    listed = server.call(9, "tools/list", {})
    assert listed["id"] == 9 and "result" in listed, listed  # the next answer is this one: no reply before
    assert server.close()[0] == 0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"jsonrpc":"2.0","id":3,"method":"x"}', 3),
        ('{"id":"a\\"b","method":"x"', 'a"b'),
        ('{"method":"x","params":{"id":9,"deep":[[[{"id":8}]]]},"id":4,', 4),
        ('{"params":' + "[" * 50_000 + "]" * 50_000 + ',"id":5}', 5),
        ('{"id":true}', None),
        ('{"id":1.5}', None),
        ('{"id":null,"method":"x"}', None),
        ('["id", 3]', None),
        ('{"params":{"id":9}', None),
        ("", None),
    ],
)
def test_the_id_is_recovered_only_from_the_top_level_object(line: str, expected: object) -> None:
    assert recover_id(line) == expected
