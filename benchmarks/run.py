"""`make bench`: runs every `benchmarks/bench_*.py` in turn, each printing its own figures.

Pass arguments through with BENCH_ARGS, e.g. `make bench BENCH_ARGS="--only campaign"`.
Each benchmark measures ratios against a baseline in the same run; none asserts timings.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="run only benchmarks whose name contains this")
    args, rest = parser.parse_known_args()
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in script.stem:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        result = subprocess.run([sys.executable, str(script), *rest], cwd=HERE.parent)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
