"""load_document: files, directories and globs into the store, streamed, in batched transactions.

A file's bytes are hashed first: unchanged content is a no-op. Otherwise its chunks are written into
a staging document ('loading') batch by batch, and one last transaction swaps it in for the old
version, so a reader never sees half a document and a killed load leaves only a staging row that
the next load removes.
"""

import hashlib
import io
import os
import threading
from collections import Counter
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..chunking import Chunker, detect_content_type, make_chunker
from ..chunking.jsondata import JsonChunker, JsonLinesChunker
from ..chunking.tabular import TabularChunker
from ..config import Settings
from ..errors import Cancelled, Conflict, InvalidInput, RlmError, UnsupportedContent
from ..hashing import PinnedFile
from ..store import Store
from ..store import documents as db
from ..store import vectors as vectors_db
from . import swap
from .batches import BatchWriter, Progress, ProgressFn, batches, chunk_row
from .files import Selection, open_allowed, select_files
from .results import LoadedDocument, LoadResult
from .reuse import ChunkReuse
from .staging import loading_path, remove_stale_staging

if TYPE_CHECKING:
    from .. import data

SNIFF_BYTES = 8192
TABLE_TYPES = ("csv", "tsv")  # their chunks are rows: a large one embeds a sample (RLM_EMBED_TABLE_CHUNKS)


# -- the load ------------------------------------------------------------------------------------


