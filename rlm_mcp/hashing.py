"""The one file hash: SHA-256 of a file read in 1 MiB blocks, with its size and first bytes; and a file
pinned for a load (`PinnedFile`): opened once, its length fixed at the open, read only through that
descriptor, so hash, chunks and columnar copy all come from the same bytes."""

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 20
PROC_FD = Path("/proc/self/fd")  # Linux: opening /proc/self/fd/N opens the descriptor's file itself


@dataclass(frozen=True, slots=True)
class FileDigest:
    sha256: str  # hex
    size: int
    head: bytes  # the first `head_bytes` bytes (for sniffing the content type, NUL bytes)


def hash_file(path: Path, head_bytes: int = 0) -> FileDigest:
    """Read `path` once: its SHA-256, its size, and its first `head_bytes` bytes."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            if not size:
                head = block[:head_bytes]
            digest.update(block)
            size += len(block)
    return FileDigest(digest.hexdigest(), size, head)


class PinnedFile:
    """A regular file opened once (the caller checked where: see loading.files.open_allowed).

    `size` is the length at the open: every reader stops there, so a file that grows while it is
    loaded is stored as it was when the load began, with a size and hash that match its chunks.
    Readers use positioned reads (`pread`), so several threads read the one descriptor at once.
    """

    def __init__(self, fd: int, path: Path) -> None:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path} is not a regular file")
        self.fd = fd
        self.path = path
        self.size = info.st_size
        self._mtime_ns = info.st_mtime_ns

    def __str__(self) -> str:
        return str(self.path)

    def open_binary(self, digest: "hashlib._Hash | None" = None) -> io.BufferedReader:
        """A new reader of the first `size` bytes; `digest`, if given, is updated with every byte read."""
        return io.BufferedReader(_Slice(self.fd, self.size, digest), BLOCK)

    def digest(self, head_bytes: int = 0) -> FileDigest:
        """SHA-256, size and first bytes of the pinned bytes."""
        digest = hashlib.sha256()
        head = b""
        with self.open_binary(digest) as handle:
            head = handle.read(head_bytes) if head_bytes else b""
            while handle.read(BLOCK):
                pass
        return FileDigest(digest.hexdigest(), self.size, head)

    @property
    def duckdb_path(self) -> Path | None:
        """A path that opens this very file (not whatever its name points at now), for readers that
        need a path (DuckDB); None where the system has none, and callers read through Python."""
        candidate = PROC_FD / str(self.fd)
        return candidate if PROC_FD.is_dir() else None

    def unchanged(self) -> bool:
        """The file still has the size and modification time it had at the open: a reader that read
        it whole (DuckDB through `duckdb_path`) read exactly the pinned bytes."""
        info = os.fstat(self.fd)
        return info.st_size == self.size and info.st_mtime_ns == self._mtime_ns

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Slice(io.RawIOBase):
    """Bytes [0, size) of a descriptor, read with pread: an offset of its own, shared with no one."""

    def __init__(self, fd: int, size: int, digest: "hashlib._Hash | None") -> None:
        super().__init__()
        self._fd = fd
        self._size = size
        self._pos = 0
        self._digest = digest

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._digest is None  # a hashing reader reads every byte once, in order

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            offset += self._size
        if self._digest is not None and offset != self._pos:
            raise io.UnsupportedOperation("a hashing reader cannot seek")
        self._pos = max(0, offset)
        return self._pos

    def readinto(self, buffer: "bytearray | memoryview") -> int:  # type: ignore[override]
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:want]
        got = os.preadv(self._fd, [view], self._pos) if hasattr(os, "preadv") else self._pread(view)
        if got == 0:  # the file was truncated under us: the pinned length cannot be read
            raise OSError(f"the file shrank while it was read (at byte {self._pos} of {self._size})")
        if self._digest is not None:
            self._digest.update(view[:got])
        self._pos += got
        return got

    def _pread(self, view: memoryview) -> int:
        data = os.pread(self._fd, len(view), self._pos)
        view[: len(data)] = data
        return len(data)
