"""Which files a load may read: under the allowed roots, never through a symlink out of them.

A path is a file, a directory (walked with `.gitignore` honoured) or a glob. Relative paths are taken
from the project directory.
"""

import errno
import glob
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from ..config import Settings
from ..errors import InvalidInput, NotFound, PathNotAllowed, UnsupportedContent
from ..hashing import PinnedFile

GLOB_CHARS = frozenset("*?[")
NEVER_WALKED = frozenset({".git", ".hg", ".svn", ".rlm"})
MAX_SELECTED_FILES = 50_000  # one load_document call; more is a mistake (or a walk of the filesystem)
SELECT_SECONDS = 60.0  # expanding a glob or walking a directory stops after this long


@dataclass(slots=True)
class Selection:
    """The files a load will read, and what it passed over (reason → count)."""

    files: list[Path] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    base: Path | None = None  # names of documents from a directory or glob are relative to this


def _roots_text(settings: Settings) -> str:
    return ", ".join(str(r) for r in settings.allowed_roots)


def within_roots(settings: Settings, resolved: Path) -> bool:
    return any(resolved == root or resolved.is_relative_to(root) for root in settings.allowed_roots)


def resolve_allowed(settings: Settings, raw: str) -> Path:
    """The real path of `raw` (symlinks resolved), refused unless it lies under an allowed root."""
    given = Path(raw).expanduser()
    absolute = given if given.is_absolute() else settings.project_dir / given
    try:
        resolved = Path(os.path.realpath(absolute))
    except OSError as error:  # a link swapped for a file (or back) while it was being resolved
        raise PathNotAllowed(
            f"{raw} changed while its real path was being resolved ({error.strerror}); nothing was "
            "loaded. Load it again once it stops changing."
        ) from None
    if not within_roots(settings, resolved):
        via = f" (through a symlink, to {resolved})" if Path(os.path.abspath(absolute)) != resolved else ""
        raise PathNotAllowed(
            f"{raw} is outside the allowed roots{via}. Allowed roots: {_roots_text(settings)}. "
            "Load a path under them, or set RLM_ALLOWED_ROOTS (paths separated by ':') to widen them."
        )
    return resolved


OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | os.O_NOCTTY
DIRECTORY_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)


def open_allowed(settings: Settings, file: Path) -> PinnedFile:
    """Open a selected file (a real path under a root) once, for everything its load reads.

    Trigger: the path was checked when selected, but a name can be swapped for a symlink between that
    check and the read. Why: a load must never store a file from outside the roots. Outcome: the file
    is reached from its root one component at a time, each opened relative to the previous one and
    none followed if it is a symlink (O_NOFOLLOW), the last without blocking (a FIFO does not hang the
    load) and kept only if it is a regular file; hash, chunks and copy then read that descriptor.
    """
    root = max(
        (r for r in settings.allowed_roots if file.is_relative_to(r)),
        key=lambda r: len(r.parts),
        default=None,
    )
    if root is None or file == root:
        raise PathNotAllowed(
            f"{file} is outside the allowed roots ({_roots_text(settings)}); load a path under them."
        )
    parts = file.relative_to(root).parts
    directory = -1
    try:
        directory = os.open(root, DIRECTORY_FLAGS)
        for part in parts[:-1]:
            inner = os.open(part, DIRECTORY_FLAGS, dir_fd=directory)
            os.close(directory)
            directory = inner
        fd = os.open(parts[-1], OPEN_FLAGS, dir_fd=directory)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise PathNotAllowed(
                f"{file} was replaced by a symlink (or one of its folders was) while it was being loaded, so "
                "it was not read: a load follows no symlink once the path is checked. Load it again once "
                "it stays put, or load the file the link points to (it must be under the allowed roots)."
            ) from None
        if error.errno == errno.ENOENT:
            raise NotFound(
                f"{file} disappeared before it could be read; check the path and load it again."
            ) from None
        raise
    finally:
        if directory >= 0:
            os.close(directory)
    try:
        return PinnedFile(fd, file)
    except ValueError:
        os.close(fd)
        raise UnsupportedContent(
            f"{file} is not a regular file (a FIFO, device or folder took its place); load a text file."
        ) from None


def select_files(settings: Settings, raw: str, recursive: bool = True) -> Selection:
    """Resolve a file, directory or glob into the files to load."""
    if not raw or not raw.strip():
        raise NotFound(
            "path is empty. Pass a file, a directory or a glob, relative to the project directory."
        )
    given = Path(raw).expanduser()
    absolute = given if given.is_absolute() else settings.project_dir / given
    if not os.path.lexists(absolute) and GLOB_CHARS & set(raw):
        return _select_glob(settings, str(absolute), raw)
    if not os.path.lexists(absolute):
        raise NotFound(
            f"No file or directory at {raw} (looked in {absolute.parent}). "
            "Check the path; paths are relative to the project directory "
            f"{settings.project_dir}. list_documents shows what is already loaded."
        )
    resolved = resolve_allowed(settings, raw)
    if resolved.is_dir():
        selection = Selection(base=resolved)
        _walk(settings, resolved, recursive, selection)
        return selection
    if not resolved.is_file():
        raise NotFound(f"{raw} is not a regular file or directory; load a text file or a directory.")
    return Selection(files=[resolved])


