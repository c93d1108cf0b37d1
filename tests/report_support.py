"""Jobs driven through the core API by a scripted analyst, for the report tests; and a headless
chromium driven over the DevTools protocol on a pipe (no port, no websocket client needed)."""

import fcntl
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from rlm_mcp.config import Settings
from rlm_mcp.jobs import claiming, create_job
from rlm_mcp.store import Store
from rlm_mcp.store import tasks as tasks_db

from .jobs_support import add_document

XSS_CHUNK = (
    'Alert: <script>window.__pwned = 1; document.title = "pwned"</script> then </textarea></script>'
    '<img src=x onerror="window.__pwned=2"> and <a href="javascript:window.__pwned=3">click</a> end'
)
XSS_QUOTE = '<script>window.__pwned = 1; document.title = "pwned"</script>'


def drive_job(store: Store, settings: Settings, texts: list[str], quote_words: int = 4, fail_every: int = 0,
              worker_count: int = 3, unverified_every: int = 0,
              threads: int = 1) -> dict[str, Any]:  # fmt: skip
    """A document of `texts`, a job over it, and scripted analysts that each quote the first words of
    every chunk they get; every `fail_every`-th task fails (its attempts spent). Returns the ids.
    With `threads` > 1 that many analysts claim and submit at once (as a team does on Postgres)."""
    doc_id, chunk_ids = add_document(store, "notes.txt", texts)
    plan = create_job(store, settings, "What do the notes say?", [f"d{doc_id}"], task_tokens=500)
    drive = _Drive(store, plan.job_id, quote_words, fail_every, unverified_every)
    if threads == 1:
        drive.run([f"analyst-{n}" for n in range(worker_count)])
    else:
        team = [threading.Thread(target=drive.run, args=([f"analyst-{n}"],)) for n in range(threads)]
        for member in team:
            member.start()
        for member in team:
            member.join()
        assert not drive.errors, drive.errors
    return {"job_id": plan.job_id, "doc_id": doc_id, "chunk_ids": chunk_ids, "done": drive.done,
            "failed": drive.failed, "findings": drive.findings}  # fmt: skip


@dataclass
class _Drive:
    """The scripted analysts' shared tally: claims are numbered in the order they are answered."""

    store: Store
    job_id: int
    quote_words: int
    fail_every: int
    unverified_every: int
    claims: int = 0
    done: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, workers: list[str]) -> None:
        try:
            while self.step(workers[self.claims % len(workers)]):
                pass
        except BaseException as error:  # a thread's failure fails the test, in drive_job
            self.errors.append(error)

    def step(self, worker: str) -> bool:
        claim = claiming.claim_task(self.store, self.job_id, worker)
        if claim.task_id is None:
            return False
        with self.lock:
            self.claims += 1
            n = self.claims
        if self.fail_every and n % self.fail_every == 0:
            with self.store.write() as conn:
                tasks_db.mark_failed(conn, claim.task_id, "the analyst gave up: chunk unreadable")
            with self.lock:
                self.failed.append(claim.task_id)
            return True
        out = []
        for i, chunk in enumerate(claim.chunks):
            bad = self.unverified_every and (n + i) % self.unverified_every == 0
            quote = "this sentence is not there" if bad else " ".join(chunk.text.split()[: self.quote_words])
            out.append({"title": f"Note {chunk.chunk_id}", "detail": "what the chunk says",
                        "evidence": quote, "chunk_id": f"c{chunk.chunk_id}", "tags": ["notes"]})  # fmt: skip
        claiming.submit_findings(self.store, claim.task_id, worker, out, summary="ok", relevance="high",
                                 counts={"kind": {"note": len(claim.chunks)}})  # fmt: skip
        with self.lock:
            self.done.append(claim.task_id)
            self.findings += out
        return True


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Page:
    """One page in a headless chromium, driven over --remote-debugging-pipe (fds 3 and 4)."""

    process: subprocess.Popen[bytes]
    to_browser: Any
    from_browser: Any
    session: str = ""
    next_id: int = 0
    events: list[dict[str, Any]] | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        self.to_browser.write(json.dumps(message).encode() + b"\0")
        self.to_browser.flush()
        return self._wait(lambda m: m.get("id") == self.next_id)

    def _read(self) -> dict[str, Any]:
        buf = b""
        while not buf.endswith(b"\0"):
            byte = self.from_browser.read(1)
            if not byte:
                raise RuntimeError("chromium closed the pipe")
            buf += byte
        return dict(json.loads(buf[:-1]))

    def _wait(self, match: Any) -> dict[str, Any]:
        while True:
            message = self._read()
            if match(message):
                if "error" in message:
                    raise RuntimeError(message["error"])
                return dict(message.get("result", message.get("params", {})))
            if "method" in message and self.events is not None:
                self.events.append(message)

    def wait_event(self, method: str) -> dict[str, Any]:
        for i, e in enumerate(self.events or []):
            if e["method"] == method:
                return dict((self.events or []).pop(i)["params"])
        return self._wait(lambda m: m.get("method") == method)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")


def _pipe_fds(reader: int, writer: int) -> None:
    """In the child: the pipe ends on fds 3 and 4, inheritable (all other descriptors are close-on-exec)."""
    high_r, high_w = fcntl.fcntl(reader, fcntl.F_DUPFD, 10), fcntl.fcntl(writer, fcntl.F_DUPFD, 10)
    os.dup2(high_r, 3)
    os.dup2(high_w, 4)


@contextmanager
def open_page(url: str, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """Chromium with a fresh profile, one tab on `url`, loaded; console and exceptions recorded."""
    binary = chromium_binary()
    assert binary is not None
    profile = tempfile.mkdtemp(prefix="rlm-chromium-")
    r_in, w_in = os.pipe()  # we write, chromium reads on fd 3
    r_out, w_out = os.pipe()  # chromium writes on fd 4
    process = subprocess.Popen(
        [binary, "--headless", "--disable-gpu", "--no-sandbox", "--remote-debugging-pipe",
         f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions", "--mute-audio",
         f"--window-size={width},{height}", "about:blank"],
        close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _pipe_fds(r_in, w_out),
    )  # fmt: skip
    os.close(r_in)
    os.close(w_out)
    page = Page(process, os.fdopen(w_in, "wb"), os.fdopen(r_out, "rb"), events=[])
    try:
        target = page.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        page.session = page.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
        page.send("Page.navigate", {"url": url})
        page.wait_event("Page.loadEventFired")
        yield page
    finally:
        with suppress(RuntimeError, OSError):
            page.send("Browser.close", session=False)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        page.to_browser.close()
        page.from_browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(page: Page) -> list[dict[str, Any]]:
    """Console errors, uncaught exceptions and log entries of level error seen so far."""
    bad = []
    for e in page.events or []:
        p = e.get("params", {})
        thrown = e["method"] == "Runtime.exceptionThrown"
        console = e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert")
        logged = e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error"
        if thrown or console or logged:
            bad.append(p)
    return bad


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of raw pixel bytes) of an 8-bit RGB or RGBA PNG, unfiltered (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    at, idat, header = 8, b"", b""
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * bpp, []
    prev = bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line) if bpp == 3 else bytes(v for j, v in enumerate(line) if j % 4 != 3))
        prev = line
    return width, height, rows


def ink_share(png: bytes) -> float:
    """Share of pixels that differ from the most common colour (the background)."""
    width, height, rows = png_pixels(png)
    pixels = Counter(row[i : i + 3] for row in rows for i in range(0, len(row), 3))
    background = pixels.most_common(1)[0][1]
    return 1 - background / (width * height)
