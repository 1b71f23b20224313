"""How long `lockgen doctor` takes without --deep: the whole process (interpreter start, imports, workspace, host
probe, checks) and the in-process part (probe_host + diagnose). Run: `uv run python benchmarks/doctor_time.py [N]`."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(n: int = 10) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "lockgen" / "src")}
    argv = [sys.executable, "-m", "lockgen", "-C", str(REPO), "doctor", "--json"]
    walls = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - t)

    sys.path.insert(0, str(REPO / "lockgen" / "src"))
    from lockgen.model.workspace import load_workspace
    from lockgen.ops.diagnose import diagnose
    from lockgen.seams.host import probe_host
    from lockgen.tables.knowledge import load_knowledge

    knowledge = load_knowledge()
    ws = load_workspace(REPO, knowledge)
    inproc = []
    for _ in range(n):
        t = time.perf_counter()
        diagnose(probe_host(), ws, knowledge)
        inproc.append(time.perf_counter() - t)
    print(f"lockgen doctor (whole process, {n} runs): median {statistics.median(walls):.3f}s, max {max(walls):.3f}s")
    print(
        f"probe_host + diagnose (in process, {n} runs): median {statistics.median(inproc):.3f}s, max {max(inproc):.3f}s"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
