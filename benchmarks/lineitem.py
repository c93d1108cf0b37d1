"""TPC-H lineitem for the benchmarks that load a real table: generated once per scale factor by
tpchgen-cli (a Rust binary on PyPI: `pip install tpchgen-cli`) and reused from `directory` after.
"""

import shutil
import subprocess
import sys
from pathlib import Path


def make_lineitem(scale: float, directory: Path, instead: str = "pass --csv FILE") -> Path:
    """`directory/sf<scale>/lineitem.csv`, generated when absent; without tpchgen-cli the benchmark
    exits naming the install and `instead`, what the benchmark takes in its place."""
    target = directory / f"sf{scale}" / "lineitem.csv"
    if target.exists():
        return target
    tool = shutil.which("tpchgen-cli") or str(Path(sys.executable).with_name("tpchgen-cli"))
    if not Path(tool).exists():
        sys.exit(f"tpchgen-cli is not installed: pip install tpchgen-cli, or {instead}")
    subprocess.run(
        [tool, "csv", "-s", str(scale), "--tables=lineitem", f"--output-dir={target.parent}"], check=True
    )
    return target
