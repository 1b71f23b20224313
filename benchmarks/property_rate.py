"""Scenarios per minute of the property suite's core loop, next to bare `uv lock` on the same worlds.

A scenario is what one example of `test_soundness` (tests/test_properties.py) does: publish a generated world as
file:// indexes, write its workspace with a fleet, optionally `uv lock` it first (the state users start from),
run lockgen's lock with the real uv (in-process `relock`, offline), and check every member's CUDA against NVIDIA's
window (or that a refusal left every file unchanged). The baseline does the same writing and one bare `uv lock`.
Both use one uv cache per mode (as the suite uses one per test) and the same worlds, drawn deterministically;
the two modes alternate scenario by scenario so both see the same machine load.

Run from the repository root: `uv run python benchmarks/property_rate.py [--scenarios 60] [--json]`.
Goal (issue 4): >= 60 lockgen scenarios per minute on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import pkgworld as pw  # noqa: E402
import test_properties as tp  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from lockgen.seams.uvtool import find_uv  # noqa: E402


def draw_scenarios(n: int) -> list[tuple[pw.World, tp.FleetSpec, bool, bool]]:
    """`n` (world, fleet, start_locked, route) tuples from the suite's own strategies, derandomized."""
    out: list[tuple[pw.World, tp.FleetSpec, bool, bool]] = []

    @settings(max_examples=n, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(st.tuples(pw.worlds(max_members=2), tp.fleets(), st.booleans(), st.booleans()))
    def collect(case: tuple[pw.World, tp.FleetSpec, bool, bool]) -> None:
        if len(out) < n:
            out.append(case)

    collect()
    return out


def baseline(lab: tp.Lab, world: pw.World, fleet: tp.FleetSpec) -> bool:
    """Write the world's index and workspace, run a bare `uv lock`; True when uv found a solution."""
    lab.forget()  # as Lab.workspace does for the lockgen side
    paths = lab.index(world)
    ws = pw.write_workspace(
        world, lab.fresh(), index_urls=paths.file_urls(), lockgen=fleet.config(), exclude_newer=tp.EXCLUDE_NEWER
    )
    r = subprocess.run([find_uv(), "lock"], cwd=ws, env=lab.env, capture_output=True, timeout=120)
    return r.returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", type=int, default=60, help="worlds to run in each mode (default 60)")
    ap.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = ap.parse_args()
    cases = draw_scenarios(args.scenarios)
    times: dict[str, list[float]] = {"lockgen": [], "uv": []}
    solved = {"uv": 0}
    outcomes: dict[str, int] = {}
    locked_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="property-rate-") as tmp:
        labs = {"lockgen": tp.Lab(Path(tmp) / "lockgen"), "uv": tp.Lab(Path(tmp) / "uv")}
        for lab in labs.values():
            lab.root.mkdir()
        for world, fleet, start_locked, route in cases:
            t = time.perf_counter()
            try:
                kind = tp.outcome(tp.soundness(labs["lockgen"], world, fleet, start_locked, route))
            except AssertionError as e:  # a property failure is a finding, not a benchmark error
                print(f"soundness failed: {str(e).splitlines()[0]}", file=sys.stderr)
                kind = "property failed"
            times["lockgen"].append(time.perf_counter() - t)
            outcomes[kind] = outcomes.get(kind, 0) + 1
            if kind == "locked":
                locked_times.append(times["lockgen"][-1])
            t = time.perf_counter()
            solved["uv"] += baseline(labs["uv"], world, fleet)
            times["uv"].append(time.perf_counter() - t)
    result: dict[str, Any] = {"scenarios": len(cases)}
    for mode, ts in times.items():
        result[mode] = {
            "per_minute": round(60 * len(ts) / sum(ts), 1),
            "median_s": round(statistics.median(ts), 4),
            "max_s": round(max(ts), 4),
            "total_s": round(sum(ts), 2),
        }
    result["uv"]["solved"] = solved["uv"]
    result["lockgen"]["outcomes"] = outcomes
    result["lockgen"]["locked_median_s"] = round(statistics.median(locked_times), 4) if locked_times else None
    result["ratio_uv_over_lockgen"] = round(result["uv"]["per_minute"] / result["lockgen"]["per_minute"], 2)
    result["goal_met"] = result["lockgen"]["per_minute"] >= 60
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"scenarios: {len(cases)} (same worlds and fleets in both modes)")
    for mode, label in (("lockgen", "lockgen lock + checks"), ("uv", "bare uv lock (baseline)")):
        r = result[mode]
        print(f"{label:<26} {r['per_minute']:>7.1f} /min  median {r['median_s']:.3f} s  max {r['max_s']:.3f} s")
    print(f"lockgen outcomes: {outcomes}; median of the locked ones {result['lockgen']['locked_median_s']} s")
    print(f"bare uv lock solved {solved['uv']} of {len(cases)}")
    print(f"ratio (uv / lockgen): {result['ratio_uv_over_lockgen']:.2f}x; goal >= 60/min: {result['goal_met']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
