"""`lock --dry-run` and `matrix` on the real projects PyPI alone can resolve (tests/fixtures/projects/README.md),
against PyPI itself: marked `network` and `slow`. What a real project gets: a lock that fits stays put with one uv
run; a fleet that cannot run it is a "no solution" naming the CUDA it needs; a project whose build needs more than
PyPI is a build failure naming the package - never "loosen a pin"."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.network, pytest.mark.slow]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "projects"


def project(tmp_path: Path, name: str, driver: str, gpu: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root)
    with (root / "pyproject.toml").open("a") as f:
        f.write(f'\n[tool.lockgen]\ndriver = "{driver}"\ngpus = ["{gpu}"]\n')
    return root


def lockgen(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(root), *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_dry_run_on_a_real_project_that_fits_changes_nothing(tmp_path: Path) -> None:
    root = project(tmp_path, "cs336-systems", "580.65.06", "H100")
    proc = lockgen(root, "lock", "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["uv_runs"] == 1 and all(not m["changes"] for m in doc["members"])


def test_dry_run_on_a_real_project_the_fleet_cannot_run(tmp_path: Path) -> None:
    root = project(tmp_path, "cs336-systems", "535.54.03", "A100")
    proc = lockgen(root, "lock", "--dry-run")
    assert proc.returncode == 1
    assert "error: no solution" in proc.stderr and "CUDA 13.0" in proc.stderr and "580.65.06" in proc.stderr


def test_matrix_on_a_real_project(tmp_path: Path) -> None:
    root = project(tmp_path, "cs336-systems", "580.65.06", "H100")
    proc = lockgen(root, "matrix", "--drivers", "535", "580", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["failed"] == 1
    low, high = doc["rows"]
    assert low["kind"] == "no-solution" and not low["error"].startswith("no solution")
    assert high["error"] is None and high["members"]["cs336-systems"]["cuda"] == "13.0"
