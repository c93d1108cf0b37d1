"""Code retrieval on the Python standard library: which code chunking and which fusion find a function.

The CodeSearchNet method on this machine's CPython standard library: the first sentence of a function's
docstring is the query, the function is the answer, and every docstring (function, class, module) is
removed from the indexed text so the query's words are not in it. Files are a deterministic sample
(`--fraction`) of the stdlib outside tests, idlelib, tkinter, lib2to3 and friends; a function counts
when it is not nested in a function, is not a dunder or a test, keeps >= 3 lines without its docstring
and its query has >= 3 words, no doctest, and no other function with the same query.

Each chunking variant loads the same files through `load_document` (the real chunker, FTS5 and the
embedding queue) into its own store, embedded by the real pipeline (vectors cached by text under the
work dir, so a rerun or a variant sharing chunks embeds only what is new). Scoring is per function:
ranked chunks are expanded into the functions they overlap, in file order (a chunk that packs five
functions pushes the answer down as a reader would have to read past the others; a chunk that holds no
function takes one rank), each function at the rank of its best chunk. MRR@10, nDCG@10 and recall@10
for bm25, semantic and each fusion of the two, plus chunk counts and sizes.

    python benchmarks/code_retrieval.py [--fraction 0.2] [--variants today,whole4000] [--work DIR]
    python benchmarks/code_retrieval.py --smoke     # the json package, the fake-free real pipeline
"""

import argparse
import ast
import json
import math
import re
import shutil
import statistics
import sys
import sysconfig
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vector_cache import CachedEmbedder, cache_path

from rlm_mcp.chunking import code as code_chunking
from rlm_mcp.config import load_settings
from rlm_mcp.embedding.model import FastEmbedder
from rlm_mcp.embedding.worker import embed_all
from rlm_mcp.loading.loader import load_document
from rlm_mcp.search import fts_query, fusion, hybrid
from rlm_mcp.store import Store, open_store
from rlm_mcp.store import search as search_db
from rlm_mcp.store import vectors as vdb

SKIP_DIRS = {
    "test", "tests", "idlelib", "tkinter", "lib2to3", "ensurepip", "turtledemo", "site-packages",
    "__pycache__", "pydoc_data", "unittest", "__phello__",
}  # fmt: skip
# name: (WHOLE_FUNCTION_CHARS, WHOLE_CLASS_CHARS, PACK_CHARS)
VARIANTS: dict[str, tuple[int, int, int]] = {
    "today": (2000, 2000, 1500),
    "whole3000": (3000, 2000, 1500),
    "whole4000": (4000, 2000, 1500),
    "whole6000": (6000, 2000, 1500),
    "whole4000_alone": (4000, 2000, 0),
    "whole4000_pack800": (4000, 2000, 800),
    "whole4000_pack400": (4000, 2000, 400),
    "whole2000_alone": (2000, 2000, 0),
    "whole3000_alone": (3000, 2000, 0),
    "whole6000_alone": (6000, 2000, 0),
    "whole4000_alone_class4000": (4000, 4000, 0),
}
CANDIDATES = hybrid.CANDIDATES
SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the corpus ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    path: str  # relative to the corpus root
    name: str
    start: int  # 1-based lines in the indexed (docstring-free) file, decorators included
    end: int
    query: str | None


def sample_files(root: Path, fraction: float, only: str | None) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if set(rel.parts[:-1]) & SKIP_DIRS or rel.name.startswith("test"):
            continue
        if only is not None and rel.parts[0] != only:
            continue
        if only is None and zlib.crc32(str(rel).encode()) % 1000 >= fraction * 1000:
            continue
        files.append(path)
    return files


