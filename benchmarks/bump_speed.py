"""`lockgen bump torch` when nothing changes vs a bare `uv lock --upgrade-package torch`, side by side, and the
number of uv runs per lockgen command.

Run from the repository root: `uv run python benchmarks/bump_speed.py [--runs N]`. Works on temporary copies of the
workspace (pyprojects, lock, toolchain, notebooks), so the repository is never touched. Needs PyPI (uv resolves
against it; with a warm uv cache most of the time is uv's own). Goals (issue 3): ratio <= 1.3, <= 2 uv runs per bump.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def fresh_copy(base: Path) -> Path:
    from conftest import copy_workspace

    dest = Path(tempfile.mkdtemp(prefix="bump-bench-", dir=base))
    return copy_workspace(dest)


def timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - t, proc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from lockgen.seams.uvtool import find_uv

    uv = find_uv()
    lockgen = [sys.executable, "-m", "lockgen"]
    base = Path(tempfile.mkdtemp(prefix="lockgen-bench-"))
    try:
        # warm uv's cache once so neither side pays the first downloads
        warm = fresh_copy(base)
        subprocess.run([uv, "lock", "--upgrade-package", "torch"], cwd=warm, capture_output=True, check=True)
        t_uv: list[float] = []
        t_lg: list[float] = []
        runs: dict[str, int] = {}
        for _ in range(args.runs):
            a = fresh_copy(base)
            dt, p = timed([uv, "lock", "--upgrade-package", "torch"], a)
            if p.returncode != 0:
                sys.exit(f"uv failed: {p.stderr[-400:]}")
            t_uv.append(dt)
            b = fresh_copy(base)
            dt, p = timed([*lockgen, "-C", str(b), "bump", "torch", "--json"], b)
            if p.returncode != 0:
                sys.exit(f"lockgen bump failed: {p.stderr[-400:]}")
            t_lg.append(dt)
            runs["bump torch (nothing to move)"] = json.loads(p.stdout)["uv_runs"]
        c = fresh_copy(base)
        _, p = timed([*lockgen, "-C", str(c), "lock", "--json"], c)
        runs["lock (fleet unchanged)"] = json.loads(p.stdout)["uv_runs"] if p.returncode == 0 else -1
        d = fresh_copy(base)
        text = (d / "pyproject.toml").read_text()
        (d / "pyproject.toml").write_text(text.replace('driver = "580.65.06"', 'driver = "570.124.06"', 1))
        _, p = timed([*lockgen, "-C", str(d), "lock", "--json"], d)
        runs["lock (driver lowered to 570)"] = json.loads(p.stdout)["uv_runs"] if p.returncode == 0 else -1
        mu, ml = statistics.median(t_uv), statistics.median(t_lg)
        print(f"{'command':50} {'median s':>9}")
        print(f"{'uv lock --upgrade-package torch':50} {mu:9.2f}")
        print(f"{'lockgen bump torch (nothing to move)':50} {ml:9.2f}")
        print(f"\nratio lockgen bump / uv lock --upgrade-package: {ml / mu:.2f} (goal <= 1.3), runs={args.runs}")
        print("\nuv runs per command (goal: <= 2 per bump):")
        for k, v in runs.items():
            print(f"  {k:40} {v}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
