"""Time `lockgen check` against `uv lock --check --offline` on the committed lock, side by side.

Run from the repository root: `uv run python benchmarks/check_speed.py [--runs N]`. Every command runs once to warm
up (bytecode written, uv's cache and lockgen's verdict cache filled), then N times interleaved (so all see the same
machine load); prints the medians and the ratios. The children run with bytecode caching on, as users run lockgen
(some sandboxes set PYTHONDONTWRITEBYTECODE, which makes every run compile lockgen and its libraries from source).

Rows: `lockgen check` as users run it (uv's check started first, the rules' verdict from the cache when nothing
changed), the same with the cache off (LOCKGEN_NO_CACHE=1: the rules run every time), `--no-uv`, and Python's own
start as the floor. Goal (issue 15): `lockgen check` <= 2x uv (aim 1.5x).
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

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
NO_CACHE = {**ENV, "LOCKGEN_NO_CACHE": "1"}


def timed(argv: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument(
        "--before",
        metavar="PYTHON",
        help="also time `PYTHON -m lockgen check` on this repository (another checkout's environment: before/after)",
    )
    args = ap.parse_args()
    from lockgen.seams.uvtool import find_uv

    uv = find_uv()
    lockgen = [sys.executable, "-m", "lockgen", "check"]
    cmds: dict[str, tuple[list[str], dict[str, str]]] = {
        "uv lock --check --offline": ([uv, "lock", "--check", "--offline"], ENV),
        "lockgen check": (lockgen, ENV),
        "lockgen check (no verdict cache)": (lockgen, NO_CACHE),
        "lockgen check --no-uv": ([*lockgen, "--no-uv"], ENV),
        "lockgen check --no-uv (no verdict cache)": ([*lockgen, "--no-uv"], NO_CACHE),
        "python -c pass (interpreter start)": ([sys.executable, "-c", "pass"], ENV),
    }
    if args.before:
        cmds["lockgen check (--before)"] = ([args.before, "-m", "lockgen", "-C", str(ROOT), "check"], ENV)
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for argv, env in cmds.values():  # warm-up: bytecode, uv's cache, lockgen's verdict cache
        timed(argv, env)
    for _ in range(args.runs):
        for name, (argv, env) in cmds.items():
            times[name].append(timed(argv, env))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["uv lock --check --offline"]
    print(f"{'command':45} {'median s':>9} {'x uv':>7}")
    for k, v in med.items():
        print(f"{k:45} {v:9.4f} {v / base:7.2f}")
    print(f"\nload average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, runs={args.runs}")
    print(f"ratio lockgen check / uv lock --check --offline: {med['lockgen check'] / base:.2f} (goal <= 2, aim 1.5)")


if __name__ == "__main__":
    main()