def load_document(
    store: Store,
    settings: Settings,
    path: str,
    name: str | None = None,
    content_type: str = "auto",
    recursive: bool = True,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> LoadResult:
    """Load a file, a directory or a glob. A single file that cannot be read is an error;
    in a directory, such files are skipped and counted. When `cancel` is set (the request was
    cancelled), the load stops after the batch under way and raises Cancelled: files already loaded
    stay loaded, the one under way leaves nothing."""
    selection = select_files(settings, path, recursive)
    single = len(selection.files) == 1 and selection.base is None
    if content_type != "auto":
        make_chunker(content_type, Path(path))  # an unknown type fails before anything is read
    reporter = Progress(progress, sum(_file_size(f) for f in selection.files), cancel)
    from .. import data  # duckdb loads with the first load, not when the server starts

    copy = data.open_copy(settings, store)
    loaded: list[LoadedDocument] = []
    skipped = Counter(selection.skipped)
    failed: list[tuple[str, str]] = []
    connection = data.BuildConnection(copy.spill_directory)
    pending: list[tuple[Path, Future[LoadedDocument]]] = []
    with BatchWriter(store) as writer:  # on leaving, every queued swap has run
        run = _Run(store, copy, writer, connection, reporter)
        try:
            for file in selection.files:
                reporter.check()
                try:
                    doc_name = name if (single and name) else _document_name(settings, selection, file)
                    pending.append((file, _load_file(run, settings, file, doc_name, content_type)))
                except Cancelled:
                    raise
                except (RlmError, OSError) as error:
                    _count_failure(error, file, single, skipped, failed)
        finally:
            connection.close()
    for file, future in pending:
        problem = future.exception()
        if problem is None:
            loaded.append(future.result())
        elif isinstance(problem, RlmError | OSError):
            _count_failure(problem, file, single, skipped, failed)
        else:
            raise problem
    if not loaded and not single and not failed and not skipped:
        raise InvalidInput(f"{path} holds no files to load.")
    loaded = [_sample_table(store, settings, doc) for doc in loaded]
    scope = [d.id for d in loaded] if len(loaded) <= 500 else None  # SQLite caps bound parameters
    waiting = vectors_db.backlog(store.conn(), scope) if loaded else 0
    return LoadResult(tuple(loaded), dict(skipped), tuple(failed), waiting, _scope_path(settings, loaded))


def _sample_table(store: Store, settings: Settings, doc: LoadedDocument) -> LoadedDocument:
    """A loaded table keeps at most RLM_EMBED_TABLE_CHUNKS of its chunks queued for a vector.

    Trigger: a CSV/TSV was loaded or updated. Why: its row chunks all fill the model's 256 tokens
    (a 400 MB table is ~310k chunks, ~5 CPU-hours), a vector sees only the first rows of its chunk,
    and query_data answers over the rows exactly. Outcome: an evenly spaced sample is embedded
    (every chunk of a small table); a worker that started on the rest meanwhile only adds vectors.
    """
    if doc.content_type not in TABLE_TYPES or doc.status == "unchanged":
        return doc
    with store.write() as conn:
        embedded = vectors_db.sample_embeddings(conn, doc.id, settings.embed_table_chunks)
    return replace(doc, embedded=embedded)


def _scope_path(settings: Settings, loaded: list[LoadedDocument]) -> str | None:
    """The folder holding every loaded document, relative to the project: what `path=` scopes to."""
    if len(loaded) < 2:
        return None
    try:
        common = Path(os.path.commonpath([d.path for d in loaded]))
        rel = common.relative_to(settings.project_dir).as_posix()
    except ValueError:
        return None
    return "./" if rel == "." else rel.rstrip("/") + "/"


def _count_failure(
    error: RlmError | OSError, file: Path, single: bool, skipped: Counter[str], failed: list[tuple[str, str]]
) -> None:
    """A file that could not be loaded: skipped (unsupported) or failed in a directory; an error when it
    was the one file asked for."""
    if isinstance(error, UnsupportedContent):
        if single:
            raise error
        skipped[_skip_reason(str(error))] += 1
    elif single:
        raise UnsupportedContent(f"Cannot load {file}: {error}") from error
    else:
        failed.append((str(file), str(error)))


def _skip_reason(message: str) -> str:
    for reason in ("binary", "empty"):
        if reason in message:
            return f"{reason} files"
    return "unreadable files"


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _document_name(settings: Settings, selection: Selection, file: Path) -> str:
    for base in (settings.project_dir, selection.base):
        if base is not None and file.is_relative_to(base):
            return file.relative_to(base).as_posix()
    return str(file)


@dataclass(frozen=True, slots=True)
class _Run:
    """What the files of one load share: one writer thread (and its SQLite connection) and one DuckDB
    connection, opened once for all of them (per document they cost ~40 ms of CPU each)."""

    store: Store
    copy: "data.DataCopy"
    writer: BatchWriter
    connection: "data.BuildConnection"
    reporter: Progress


def _load_file(
    run: _Run, settings: Settings, file: Path, name: str, content_type: str
) -> "Future[LoadedDocument]":
    """One file, read only through the descriptor `open_allowed` checked (see files.open_allowed)."""
    pinned = open_allowed(settings, file)
    try:
        return _load_pinned(run, pinned, name, content_type)
    finally:
        pinned.close()


def _load_pinned(run: _Run, pinned: PinnedFile, name: str, content_type: str) -> "Future[LoadedDocument]":
    file = pinned.path
    read = pinned.digest(SNIFF_BYTES)
    content_hash, size, head = read.sha256, read.size, read.head
    if size == 0:
        raise UnsupportedContent(f"{file} is empty: there is nothing to load.")
    if b"\x00" in head:
        raise UnsupportedContent(
            f"{file} looks binary (it has NUL bytes); only text is loaded (UTF-8; UTF-16 files are binary "
            "here). Convert it to text first, or load another file."
        )
    sniffed = head.decode("utf-8", errors="replace")
    kind = content_type if content_type != "auto" else detect_content_type(file, sniffed)
    key = str(file)
    held = ExitStack()  # the path stays held until the document's swap has run in the writer thread
    owner = held.enter_context(loading_path(key))
    try:
        result = _load_locked(run, pinned, (name, sniffed), kind, (content_hash, size), owner)
    except BaseException:
        held.close()
        raise
    result.add_done_callback(lambda _: held.close())
    return result


def _load_locked(
    run: _Run,
    pinned: PinnedFile,
    names: tuple[str, str],
    kind: str,
    content: tuple[str, int],
    owner: str,
) -> "Future[LoadedDocument]":
    """The load proper, while this process holds the path (see staging.loading_path): chunks and copy
    here; the staging row, the batches and the swap queued in that order in the writer thread, so the
    next document is chunked while this one is indexed (see swap.py)."""
    from .. import data  # duckdb loads with the first load, not when the server starts

    store, copy, reporter = run.store, run.copy, run.reporter
    content_hash, size = content
    name, sniffed = names
    file = pinned.path
    key = str(file)
    conn = store.conn()
    old = db.find_ready(conn, key)
    if old is not None and old.content_hash == content_hash and old.content_type == kind:
        reporter.advance(size, f"{name} unchanged")
        chunks = db.count_chunks(conn, old.id)
        done: Future[LoadedDocument] = Future()
        done.set_result(
            LoadedDocument(old.id, old.name, key, kind, size, chunks, "unchanged", None, old.profile)
        )
        return done
    interrupted = remove_stale_staging(store, key, content_hash)
    reuse = ChunkReuse.load(conn, old.id if old is not None else None, interrupted)
    staging = run.writer.call(swap.insert_staging, store, (name, key, kind, size, content_hash, owner))
    builder = data.start_copy(copy, pinned, kind, f"s{owner.rsplit(':', 1)[-1]}", run.connection)
    built = None
    try:
        deferred = builder is not None and builder.profiles_columns
        chunker = make_chunker(kind, file, sniffed, profile_columns=not deferred)
        count, profile, warnings, written = _write_chunks(
            run, staging, (pinned, content_hash), chunker, name, reuse, builder
        )
        reporter.check()
        columns = _deferred_columns(chunker, (pinned, content_hash)) if deferred else None
        built = _finish_copy(builder, profile, warnings, columns)
        if columns is not None and profile is not None and "column_profiles" not in profile:
            profile["column_profiles"] = columns.fallback()  # no copy: Python profiles the columns
        reporter.check()  # the last point before the swap: after it, the new version goes in
    except BaseException:
        run.writer.drain()  # no batch of this document lands after its staging row is deleted
        swap.drop(store, builder, staging, built)
        raise
    chunked = swap.Chunked(name, key, kind, size, count, profile, warnings)
    return run.writer.call(
        swap.swap_in, (store, copy), (staging, chunked), (reuse, interrupted, written), (builder, built)
    )


def _deferred_columns(chunker: Chunker, source: tuple[PinnedFile, str]) -> "data.DeferredColumns":
    """What the copy needs to profile a table's columns the chunker left unprofiled, and the Python
    profile of the pinned bytes to fall back on (the table read again, its hash checked again)."""
    from .. import data

    assert isinstance(chunker, TabularChunker)
    pinned, content_hash = source
    content_type, delimiter = chunker.content_type, chunker.delimiter

    def profile_in_python() -> list[dict[str, Any]]:
        profiler = TabularChunker(content_type, delimiter)
        read_hash = hashlib.sha256()
        with pinned.open_binary(read_hash) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            for _ in profiler.chunks(text):
                pass
            while raw.read(1 << 20):
                pass
        if read_hash.hexdigest() != content_hash:
            raise Conflict(
                f"{pinned.path} changed while it was being loaded, so it was not stored. Call "
                "load_document again once the file is written."
            )
        return list(profiler.profile()["column_profiles"])

    return data.DeferredColumns(chunker.header, chunker.clean, profile_in_python)


def _finish_copy(
    builder: "data.CopyBuilder | None",
    profile: dict[str, Any] | None,
    warnings: list[str],
    columns: "data.DeferredColumns | None" = None,
) -> "data.BuiltCopy | None":
    """The document's columnar copy; one that cannot be built is a warning, never a failed load."""
    from .. import data

    if builder is None:
        return None
    try:
        built = builder.finish(profile, columns)
    except (data.DuckDBError, OSError, ValueError) as error:
        builder.discard_temps()
        warnings.append(f"no columnar copy (query_data cannot read this document): {error}")
        return None
    if built is not None:
        warnings.extend(f"copy: {w}" for w in built.warnings)
        if profile is not None and built.top_values:
            profile["top_values"] = built.top_values
    return built


def _write_chunks(
    run: _Run,
    staging: "Future[int]",
    source: tuple[PinnedFile, str],
    chunker: Chunker,
    name: str,
    reuse: ChunkReuse,
    builder: "data.CopyBuilder | None" = None,
) -> tuple[int, dict[str, Any] | None, list[str], "list[Future[None]]"]:
    """Chunk the pinned bytes into the staging document; the bytes chunked are hashed as they are read
    and must be the bytes hashed before (`source`: the file and that hash)."""
    pinned, content_hash = source
    read_hash = hashlib.sha256()
    if (
        builder is not None
        and builder.sink is not None
        and isinstance(chunker, JsonChunker | JsonLinesChunker)
    ):
        chunker.record_sink = builder.sink
    count = 0
    replaced = 0
    written: list[Future[None]] = []
    writer, reporter = run.writer, run.reporter
    with pinned.open_binary(read_hash) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        start = raw.tell()
        try:
            for batch in batches(chunker.chunks(text), writer.sizes):
                rows = []
                for chunk in batch:
                    replaced += chunk.text.count("\ufffd")
                    row = chunk_row(count, chunk)
                    if not reuse.take(count, chunk, row.content_hash):  # unchanged: it keeps its old row
                        rows.append(row)
                    count += 1
                if rows:
                    written.append(writer.write(staging, rows))
                position = raw.tell()
                reporter.advance(position - start, f"{name}: {count} chunks")
                start = position
        except BaseException:
            writer.drain()  # no batch of this document lands after its row is deleted
            raise
        while raw.read(1 << 20):  # a chunker that stopped early: the rest is hashed all the same
            pass
    if read_hash.hexdigest() != content_hash:
        raise Conflict(
            f"{pinned.path} changed while it was being loaded (its first {pinned.size:,} bytes are not the "
            "ones hashed when the load began), so it was not stored. Call load_document again once the "
            "file is written."
        )
    warnings = []
    profile = chunker.profile()
    if replaced:
        warnings.append(f"{replaced} invalid UTF-8 sequence(s) were replaced with U+FFFD (�).")
    if profile and isinstance(profile.get("warnings"), list):
        warnings.extend(str(w) for w in profile["warnings"][:20])
    return count, profile, warnings, written