def strip_docstrings(source: str) -> str | None:
    """`source` without its docstrings (a body left empty gets `pass`); None if it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    lines = source.split("\n")
    drop: set[int] = set()
    passes: dict[int, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0] if node.body else None
        if not (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            continue
        start, end = first.lineno, first.end_lineno or first.lineno
        head = lines[start - 1][: first.col_offset]
        tail = lines[end - 1][first.end_col_offset or 0 :]
        if head.strip() or (tail.strip() and not tail.strip().startswith("#")):
            continue  # shares a line with other code: leave it (such a function is not a query)
        drop.update(range(start, end + 1))
        if len(node.body) == 1 and not isinstance(node, ast.Module):
            passes[start] = head + "pass"
    out = [passes.get(n, line) for n, line in enumerate(lines, start=1) if n not in drop or n in passes]
    return "\n".join(out)


def first_sentence(doc: str) -> str:
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(SENTENCE_END.split(" ".join(paragraph.split()), maxsplit=1)[0].split())


def functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Functions and methods not nested in a function, with their qualified names, in source order."""

    def walk(body: list[ast.stmt], scope: str) -> Iterator[tuple[str, Any]]:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield scope + node.name, node
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{scope}{node.name}.")
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
                for part in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, part, []):
                        inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                        yield from walk(inner, scope)

    yield from walk(tree.body, "")


def build_corpus(files: Sequence[Path], root: Path, target: Path) -> list[Unit]:
    """Write the docstring-free files under `target`; the functions of each, with their queries."""
    units: list[Unit] = []
    for path in files:
        source = path.read_text(encoding="utf-8", errors="replace")
        stripped = strip_docstrings(source)
        if stripped is None:
            continue
        rel = str(path.relative_to(root))
        out = target / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(stripped, encoding="utf-8")
        before, after = list(functions(ast.parse(source))), list(functions(ast.parse(stripped)))
        for (name, old), (_same, new) in zip(before, after, strict=True):
            doc = ast.get_docstring(old)
            start = min([new.lineno, *(d.lineno for d in new.decorator_list)])
            end = new.end_lineno or new.lineno
            query = first_sentence(doc) if doc else None
            short = name.rsplit(".", 1)[-1]
            if (
                query is None
                or len(query.split()) < 3
                or ">>>" in query
                or short.startswith("test")
                or (short.startswith("__") and short.endswith("__"))
                or end - start + 1 < 3
                or ast.get_docstring(new) is not None  # a docstring sharing its line stayed in the text
            ):
                query = None
            units.append(Unit(rel, name, start, end, query))
    counts: dict[str, int] = {}
    for unit in units:
        if unit.query:
            counts[unit.query.lower()] = counts.get(unit.query.lower(), 0) + 1
    return [
        Unit(u.path, u.name, u.start, u.end, u.query if u.query and counts[u.query.lower()] == 1 else None)
        for u in units
    ]


# -- one variant ----------------------------------------------------------------------------------------


def load_variant(
    work: Path, corpus: Path, name: str, embedder: CachedEmbedder
) -> tuple[Store, dict[str, Any]]:
    whole, klass, pack = VARIANTS[name]
    saved = (code_chunking.WHOLE_FUNCTION_CHARS, code_chunking.WHOLE_CLASS_CHARS, code_chunking.PACK_CHARS)
    code_chunking.WHOLE_FUNCTION_CHARS, code_chunking.WHOLE_CLASS_CHARS, code_chunking.PACK_CHARS = (
        whole,
        klass,
        pack,
    )
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = load_settings({"CLAUDE_PROJECT_DIR": str(corpus.parent), "RLM_DB": str(folder / "rlm.db")})
    store = open_store(settings.db_path)
    try:
        started = time.perf_counter()
        load_document(store, settings, str(corpus))
        loaded = time.perf_counter() - started
    finally:
        code_chunking.WHOLE_FUNCTION_CHARS, code_chunking.WHOLE_CLASS_CHARS, code_chunking.PACK_CHARS = saved
    before = embedder.computed
    started = time.perf_counter()
    embed_all(store, embedder)  # type: ignore[arg-type]
    embedder.save()
    sizes = [int(r[0]) for r in store.conn().execute("SELECT length(text) FROM chunks")]
    figures = {
        "whole_function_chars": whole,
        "whole_class_chars": klass,
        "pack_chars": pack,
        "chunks": len(sizes),
        "mean_chars": round(statistics.fmean(sizes)),
        "p90_chars": sorted(sizes)[int(0.9 * (len(sizes) - 1))],
        "load_s": round(loaded, 2),
        "embedded_now": embedder.computed - before,
        "embed_s": round(time.perf_counter() - started, 1),
    }
    return store, figures


