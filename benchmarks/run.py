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
    # The short CPU-bound login benchmark first: the others leave PostgreSQL busy with
    # background work (autovacuum, dropping their databases) for a while after they end.
    order = {"bench_login": 0, "bench_organizations": 1, "bench_dashboard": 2, "bench_campaign": 3}
    scripts = sorted(HERE.glob("bench_*.py"), key=lambda p: (order.get(p.stem, 9), p.stem))
    for script in scripts:
        if args.only and args.only not in script.stem:
            continue
        print(f"\n=== {script.stem} ===", flush=True)
        result = subprocess.run([sys.executable, str(script), *rest], cwd=HERE.parent)
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
