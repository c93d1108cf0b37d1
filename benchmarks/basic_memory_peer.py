"""basic-memory (PyPI; MCP + SQLite FTS5 + sqlite-vec + fastembed) against rlm-mcp on the same
markdown notes, same run: documents/s to searchable and to fully embedded, search p50/p95 over MCP.

basic-memory needs Python >= 3.12, so it runs in its own interpreter (`--basic-memory-python`),
driven through its own CLI and MCP server as a user would run them:
- `project add bench NOTES --no-wait`, then `reindex --search` (parse + FTS5: searchable) and
  `reindex --embeddings` (fastembed + sqlite-vec: fully embedded), each timed as a whole process;
  a no-op `project list` is timed too, so the CLI's own start-up can be read off;
- search over stdio MCP (`basic-memory mcp`, `search_notes`, search_type text and hybrid).
rlm-mcp on the same notes: `load_document` (searchable), `embed_all` (embedded), and `rlm-mcp serve`
over stdio MCP (`search_chunks`, bm25 and hybrid), with the same queries.

Two things this machine forces, both outside basic-memory's code:
- pyenv's CPython has no SQLite extension loading, which basic-memory needs for sqlite-vec (it
  falls back to keyword-only search). The launcher puts pysqlite3-binary (SQLite with extension
  loading) in place of the `sqlite3` module before basic-memory imports, the usual workaround.
- fastembed cannot reach a model hub here. basic-memory is given `sentence-transformers/all-MiniLM-L6-v2`
  (our model) from a fastembed cache laid out locally from the pinned file (`HF_HUB_OFFLINE=1`): the
  same int8-storage file our `all-MiniLM-L6-v2-int8` path runs, while rlm-mcp runs its default
  (`-q8`, int8 compute).

    uv venv --python 3.12 V && uv pip install --python V/bin/python basic-memory pysqlite3-binary
    python benchmarks/peers.py --basic-memory-python V/bin/python [--notes 500]
"""

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval import percentiles, read_beir

from rlm_mcp.config import load_settings
from rlm_mcp.embedding.model import FastEmbedder, assemble_model_dir
from rlm_mcp.embedding.worker import embed_all
from rlm_mcp.loading.loader import load_document
from rlm_mcp.store import open_store

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = (
    "import sys, pysqlite3, pysqlite3.dbapi2; "
    "sys.modules['sqlite3'] = pysqlite3; sys.modules['sqlite3.dbapi2'] = pysqlite3.dbapi2; "
    "from basic_memory.cli.main import app; sys.argv[0] = 'basic-memory'; sys.exit(app())"
)
FASTEMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
FASTEMBED_REPO = "models--Qdrant--all-MiniLM-L6-v2-onnx"  # fastembed's source for that name
COMMAND_TIMEOUT = 3600