# -- scoring ----------------------------------------------------------------------------------------------


def chunk_units(store: Store, corpus: Path, units: Sequence[Unit]) -> dict[int, list[Any]]:
    """Each chunk's functions in file order (their unit index), or a placeholder when it holds none."""
    by_path: dict[str, list[tuple[int, Unit]]] = {}
    for index, unit in enumerate(units):
        by_path.setdefault(unit.path, []).append((index, unit))
    rows = store.conn().execute(
        "SELECT c.id, d.path, c.start_line, c.end_line FROM chunks c JOIN documents d ON d.id = c.document_id"
    )
    mapping: dict[int, list[Any]] = {}
    for chunk_id, path, low, high in rows:
        rel = str(Path(path).resolve().relative_to(corpus.resolve()))
        inside = [i for i, u in by_path.get(rel, []) if u.start <= high and u.end >= low]
        mapping[int(chunk_id)] = inside or [f"c{chunk_id}"]
    return mapping


def unit_ranking(chunks: Sequence[int], mapping: dict[int, list[Any]]) -> list[Any]:
    return list(dict.fromkeys(item for c in chunks for item in mapping.get(c, [])))


def chunk_mrr(
    chunk_rankings: Sequence[Sequence[int]], answers: Sequence[int], mapping: dict[int, list[Any]]
) -> float:
    """MRR@10 over chunks: the first chunk that overlaps the answer, however much else it holds."""
    reciprocal = []
    for ranked, answer in zip(chunk_rankings, answers, strict=True):
        rank = next((r for r, c in enumerate(ranked[:10], 1) if answer in mapping.get(c, [])), 0)
        reciprocal.append(1.0 / rank if rank else 0.0)
    return round(statistics.fmean(reciprocal), 4)


def metrics(rankings: Sequence[Sequence[Any]], answers: Sequence[int]) -> dict[str, float]:
    ranks = [
        next((r for r, item in enumerate(ranked[:10], 1) if item == a), 0)
        for ranked, a in zip(rankings, answers, strict=True)
    ]
    return {
        "mrr@10": round(statistics.fmean(1.0 / r if r else 0.0 for r in ranks), 4),
        "ndcg@10": round(statistics.fmean(1.0 / math.log2(r + 1) if r else 0.0 for r in ranks), 4),
        "recall@10": round(statistics.fmean(1.0 if r else 0.0 for r in ranks), 4),
    }


Fuser = Callable[[dict[str, list[tuple[int, float]]]], list[fusion.Fused]]


def fusers() -> dict[str, Fuser]:
    """The product's default and the alternatives measured against it."""
    found: dict[str, Fuser] = {
        "hybrid": lambda lists: fusion.fuse(lists, hybrid.DEFAULT_FUSION),
        "minmax_equal": lambda lists: fusion.minmax(lists),
        "rrf_k60": lambda lists: fusion.rrf(lists, 60.0),
    }
    for name in getattr(fusion, "EXTRA_FUSIONS", ()):
        found[name] = lambda lists, name=name: fusion.fuse(lists, name)
    return found


def candidate_lists(store: Store, embedder: CachedEmbedder, text: str) -> dict[str, list[tuple[int, float]]]:
    conn = store.conn()
    match = fts_query(text)
    lean = hybrid.candidate_query(text, conn, vdb.scope_size(conn, None))
    vectors = hybrid.vector_candidates(store, text, None, CANDIDATES, embedder).ranked  # type: ignore[arg-type]
    return {
        "bm25": search_db.bm25_candidates(conn, match, None, CANDIDATES) if match else [],
        "bm25_lean": search_db.bm25_candidates(conn, lean, None, CANDIDATES) if lean else [],
        "semantic": vectors,
    }


