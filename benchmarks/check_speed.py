"""Time `lockgen check` against `uv lock --check --offline` on the committed lock, side by side.

Run from the repository root: `uv run python benchmarks/check_speed.py [--runs N]`. Prints the median of
N runs of each (interleaved, so both see the same machine load) and the ratio. Also breaks lockgen's
time down (interpreter start, imports, reading the lock, rules, uv) so what dominates is visible.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# as users run it: Python may cache bytecode (some sandboxes set PYTHONDONTWRITEBYTECODE, which makes every run
# compile lockgen, packaging and tomlkit from source - about 0.1 s)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    from lockgen.seams.uvtool import find_uv

    uv = find_uv()
    cmds = {
        "uv lock --check --offline": [uv, "lock", "--check", "--offline"],
        "lockgen check": [sys.executable, "-m", "lockgen", "check"],
        "lockgen check --no-uv": [sys.executable, "-m", "lockgen", "check", "--no-uv"],
        "python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
        "python -c 'import lockgen.cli' (imports)": [
            sys.executable,
            "-c",
            "import lockgen.cli, lockgen.rules, lockgen.model.workspace",
        ],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for argv in cmds.values():  # warm-up: bytecode caches, uv's cache
        timed(argv)
    for _ in range(args.runs):
        for name, argv in cmds.items():
            times[name].append(timed(argv))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["uv lock --check --offline"]
    print(f"{'command':45} {'median s':>9} {'x uv':>7}")
    for k, v in med.items():
        print(f"{k:45} {v:9.4f} {v / base:7.2f}")
    print(f"\nratio lockgen check / uv lock --check --offline: {med['lockgen check'] / base:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
