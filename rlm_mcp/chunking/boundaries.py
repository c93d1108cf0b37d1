"""Content-defined chunk boundaries for records (CSV rows, JSON elements, JSONL lines).

A chunk closes after a record whose CRC-32 falls on a multiple of a modulus (once it holds a minimum
of records), not after a fixed count: one row inserted near the top of a file then changes one chunk,
not every chunk after it, so a reload keeps the chunks (and their embeddings) that did not change.
The records-per-chunk figure is rounded onto a coarse ladder so that a small edit cannot move it.
"""

import functools
import math
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported on first use: the server must not load it at start
    import numpy as np

from .base import TARGET_CHARS

_ENCODE = functools.partial(str.encode, encoding="utf-8", errors="surrogatepass")
LADDER = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


def records_per_chunk(sample: Sequence[str]) -> int:
    """The ladder value nearest (on a log scale) to TARGET_CHARS / the mean record length."""
    size = sum(map(len, sample))
    if not sample or not size:
        return 1
    wanted = max(1.0, TARGET_CHARS * len(sample) / size)
    return min(LADDER, key=lambda step: abs(math.log(step) - math.log(wanted)))


class Cutter:
    """Decides where chunks of records end; expected records per chunk ≈ `per_chunk`."""

    def __init__(self, per_chunk: int) -> None:
        self.per_chunk = per_chunk
        self.min_records = max(1, per_chunk // 2)
        self.modulus = max(1, per_chunk - self.min_records + 1)

    def cut_after(self, raw: str, records_in_chunk: int) -> bool:
        return records_in_chunk >= self.min_records and (
            self.modulus == 1 or zlib.crc32(_ENCODE(raw)) % self.modulus == 0
        )

    def candidates(self, raws: Sequence[str]) -> "np.ndarray[tuple[int], np.dtype[np.intp]]":
        """Indices of the records after which a chunk may close (C-speed over a whole batch)."""
        import numpy as np

        if self.modulus == 1:
            return np.arange(len(raws))
        hashes = np.fromiter(map(zlib.crc32, map(_ENCODE, raws)), dtype=np.uint32, count=len(raws))
        return np.flatnonzero(hashes % self.modulus == 0)