def write_notes(data: Path, target: Path, count: int) -> tuple[list[str], int]:
    """`count` SciFact abstracts (judged ones first) as markdown notes; the train queries that judge them."""
    corpus, queries, _qrels = read_beir(data, "train", count, None)
    target.mkdir(parents=True, exist_ok=True)
    for doc in corpus:
        (target / f"{doc['_id']}.md").write_text(f"# {doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    return list(queries.values()), len(corpus)


def unavailable(python: str | None) -> str | None:
    """Why basic-memory cannot run under `python`, or None when it can."""
    if python is None:
        return (
            "no --basic-memory-python given (basic-memory needs Python >= 3.12 with basic-memory and "
            f"pysqlite3-binary installed; this is {sys.version_info.major}.{sys.version_info.minor})"
        )
    probe = (
        "import sys, basic_memory, pysqlite3; assert sys.version_info >= (3, 12); "
        "print(basic_memory.__version__)"
    )
    try:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    except OSError as exc:
        return f"{python} cannot run: {exc}"
    if done.returncode != 0:
        return f"{python} has no usable basic-memory: {done.stderr.strip().splitlines()[-1:]}"
    return None


def bm_env(home: Path, cache: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "BASIC_MEMORY_HOME": str(home / "basic-memory"),
        "BASIC_MEMORY_SEMANTIC_EMBEDDING_MODEL": FASTEMBED_MODEL,
        "BASIC_MEMORY_SEMANTIC_EMBEDDING_CACHE_DIR": str(cache),
        "BASIC_MEMORY_AUTO_UPDATE": "false",
        "HF_HUB_OFFLINE": "1",
        "LANG": "C.UTF-8",
    }


def lay_out_fastembed_cache(cache: Path) -> None:
    """A Hugging Face cache snapshot of the pinned model file and tokenizer, where fastembed looks."""
    source = assemble_model_dir(None)
    repo = cache / FASTEMBED_REPO
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    for item in source.iterdir():
        if item.is_file():
            shutil.copyfile(item, snapshot / item.name)


def timed_cli(python: str, env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [python, "-c", LAUNCHER, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"basic-memory {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout


async def mcp_search_times(
    command: str, args: list[str], env: dict[str, str], calls: Sequence[dict[str, Any]], tool: str
) -> list[float]:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=command, args=args, env=env, cwd=str(REPO))
    samples: list[float] = []
    async with Client(params) as client:
        for arguments in calls[:3]:  # warm-up: model load, caches
            await client.call_tool(tool, arguments)
        for arguments in calls:
            started = time.perf_counter()
            result = await client.call_tool(tool, arguments)
            samples.append(time.perf_counter() - started)
            if result.is_error:
                raise RuntimeError(f"{tool} failed: {result.content[0].text[:500]}")  # type: ignore[union-attr]
    return samples


def run_basic_memory(
    python: str, work: Path, notes: Path, queries: Sequence[str], count: int
) -> dict[str, Any]:
    import anyio

    home, cache = work / "bm-home", work / "bm-fastembed"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    lay_out_fastembed_cache(cache)
    env = bm_env(home, cache)
    timed_cli(python, env, "project", "list")  # the first start writes the bytecode caches
    cli_s, _ = timed_cli(python, env, "project", "list")
    timed_cli(python, env, "project", "add", "bench", str(notes), "--no-wait")
    search_s, search_out = timed_cli(python, env, "reindex", "--search", "-p", "bench")
    embed_s, embed_out = timed_cli(python, env, "reindex", "--embeddings", "-p", "bench")
    if "semantic search is unavailable" in embed_out or "embedded" not in embed_out:
        raise RuntimeError(f"basic-memory did not embed: {embed_out[-1500:]}")
    report: dict[str, Any] = {
        "run": True,
        "notes": count,
        "cli_noop_s": round(cli_s, 2),
        "to_searchable_s": round(search_s, 2),
        "to_embedded_s": round(search_s + embed_s, 2),
        "docs_per_s_searchable": round(count / search_s, 2),
        "docs_per_s_embedded": round(count / (search_s + embed_s), 2),
        "docs_per_s_searchable_less_cli_start": _rate(count, search_s - cli_s),
        "docs_per_s_embedded_less_cli_start": _rate(count, search_s + embed_s - 2 * cli_s),
        "reindex_output": " ".join((search_out + embed_out).split())[-600:],
    }
    mcp_args = ["-c", LAUNCHER, "mcp", "--transport", "stdio", "--project", "bench"]
    for kind in ("text", "hybrid"):
        calls = [{"query": q, "project": "bench", "search_type": kind, "page_size": 10} for q in queries]
        samples = anyio.run(mcp_search_times, python, mcp_args, env, calls, "search_notes")
        report[f"search_{kind}"] = percentiles(samples)
    return report


def _rate(count: int, seconds: float) -> float | None:
    """None when the CLI's start-up, timed separately, took longer than the command (noise)."""
    return round(count / seconds, 2) if seconds > 0 else None


def run_ours(work: Path, notes: Path, queries: Sequence[str], count: int) -> dict[str, Any]:
    import anyio

    db = work / ".rlm-notes" / "rlm.db"
    shutil.rmtree(db.parent, ignore_errors=True)
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(notes), "RLM_DB": str(db)})
    store = open_store(settings.db_path)
    started = time.perf_counter()
    load_document(store, settings, str(notes))
    load_s = time.perf_counter() - started
    embedder = FastEmbedder()
    started = time.perf_counter()
    embedded = embed_all(store, embedder)
    embed_s = time.perf_counter() - started
    chunks = int(store.conn().execute("SELECT count(*) FROM chunks").fetchone()[0])
    store.close()
    report: dict[str, Any] = {
        "model": embedder.model_id,
        "chunks": chunks,
        "embedded": embedded.embedded,
        "to_searchable_s": round(load_s, 2),
        "to_embedded_s": round(load_s + embed_s, 2),
        "docs_per_s_searchable": round(count / load_s, 2),
        "docs_per_s_embedded": round(count / (load_s + embed_s), 2),
        "note": "in process (load_document, then embed_all); the embedding model loads inside embed_s",
    }
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(work)),
        "RLM_DB": str(db),
        "CLAUDE_PROJECT_DIR": str(notes),
        "RLM_EMBED_BACKGROUND": "0",
    }
    for mode in ("bm25", "hybrid"):
        calls = [{"query": q, "mode": mode, "top_k": 10} for q in queries]
        samples = anyio.run(
            mcp_search_times, sys.executable, ["-m", "rlm_mcp", "serve"], env, calls, "search_chunks"
        )
        report[f"search_{mode}"] = percentiles(samples)
    return report


def compare(python: str | None, work: Path, data: Path, count: int, queries: int) -> dict[str, Any]:
    why = unavailable(python)
    if why is not None:
        return {"run": False, "why": why}
    assert python is not None
    notes = work / "notes-md"
    shutil.rmtree(notes, ignore_errors=True)
    texts, count = write_notes(data, notes, count)
    texts = texts[:queries]
    ours = run_ours(work, notes, texts, count)
    theirs = run_basic_memory(python, work, notes, texts, count)
    ratios = {
        "searchable (ours / theirs docs/s)": round(
            ours["docs_per_s_searchable"] / theirs["docs_per_s_searchable"], 2
        ),
        "embedded (ours / theirs docs/s)": round(
            ours["docs_per_s_embedded"] / theirs["docs_per_s_embedded"], 2
        ),
        "bm25 vs text p95 (theirs / ours)": round(
            theirs["search_text"]["p95_ms"] / ours["search_bm25"]["p95_ms"], 2
        ),
        "hybrid p95 (theirs / ours)": round(
            theirs["search_hybrid"]["p95_ms"] / ours["search_hybrid"]["p95_ms"], 2
        ),
    }
    return {"run": True, "notes": count, "queries": len(texts), "rlm-mcp": ours, "basic-memory": theirs} | {
        "ratios": ratios,
        "load_average": json.dumps(os.getloadavg()),
    }
