"""One huge JSON string loads in linear time: seconds per MB at two sizes, against a text baseline.

    python benchmarks/huge_values.py            # 12 MB and 48 MB (a minute or two)
    python benchmarks/huge_values.py --smoke    # 2 MB and 8 MB (the test suite runs this)

Cases, each loaded by `load_document` (chunks, FTS index, columnar copy) into a new store in a fresh
child process: a file holding one JSON string of N MB (`"word word …"`, the worst case of issue 13:
48 MB took 95.7 s, 12 MB 2.0 s), and as the baseline measured in the same run, a text file of the same
words in 100-character lines. Figures: wall and CPU seconds, CPU seconds per MB, and the ratio of the
per-MB cost at the large size to the small one (linear: about 1; quadratic: about large/small).
CPU seconds, not wall time, because the machine is shared.
"""

import argparse
import json
import random
import resource
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def words(megabytes: int, seed: int = 13) -> str:
    rng = random.Random(seed)
    vocabulary = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(500)]
    target = megabytes << 20
    out: list[str] = []
    size = 0
    while size < target:
        word = rng.choice(vocabulary)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)


def make_files(workdir: Path, megabytes: int) -> dict[str, Path]:
    text = words(megabytes)
    json_file = workdir / f"string_{megabytes}mb.json"
    json_file.write_text(json.dumps(text), encoding="utf-8")
    lines = workdir / f"text_{megabytes}mb.txt"
    with lines.open("w", encoding="utf-8") as out:
        for start in range(0, len(text), 100):
            out.write(text[start : start + 100] + "\n")
    return {"json string": json_file, "text lines": lines}


def child(path: Path, workdir: Path) -> None:
    from rlm_mcp.config import load_settings
    from rlm_mcp.loading import load_document
    from rlm_mcp.store import open_store

    db = workdir / f"{path.stem}.db"
    env = {"CLAUDE_PROJECT_DIR": str(workdir), "RLM_DB": str(db), "RLM_ALLOWED_ROOTS": str(path.parent),
           "RLM_EMBED_BACKGROUND": "0"}  # fmt: skip
    settings = load_settings(env)
    store = open_store(settings.db_path)
    import rlm_mcp.data  # noqa: F401  (imported before the clock starts: not part of the load)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    result = load_document(store, settings, str(path))
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    doc = result.documents[0]
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime - cpu,
                "chunks": doc.chunks,
                "bytes": doc.bytes,
                "warnings": list(doc.warnings),
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }
        )
    )
    store.close()


def measure(path: Path, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(path), str(workdir)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="2 MB and 8 MB instead of 12 MB and 48 MB")
    parser.add_argument("--sizes", type=int, nargs=2, metavar=("SMALL", "LARGE"), help="sizes in MB")
    parser.add_argument("--work", type=Path, help="folder for the generated files (default: a temp dir)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    small, large = args.sizes or ((2, 8) if args.smoke else (12, 48))
    workdir = args.work or Path(tempfile.mkdtemp(prefix="rlm-huge-"))
    workdir.mkdir(parents=True, exist_ok=True)
    per_mb: dict[str, dict[int, float]] = {}
    for megabytes in (small, large):
        for case, path in make_files(workdir, megabytes).items():
            figures = measure(path, workdir)
            mb = figures["bytes"] / (1 << 20)
            per_mb.setdefault(case, {})[megabytes] = figures["cpu"] / mb
            warned = f"  warnings: {figures['warnings']}" if figures["warnings"] else ""
            print(
                f"{case:12} {mb:6.1f} MB  wall {figures['wall']:6.2f} s  CPU {figures['cpu']:6.2f} s  "
                f"{figures['cpu'] / mb:6.3f} CPU s/MB  {figures['chunks']:6,} chunks  "
                f"peak RSS {figures['peak_rss_mb']:4.0f} MB{warned}",
                flush=True,
            )
    for case, costs in per_mb.items():
        print(
            f"{case:12} per-MB cost at {large} MB / at {small} MB: ratio {costs[large] / costs[small]:.2f} "
            f"(linear ~1, quadratic ~{large / small:.0f})"
        )
    json_cost, text_cost = per_mb["json string"][large], per_mb["text lines"][large]
    print(f"json string vs text lines at {large} MB: ratio {json_cost / text_cost:.2f} (CPU s/MB)")


if __name__ == "__main__":
    main()
