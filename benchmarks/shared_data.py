"""Where the benchmarks' shared data sets are (SciFact, Gutenberg): `RLM_SHARED_DATA`, else
`shared/data` beside the repository's root.

The root is the main checkout's, from a git worktree too: a worktree may live anywhere
(/work/wt/<name> for a repository at /work/main), so `../shared/data` of the worktree's own folder
names nothing. Its `.git` file points at the repository's git directory, whose parent is the root.
A `--data` (or `--corpus`) argument overrides both.
"""

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def repository_root(checkout: Path = CHECKOUT) -> Path:
    """The main checkout of the repository `checkout` belongs to (itself unless it is a worktree)."""
    marker = checkout / ".git"
    if not marker.is_file():  # a plain clone (.git is a folder) or no git at all (an sdist)
        return checkout
    text = marker.read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        return checkout
    gitdir = (checkout / text.removeprefix("gitdir:").strip()).resolve()
    common = gitdir / "commondir"  # a worktree's git dir names the repository's git dir (git-worktree(1))
    if not common.is_file():
        return checkout
    return (gitdir / common.read_text(encoding="utf-8").strip()).resolve().parent


def shared_data(checkout: Path = CHECKOUT) -> Path:
    """`$RLM_SHARED_DATA`, else `<repository root>/../shared/data`."""
    configured = os.environ.get("RLM_SHARED_DATA")
    if configured:
        return Path(configured).expanduser().resolve()
    return repository_root(checkout).parent / "shared" / "data"
