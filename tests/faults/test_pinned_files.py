"""A load reads one descriptor (issue 13, item 6): a path swapped for a symlink out of the root while
it is loaded never stores the outside file, and a file that grows during its load is stored with the
size and hash of exactly the bytes its chunks hold (and its columnar copy holds those lines too)."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_mcp import data
from rlm_mcp.config import Settings
from rlm_mcp.errors import RlmError
from rlm_mcp.loading import open_allowed
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import Store
from rlm_mcp.store import documents as db

LOADS = 160
INSIDE = "".join(f"inside line {i}: the harbour master logged a ship at dawn\n" for i in range(300))
OUTSIDE = "".join(f"OUTSIDE SECRET {i}: a file the load must never store\n" for i in range(300))


SWAPPER = """
import os, sys
from pathlib import Path
path, target, stop, inside = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
spare = path.with_name(".swap")
swaps = 0
while not stop.exists():
    if os.path.lexists(spare):
        spare.unlink()
    if swaps % 2:
        spare.symlink_to(target)
    else:
        spare.write_text(f"version {swaps}\\n" + inside, encoding="utf-8")  # no load of it is a no-op
    os.replace(spare, path)
    swaps += 1
print(swaps)
"""


class _Swapper:
    """Another process swapping `path` between a real file and a symlink to `target`, atomically
    (rename), as fast as it can (a process of its own: a thread would wait for the GIL)."""

    def __init__(self, path: Path, target: Path) -> None:
        self._stop = path.with_name(".stop-swapping")
        command = [sys.executable, "-c", SWAPPER, str(path), str(target), str(self._stop), INSIDE]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.swaps = 0

    def finish(self) -> None:
        self._stop.touch()
        out, _ = self._process.communicate(timeout=30)
        self.swaps = int(out.strip() or 0)


def _stored_texts(store: Store) -> list[str]:
    conn = store.conn()
    return [r[0] for r in conn.execute("SELECT text FROM chunks")] + [
        r[0] for r in conn.execute("SELECT text FROM chunks_fts")
    ]


def test_a_path_swapped_for_a_symlink_out_of_the_root_never_stores_the_outside_file(
    tmp_path: Path, project: Path, settings: Settings, store: Store
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.log"
    secret.write_text(OUTSIDE, encoding="utf-8")
    path = project / "notes.log"
    path.write_text(INSIDE, encoding="utf-8")
    swapper = _Swapper(path, secret)
    copy = data.open_copy(settings, store)
    loaded = refused = 0
    try:
        for _ in range(LOADS):
            try:
                result = load_document(store, settings, "notes.log")
            except RlmError:
                refused += 1  # outside the roots (the check saw the link), or replaced under the open
                continue
            loaded += 1
            (doc,) = result.documents
            assert doc.path == str(path)
            texts = _stored_texts(store)
            assert not [t for t in texts if "OUTSIDE" in t], f"load {loaded + refused}: outside text stored"
            if doc.status != "unchanged":  # the columnar copy read the file too
                sql = f"SELECT count(*) FROM d{doc.id}_lines WHERE text LIKE '%OUTSIDE%'"
                assert [list(r) for r in data.query(copy, sql).rows] == [[0]], f"load {loaded + refused}"
    finally:
        swapper.finish()
    assert swapper.swaps >= 20  # the path really was swapped under the loads (fewer on a busy machine)
    assert loaded > 0 and refused > 0, (loaded, refused)  # both sides of the race were hit


def test_a_file_growing_during_its_load_is_stored_with_the_size_and_hash_of_its_chunks(
    project: Path, settings: Settings, store: Store
) -> None:
    path = project / "growing.log"
    path.write_text(
        "".join(f"{i:07d} first part of the log, written before the load\n" for i in range(60_000))
    )
    appended = [0]

    def grow(done: float, total: float, message: str) -> None:
        """Progress comes while the chunks are read: the file grows right then, under the load."""
        with path.open("a", encoding="utf-8") as out:
            for _ in range(2000):
                out.write(f"{appended[0]:07d} appended while the load runs\n")
                appended[0] += 1

    (doc,) = load_document(store, settings, "growing.log", progress=grow).documents
    final = path.read_bytes()
    assert appended[0] > 0 and len(final) > doc.bytes, "the file did not grow during the load"
    stored = db.find_ready(store.conn(), str(path))
    assert stored is not None and stored.bytes == doc.bytes
    assert stored.content_hash == hashlib.sha256(final[: doc.bytes]).hexdigest()
    texts = [
        r[0]
        for r in store.conn().execute(
            "SELECT text FROM chunks WHERE document_id = ? ORDER BY ordinal", (doc.id,)
        )
    ]
    assert "".join(texts) == final[: doc.bytes].decode("utf-8")
    copy = data.open_copy(settings, store)
    counted = data.query(copy, f"SELECT count(*) FROM d{doc.id}_lines").rows[0][0]
    assert counted == final[: doc.bytes].count(b"\n") + (0 if final[: doc.bytes].endswith(b"\n") else 1)


def test_a_fifo_or_a_symlinked_folder_is_refused_at_the_open(
    tmp_path: Path, project: Path, settings: Settings
) -> None:
    fifo = project / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(RlmError, match="not a regular file"):
        open_allowed(settings, fifo)  # O_NONBLOCK: refused at once, never blocking on a writer
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.txt").write_text("outside\n")
    folder = project / "sub"
    folder.mkdir()
    (folder / "a.txt").write_text("inside\n")
    selected = folder / "a.txt"
    folder.rename(project / "sub.real")
    folder.symlink_to(outside)  # a folder of the checked path became a link after the check
    with pytest.raises(RlmError, match="symlink"):
        open_allowed(settings, selected)
