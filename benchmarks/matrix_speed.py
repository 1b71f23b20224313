"""`lockgen matrix` over 10 drivers vs one `lockgen lock --dry-run`, side by side, and the serial matrix
(`--jobs 1`) as the baseline.

Run from the repository root: `uv run python benchmarks/matrix_speed.py [--runs N] [--also-jobs 4 10]`. Every
command works on staging copies, so the repository is never touched. Needs PyPI (uv resolves against it; uv's cache
is warmed by one run of each command first). Bytecode is compiled as users run it (PYTHONDONTWRITEBYTECODE is
removed from the children's environment). Prints the median of N interleaved runs of each command, the ratios, and
the rows' outcome. Goal (issue 15): the 10-driver matrix at most 2x one `lock --dry-run` on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# as users run it: Python may cache bytecode (some sandboxes set PYTHONDONTWRITEBYTECODE, which makes every run
# compile lockgen, packaging and tomlkit from source)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the command and everything it ran, stdout)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
    return elapsed, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--also-jobs", type=int, nargs="*", default=[], metavar="N", help="also time `--jobs N`")
    args = ap.parse_args()
    from lockgen.ops.matrix import default_drivers, default_jobs
    from lockgen.tables.knowledge import load_knowledge

    drivers = default_drivers(load_knowledge())[-10:]  # the 10 newest driver branches in lockgen's tables
    lockgen = [sys.executable, "-m", "lockgen", "-q"]
    matrix = [*lockgen, "matrix", "--json", "--drivers", *drivers]
    cmds = {
        "lockgen lock --dry-run": ([*lockgen, "lock", "--dry-run"], (0,)),
        f"lockgen matrix, 10 drivers (--jobs {default_jobs()}, the default)": (matrix, (0, 1)),
        **{f"lockgen matrix, 10 drivers, --jobs {n}": ([*matrix, "--jobs", str(n)], (0, 1)) for n in args.also_jobs},
        "lockgen matrix, 10 drivers, --jobs 1 (serial)": ([*matrix, "--jobs", "1"], (0, 1)),
    }
    outputs: dict[str, str] = {}
    for name, (argv, ok) in cmds.items():  # warm-up: bytecode caches, uv's cache
        outputs[name] = timed(argv, ok)[2]
    times: dict[str, list[float]] = {k: [] for k in cmds}
    cpu: dict[str, list[float]] = {k: [] for k in cmds}
    load = os.getloadavg()[0]
    for _ in range(args.runs):
        for name, (argv, ok) in cmds.items():
            wall, used, _ = timed(argv, ok)
            times[name].append(wall)
            cpu[name].append(used)
    med = {k: statistics.median(v) for k, v in times.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    names = list(cmds)
    base, parallel, serial = med[names[0]], med[names[1]], med[names[-1]]
    print(f"{os.cpu_count()} CPUs, drivers {' '.join(drivers)}, median of {args.runs} interleaved runs")
    print(f"load average (1 min) before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(f"{'command':62} {'wall s':>7} {'x lock':>7} {'CPU s':>7}")
    for k, v in med.items():
        print(f"{k:62} {v:7.2f} {v / base:7.2f} {med_cpu[k]:7.2f}")
    print(f"\nratio matrix (default jobs) / lock --dry-run: {parallel / base:.2f} (goal <= 2)")
    print(f"ratio serial matrix / lock --dry-run:         {serial / base:.2f}")
    print(f"speed-up of the default over --jobs 1:        {serial / parallel:.2f}x")
    doc = json.loads(outputs[names[1]])
    serial_doc = json.loads(outputs[names[-1]])
    same = doc["rows"] == serial_doc["rows"]
    print(f"rows: {len(doc['rows'])}, failed {doc['failed']}; parallel rows equal the serial rows: {same}")
    for row in doc["rows"]:
        kind = f" ({row['kind']})" if row["kind"] else ""
        print(f"  {row['driver']:>4} {row['window']:<10} {row['status']}{kind}")


if __name__ == "__main__":
    main()