def glob_prefix(pattern: str) -> Path:
    """The fixed part of an absolute glob: its directories before the first one with a wildcard."""
    fixed = []
    for part in Path(pattern).parts:
        if GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


class _Budget:
    """Caps one selection: at most MAX_SELECTED_FILES entries and SELECT_SECONDS of walking."""

    def __init__(self, raw: str) -> None:
        self._raw = raw
        self._deadline = time.monotonic() + SELECT_SECONDS
        self._seen = 0

    def tick(self) -> None:
        self._seen += 1
        if self._seen > MAX_SELECTED_FILES:
            raise InvalidInput(
                f"{self._raw} selects more than {MAX_SELECTED_FILES:,} files; load a narrower directory "
                "or glob (several load_document calls are fine)."
            )
        if self._seen % 256 == 0 and time.monotonic() > self._deadline:
            raise InvalidInput(
                f"Listing {self._raw} took more than {SELECT_SECONDS:g} s and was stopped; load a narrower "
                "directory or glob."
            )


def _select_glob(settings: Settings, pattern: str, raw: str) -> Selection:
    prefix = Path(os.path.realpath(glob_prefix(pattern)))
    if not within_roots(settings, prefix):
        raise PathNotAllowed(
            f"The glob {raw} starts at {prefix}, outside the allowed roots, so it was not expanded. "
            f"Allowed roots: {_roots_text(settings)}. Start the glob inside one of them, or set "
            "RLM_ALLOWED_ROOTS (paths separated by ':') to widen them."
        )
    selection = Selection(base=settings.project_dir)
    budget = _Budget(raw)
    matches = []
    for match in glob.iglob(pattern, recursive=True):
        budget.tick()
        matches.append(match)
    for match in sorted(matches):
        resolved = Path(os.path.realpath(match))
        if not within_roots(settings, resolved):
            selection.skipped["outside the allowed roots"] += 1
        elif resolved.is_file():
            selection.files.append(resolved)
    if not selection.files and not selection.skipped:
        raise NotFound(f"The glob {raw} matches no file. Check the pattern (use ** for any depth).")
    selection.files = list(dict.fromkeys(selection.files))
    return selection


class _Ignores:
    """The .gitignore files that apply to a directory: its own and its ancestors' up to its root."""

    def __init__(self, settings: Settings, top: Path) -> None:
        self._specs: dict[Path, pathspec.GitIgnoreSpec] = {}
        root = next((r for r in settings.allowed_roots if top.is_relative_to(r)), top)
        ancestors = [top, *top.parents]
        for directory in reversed(ancestors[: ancestors.index(root) + 1] if root in ancestors else [top]):
            self.read(directory)

    def read(self, directory: Path) -> None:
        file = directory / ".gitignore"
        if file.is_file():
            lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
            self._specs[directory] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self._specs.items():
            if path.is_relative_to(base):
                relative = path.relative_to(base).as_posix() + ("/" if is_dir else "")
                if spec.match_file(relative):
                    return True
        return False


def _walk(settings: Settings, top: Path, recursive: bool, selection: Selection) -> None:
    ignores = _Ignores(settings, top)
    budget = _Budget(str(top))
    for current, dirnames, filenames in os.walk(top, followlinks=False):
        budget.tick()
        here = Path(current)
        if here != top:
            ignores.read(here)
        kept = []
        for name in sorted(dirnames):
            path = here / name
            if name in NEVER_WALKED:
                continue
            if path.is_symlink():
                selection.skipped["symlinked directories not followed"] += 1
            elif ignores.ignored(path, is_dir=True):
                selection.skipped["ignored by .gitignore"] += 1
            else:
                kept.append(name)
        dirnames[:] = kept if recursive else []
        for name in sorted(filenames):
            budget.tick()
            _consider_file(settings, here / name, ignores, selection)


def _consider_file(settings: Settings, path: Path, ignores: _Ignores, selection: Selection) -> None:
    if ignores.ignored(path, is_dir=False):
        selection.skipped["ignored by .gitignore"] += 1
        return
    resolved = Path(os.path.realpath(path))
    if not within_roots(settings, resolved):
        selection.skipped["symlinks out of the allowed roots"] += 1
    elif resolved.is_file():
        selection.files.append(resolved)
    else:
        selection.skipped["not regular files"] += 1