def evaluate(store: Store, corpus: Path, units: Sequence[Unit], embedder: CachedEmbedder) -> dict[str, Any]:
    """Scores per mode and fusion; the candidate lists are saved beside the store for
    benchmarks/fusion.py (same format, so it need not embed the queries again)."""
    mapping = chunk_units(store, corpus, units)
    queries = [(i, u.query) for i, u in enumerate(units) if u.query]
    runs: dict[str, list[list[int]]] = {}
    saved: list[dict[str, list[tuple[int, float]]]] = []
    for _index, text in queries:
        lists = candidate_lists(store, embedder, text)
        for mode in ("bm25", "semantic"):
            runs.setdefault(mode, []).append([c for c, _ in lists[mode]])
        pair = {"bm25": lists["bm25_lean"], "semantic": lists["semantic"]}
        for name, fuse in fusers().items():
            runs.setdefault(name, []).append([f.id for f in fuse(pair)])
        saved.append(lists)
    (store.path.parent / "fusion-lists.json").write_text(
        json.dumps({"queries": [q for _i, q in queries], "lists": saved}), encoding="utf-8"
    )
    answers = [i for i, _ in queries]
    return {
        name: metrics([unit_ranking(r, mapping) for r in ranked], answers)
        | {"chunk_mrr@10": chunk_mrr(ranked, answers, mapping)}
        for name, ranked in runs.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.2, help="share of the stdlib's files (by hash)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work", type=Path, help="keeps the vector cache between runs")
    parser.add_argument("--model", help="RLM_EMBED_MODEL for this run (default: the shipped default)")
    parser.add_argument("--smoke", action="store_true", help="the json package only, two variants")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    root = Path(sysconfig.get_paths()["stdlib"])
    work = args.work or Path(tempfile.mkdtemp(prefix="rlm-code-retrieval-"))
    work.mkdir(parents=True, exist_ok=True)
    names = ["today", "whole4000_alone"] if args.smoke else [v for v in args.variants.split(",") if v]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    files = sample_files(root, args.fraction, "json" if args.smoke else None)
    corpus = work / "corpus" / "stdlib"
    shutil.rmtree(corpus, ignore_errors=True)
    units = build_corpus(files, root, corpus)
    queries = sum(1 for u in units if u.query)
    log(f"{len(files)} files, {len(units)} functions, {queries} queries; work dir {work}")
    model = FastEmbedder(args.model)
    embedder = CachedEmbedder(model, cache_path(work, model.model_id))
    report: dict[str, Any] = {
        "files": len(files),
        "functions": len(units),
        "queries": queries,
        "variants": {},
    }
    for name in names:
        store, figures = load_variant(work / "stores", corpus, name, embedder)
        figures["quality"] = evaluate(store, corpus, units, embedder)
        store.close()
        report["variants"][name] = figures
        log(f"{name}: {json.dumps(figures)}")
    print(json.dumps(report, indent=1))
    print_table(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['queries']} queries over {report['functions']} functions in {report['files']} files")
    print(
        f"{'variant':20} {'chunks':>6} {'mean':>5}  "
        + "  ".join(f"{m:>16}" for m in ("bm25", "semantic", "hybrid"))
    )
    for name, figures in report["variants"].items():
        quality = figures["quality"]
        cells = "  ".join(
            f"{quality[m]['mrr@10']:.3f} / {quality[m]['ndcg@10']:.3f}"
            for m in ("bm25", "semantic", "hybrid")
        )
        print(f"{name:20} {figures['chunks']:>6} {figures['mean_chars']:>5}  {cells}   (MRR@10 / nDCG@10)")


if __name__ == "__main__":
    main()
