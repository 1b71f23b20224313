"""`lockgen bump torch` when nothing moves vs bare `uv lock` runs, side by side, and the uv runs per lockgen command.

Run from the repository root: `uv run python benchmarks/bump_speed.py [--runs N]`. Needs PyPI (uv resolves against
it; with a warm uv cache most of the time is uv's own). Every run works on fresh copies, so the repository is never
touched; the commands of one run are interleaved (the same machine load for all). Rows:

- `uv lock --upgrade-package torch`: torch alone freed.
- `uv lock` freeing what the bump frees: torch's family (`--upgrade-package` for each, as lockgen.ops.resolve
  computes it) with exclude-newer moved to now - the same question lockgen asks uv, asked directly. Issue 15's goal
  compares with this row ("a bare uv lock freeing the same packages"): <= 1.5x.
- `lockgen bump torch` on a copy of the workspace files (pyprojects, lock, toolchain, notebooks).
- `lockgen bump torch` in a git clone of the repository (its test fixtures included), which is what users have:
  the staging copy (lockgen.seams.stage) is lean there when uv builds nothing.

Children run with bytecode caching on (PYTHONDONTWRITEBYTECODE removed) after one warm-up run of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def fresh_copy(base: Path) -> Path:
    from conftest import copy_workspace

    dest = Path(tempfile.mkdtemp(prefix="bump-bench-", dir=base))
    return copy_workspace(dest)


def fresh_clone(base: Path) -> Path:
    """A git clone of the repository's HEAD (shares its objects): every tracked file, as a user's checkout."""
    dest = Path(tempfile.mkdtemp(prefix="bump-clone-", dir=base)) / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(dest)], check=True, capture_output=True)
    return dest


def timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=ENV)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}): {proc.stderr[-600:]}")
    return elapsed, proc


def family_upgrades(ws_root: Path) -> list[str]:
    """What `lockgen bump torch` frees in uv, computed the way lockgen.ops.resolve does."""
    from lockgen.model.family import family_of
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.resolve import upgrades_of

    ws = load_workspace(ws_root)
    out: set[str] = set()
    for m in ws.members:
        if ws.lock.by_name(m):
            out |= upgrades_of(family_of("torch", ws.installed(m)))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from lockgen.seams.uvtool import find_uv

    uv = find_uv()
    lockgen = [sys.executable, "-m", "lockgen"]
    base = Path(tempfile.mkdtemp(prefix="lockgen-bench-"))
    try:
        family = family_upgrades(ROOT)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows: dict[str, tuple[list[str], bool]] = {  # name -> (argv, in a git clone?)
            "uv lock --upgrade-package torch": ([uv, "lock", "--upgrade-package", "torch"], False),
            f"uv lock freeing the bump's {len(family)} packages": (
                [uv, "lock", "--exclude-newer", now, *(a for p in family for a in ("--upgrade-package", p))],
                False,
            ),
            "lockgen bump torch (workspace files)": ([*lockgen, "bump", "torch", "--json"], False),
            "lockgen bump torch (git clone of the repo)": ([*lockgen, "bump", "torch", "--json"], True),
        }
        times: dict[str, list[float]] = {k: [] for k in rows}
        uv_runs: dict[str, int] = {}
        for warm in (True, *([False] * args.runs)):
            for name, (argv, clone) in rows.items():
                where = fresh_clone(base) if clone else fresh_copy(base)
                dt_, proc = timed(argv, where)
                if not warm:
                    times[name].append(dt_)
                if argv[0] != uv:
                    doc = json.loads(proc.stdout)
                    if doc["changed_files"]:
                        sys.exit(f"{name}: something moved ({doc['changed_files']}): not the nothing-to-move case")
                    uv_runs[name] = doc["uv_runs"]
        c = fresh_copy(base)
        _, p = timed([*lockgen, "-C", str(c), "lock", "--json"], c)
        uv_runs["lock (fleet unchanged)"] = json.loads(p.stdout)["uv_runs"]
        d = fresh_copy(base)
        text = (d / "pyproject.toml").read_text()
        (d / "pyproject.toml").write_text(text.replace('driver = "580.65.06"', 'driver = "570.124.06"', 1))
        _, p = timed([*lockgen, "-C", str(d), "lock", "--json"], d)
        uv_runs["lock (driver lowered to 570)"] = json.loads(p.stdout)["uv_runs"]
        med = {k: statistics.median(v) for k, v in times.items()}
        torch_only, same = (med[k] for k in list(rows)[:2])
        print(f"{'command':50} {'median s':>9} {'x torch':>8} {'x same':>7}")
        for k, v in med.items():
            print(f"{k:50} {v:9.2f} {v / torch_only:8.2f} {v / same:7.2f}")
        print(f"\nload average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, runs={args.runs}")
        for k in list(rows)[2:]:
            print(f"ratio {k} / uv freeing the same packages: {med[k] / same:.2f} (goal <= 1.5)")
            print(f"ratio {k} / uv lock --upgrade-package torch: {med[k] / torch_only:.2f}")
        print("\nuv runs per lockgen command (goal: <= 2 per bump):")
        for k, v in uv_runs.items():
            print(f"  {k:50} {v}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
