"""`lockgen bump torch` when nothing moves, against the uv runs it makes and a bare `uv lock`, side by side; and the
number of uv runs per lockgen command.

Run from the repository root: `uv run python benchmarks/bump_speed.py [--runs N]`. Needs PyPI (uv resolves against
it; with a warm uv cache most of the time is uv's own). Every run works on fresh copies, so the repository is never
touched; the commands of one run are interleaved (the same machine load for all). Rows:

- `uv lock --upgrade-package torch`: torch alone freed, its `==` pin left in place - uv has nothing to decide.
- `lockgen bump torch` on a copy of the workspace files (pyprojects, lock, toolchain, notebooks), and in a git clone
  of the repository (its test fixtures included: what users have; the staging copy is lean there when uv builds
  nothing). For each, the wall time of the uv runs inside it is measured too ($UV is a wrapper that logs each run's
  start and end): uv resolving torch's family with its pins relaxed and exclude-newer at now - the same packages
  freed, asked of uv directly. Issue 15's goal compares with that ("a bare uv lock freeing the same packages"):
  lockgen's total <= 1.5x its uv time.

Children run with bytecode caching on (PYTHONDONTWRITEBYTECODE removed) after one warm-up run of each.
"""

from __future__ import annotations

import argparse
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
# this repository's workspace: what `lock`/`bump` read and write (the rest of the tree is the git-clone row's)
WORKSPACE_FILES = (
    "pyproject.toml",
    "uv.lock",
    ".python-version",
    "workspaces/train/pyproject.toml",
    "workspaces/serve/pyproject.toml",
    "lockgen/pyproject.toml",
)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def fresh_copy(base: Path) -> Path:
    """The repository's workspace files (pyprojects, lock, toolchain, notebooks) in a new folder under `base`."""
    dest = Path(tempfile.mkdtemp(prefix="bump-bench-", dir=base))
    extra = [*(ROOT / "nix").glob("*.json"), *(ROOT / "notebooks").glob("*.py")]
    for rel in (*WORKSPACE_FILES, *(p.relative_to(ROOT).as_posix() for p in extra)):
        if (ROOT / rel).exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def fresh_clone(base: Path) -> Path:
    """A git clone of the repository's HEAD (shares its objects): every tracked file, as a user's checkout."""
    dest = Path(tempfile.mkdtemp(prefix="bump-clone-", dir=base)) / "repo"
    subprocess.run(["git", "clone", "-q", "--shared", str(ROOT), str(dest)], check=True, capture_output=True)
    return dest


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv[:4])} ... failed ({proc.returncode}): {proc.stderr[-600:]}")
    return elapsed, proc


def uv_wrapper(base: Path, uv: str) -> tuple[Path, Path]:
    """A uv that runs the real one and appends `start end` (seconds) of each run to a log: (wrapper, log)."""
    log = base / "uv-times.log"
    wrapper = base / "uv-timed"
    wrapper.write_text(
        f'#!/bin/sh\nstart=$(date +%s.%N)\n"{uv}" "$@"\nrc=$?\necho "$start $(date +%s.%N)" >> "{log}"\nexit $rc\n'
    )
    wrapper.chmod(0o755)
    return wrapper, log


def uv_seconds(log: Path) -> float:
    """The wall time of the uv runs logged since the log was last cleared; clears it."""
    if not log.exists():
        return 0.0
    total = sum(float(b) - float(a) for a, b in (line.split() for line in log.read_text().splitlines()))
    log.unlink()
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    from lockgen.seams.uvtool import find_uv

    uv = find_uv()
    lockgen = [sys.executable, "-m", "lockgen"]
    base = Path(tempfile.mkdtemp(prefix="lockgen-bench-"))
    try:
        wrapper, log = uv_wrapper(base, uv)
        env = {**ENV, "UV": str(wrapper)}
        rows: dict[str, tuple[list[str], bool]] = {  # name -> (argv, in a git clone?)
            "uv lock --upgrade-package torch": ([uv, "lock", "--upgrade-package", "torch"], False),
            "lockgen bump torch (workspace files)": ([*lockgen, "bump", "torch", "--json"], False),
            "lockgen bump torch (git clone of the repo)": ([*lockgen, "bump", "torch", "--json"], True),
        }
        times: dict[str, list[float]] = {k: [] for k in rows}
        inner: dict[str, list[float]] = {k: [] for k in rows}
        uv_runs: dict[str, int] = {}
        for warm in (True, *([False] * args.runs)):
            for name, (argv, clone) in rows.items():
                where = fresh_clone(base) if clone else fresh_copy(base)
                uv_seconds(log)
                took, proc = timed(argv, where, env)
                in_uv = uv_seconds(log)
                if not warm:
                    times[name].append(took)
                    inner[name].append(in_uv)
                if argv[0] != uv:
                    doc = json.loads(proc.stdout)
                    if doc["changed_files"]:
                        sys.exit(f"{name}: something moved ({doc['changed_files']}): not the nothing-to-move case")
                    uv_runs[name] = doc["uv_runs"]
        c = fresh_copy(base)
        _, p = timed([*lockgen, "-C", str(c), "lock", "--json"], c, ENV)
        uv_runs["lock (fleet unchanged)"] = json.loads(p.stdout)["uv_runs"]
        d = fresh_copy(base)
        text = (d / "pyproject.toml").read_text()
        (d / "pyproject.toml").write_text(text.replace('driver = "580.65.06"', 'driver = "570.124.06"', 1))
        _, p = timed([*lockgen, "-C", str(d), "lock", "--json"], d, ENV)
        uv_runs["lock (driver lowered to 570)"] = json.loads(p.stdout)["uv_runs"]
        med = {k: statistics.median(v) for k, v in times.items()}
        torch_only = med["uv lock --upgrade-package torch"]
        print(f"{'command':45} {'median s':>9} {'uv in it':>9} {'x its uv':>9} {'x torch':>8}")
        for k, v in med.items():
            own = statistics.median(inner[k]) or v  # the bare uv row: all of it is uv
            print(f"{k:45} {v:9.2f} {own:9.2f} {v / own:9.2f} {v / torch_only:8.2f}")
        print(f"\nload average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs, runs={args.runs}")
        for k in list(rows)[1:]:
            ratio = statistics.median(t / i for t, i in zip(times[k], inner[k], strict=True))
            print(f"ratio {k} / its uv runs (the same packages freed): {ratio:.2f} (goal <= 1.5)")
            print(f"ratio {k} / uv lock --upgrade-package torch: {med[k] / torch_only:.2f}")
        print("\nuv runs per lockgen command (goal: <= 2 per bump):")
        for k, v in uv_runs.items():
            print(f"  {k:45} {v}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
