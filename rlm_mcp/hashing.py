"""The one file hash: SHA-256 of a file read in 1 MiB blocks, with its size and first bytes."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

BLOCK = 1 << 20


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
