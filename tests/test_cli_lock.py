"""`lockgen lock` / `bump` through the command line: exit codes, messages, --json, --dry-run - against a local
index (offline) - and the issue's done-when cases against real PyPI (marked `network`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import copy_workspace, digest
from lockgen.cli import main
from lockgen.seams.uvtool import find_uv
from pkgworld import make_world, use_uv_env, uv_env, write_index, write_workspace

WORLD = make_world(
    {"2.10.0": "12.8", "2.14.0": "13.0"},
    packages={"servelib": {"0.19.0": ["torch==2.10.0"], "0.33.0": ["torch==2.14.0"]}},
    members={"serve": ["servelib==0.33.0", "torch==2.14.0"]},
)


def locked_world(world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`world` as a workspace on a local file:// index (fleet: driver 580, an L4), locked, with uv offline for this
    process too."""
    urls = write_index(world, tmp_path / "index").file_urls()
    ws = write_workspace(world, tmp_path / "ws", index_urls=urls, lockgen={"driver": "580.65.06", "gpus": ["L4"]})
    env = use_uv_env(uv_env(tmp_path / "cache", offline=True), monkeypatch)
    subprocess.run([find_uv(), "lock"], cwd=ws, env=env, check=True, capture_output=True)
    return ws


@pytest.fixture
def local_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return locked_world(WORLD, tmp_path, monkeypatch)


@pytest.mark.uv
def test_lock_json_after_lowering_the_driver(local_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (local_ws / "pyproject.toml").read_text().replace('driver = "580.65.06"', 'driver = "570.124.06"')
    (local_ws / "pyproject.toml").write_text(text)
    code = main(["-C", str(local_ws), "lock", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [(m["member"], m["cuda_before"], m["cuda_after"]) for m in out["members"]] == [("serve", "13.0", "12.8")]
    changes = {c["package"]: (c["old"], c["new"]) for c in out["members"][0]["changes"]}
    assert changes["torch"] == ("2.14.0", "2.10.0") and changes["servelib"] == ("0.33.0", "0.19.0")
    assert out["uv_runs"] == 2 and "uv.lock" in out["changed_files"]
    assert main(["-C", str(local_ws), "check", "--no-uv"]) == 0


WORLD_DIRECT = make_world(
    {"2.10.0": "12.8", "2.14.0": "13.0"},
    packages={
        "helperlib": {"1.0.0": [], "2.0.0": []},
        "servelib": {"0.19.0": ["torch==2.10.0", "helperlib<2"], "0.33.0": ["torch==2.14.0", "helperlib>=2"]},
    },
    members={"serve": ["servelib==0.33.0", "torch==2.14.0", "helperlib>=1"]},
)


@pytest.mark.uv
def test_the_plan_names_a_direct_dependency_that_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by the newcomer trial: a driver-550 lock moved train's own `transformers` 5.17.0 -> 4.57.6, and the plan
    listed only CUDA-linked packages. A member's direct dependency that moves is part of the plan (helperlib here is
    pure Python: it moves only because the older servelib needs helperlib<2)."""
    ws = locked_world(WORLD_DIRECT, tmp_path, monkeypatch)
    text = (ws / "pyproject.toml").read_text().replace('driver = "580.65.06"', 'driver = "570.124.06"')
    (ws / "pyproject.toml").write_text(text)
    code = main(["-C", str(ws), "lock", "--dry-run", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out
    changes = {c["package"]: (c["old"], c["new"]) for c in out["members"][0]["changes"]}
    assert changes["helperlib"] == ("2.0.0", "1.0.0"), changes
    assert changes["torch"] == ("2.14.0", "2.10.0")


@pytest.mark.uv
def test_bump_dry_run_prints_the_plan_and_writes_nothing(local_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (local_ws / "pyproject.toml").read_text().replace('driver = "580.65.06"', 'driver = "570"')
    (local_ws / "pyproject.toml").write_text(text)
    before = digest(local_ws)
    code = main(["-C", str(local_ws), "bump", "torch", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and digest(local_ws) == before
    assert "plan (dry run, nothing written)" in out
    assert re.search(r"^serve: CUDA 13\.0 -> 12\.8$", out, re.M) and "torch: 2.14.0 -> 2.10.0" in out


@pytest.mark.uv
def test_bump_to_a_version_that_does_not_exist(local_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(local_ws)
    code = main(["-C", str(local_ws), "bump", "torch", "--to", "99.0.0"])
    err = capsys.readouterr().err
    assert code == 1 and digest(local_ws) == before
    assert "no solution: torch 99.0.0 is not published" in err and "Traceback" not in err


@pytest.mark.uv
def test_bump_unknown_member_and_unknown_package(local_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(local_ws), "bump", "torch", "--member", "nope"]) == 2
    assert "--member nope: not a member" in capsys.readouterr().err
    assert main(["-C", str(local_ws), "bump", "left-pad"]) == 2
    assert "left-pad is not installed by any member" in capsys.readouterr().err


@pytest.mark.uv
def test_sigint_from_outside_restores_every_file(local_ws: Path) -> None:
    """A real Ctrl-C (SIGINT to the process) while uv runs: exit 130, files as before."""
    started = local_ws.parent / "uv-started"
    fake = local_ws.parent / "slow-uv"
    fake.write_text(f'#!/bin/sh\ntouch {started}\nsleep 30\nexec {find_uv()} "$@"\n')
    fake.chmod(0o755)
    text = (local_ws / "pyproject.toml").read_text().replace('driver = "580.65.06"', 'driver = "570"')
    (local_ws / "pyproject.toml").write_text(text)
    before = digest(local_ws)
    env = {**os.environ, "UV": str(fake)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockgen", "-C", str(local_ws), "lock"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    import time

    deadline = time.monotonic() + 20
    while not started.exists():  # wait until lockgen runs uv (before: waited 20 s for an edit made in staging)
        assert time.monotonic() < deadline and proc.poll() is None, "lockgen never ran uv"
        time.sleep(0.05)
    proc.send_signal(2)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and digest(local_ws) == before


# ---- the done-when cases on the real workspace, against PyPI ----


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return copy_workspace(tmp_path / "repo")


def _cuda_of(root: Path) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(root), "check", "--json"], capture_output=True, text=True
    )
    doc = json.loads(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    return {m["member"]: m["cuda"] for m in doc["members"] if m["cuda"]}


@pytest.mark.network
@pytest.mark.slow
def test_pypi_driver_570_relocks_both_members_to_cuda_12_8_or_older(repo_copy: Path) -> None:
    text = (repo_copy / "pyproject.toml").read_text()
    (repo_copy / "pyproject.toml").write_text(re.sub(r'driver = "[^"]+"', 'driver = "570.124.06"', text, count=1))
    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(repo_copy), "lock"], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cudas = _cuda_of(repo_copy)  # also runs `uv lock --check`
    assert set(cudas) == {"train", "serve"} and all(tuple(map(int, c.split("."))) <= (12, 8) for c in cudas.values()), (
        cudas
    )
    pins = tomllib.loads((repo_copy / "workspaces/serve/pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in p for p in pins)


@pytest.mark.slow
@pytest.mark.network
def test_pypi_driver_550_steers_serve_off_transformers_5_without_moving_trains_pin(repo_copy: Path) -> None:
    """The newcomer trial's friction 9 (notes/newcomer-trial.md): at 550, serve gets vllm 0.8.5, which needs
    transformers < 5 (tables/data/hidden.toml). The exclusion was written workspace-wide and moved train's own
    transformers==5.17.0 to 4.57.6; train and serve are in `[tool.uv] conflicts`, so it is serve's alone now."""
    text = (repo_copy / "pyproject.toml").read_text()
    (repo_copy / "pyproject.toml").write_text(re.sub(r'driver = "[^"]+"', 'driver = "550.54.15"', text, count=1))
    before = digest(repo_copy)
    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(repo_copy), "lock", "--dry-run", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    changes = {m["member"]: {c["package"]: (c["old"], c["new"]) for c in m["changes"]} for m in out["members"]}
    assert changes["serve"]["vllm"][1].startswith("0.8.5") and "torch" in changes["train"]
    assert "transformers" not in changes["train"], changes["train"].get("transformers")
    assert any(e["package"] == "transformers" for e in out["excluded"])  # serve is still steered off transformers 5
    assert not [c for c in out["constraints"] if c.startswith("transformers")]  # ... but not workspace-wide
    assert digest(repo_copy) == before


@pytest.mark.slow
@pytest.mark.network
def test_pypi_bump_dry_run_changes_nothing(repo_copy: Path) -> None:
    before = digest(repo_copy)
    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(repo_copy), "bump", "torch", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "plan (dry run, nothing written)" in proc.stdout and re.search(r"^train: CUDA ", proc.stdout, re.M)
    assert digest(repo_copy) == before


@pytest.mark.slow
@pytest.mark.network
def test_pypi_bump_to_99_explains_and_changes_nothing(repo_copy: Path) -> None:
    before = digest(repo_copy)
    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(repo_copy), "bump", "torch", "--to", "99.0.0"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1
    assert "torch 99.0.0 is not published" in proc.stderr and "uv said:" in proc.stderr
    assert digest(repo_copy) == before
    shutil.rmtree(repo_copy)


@pytest.mark.uv
def test_lock_that_fits_names_no_steering(local_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "steered:" lines named constraints about packages that did not move (issue 10)."""
    text = (local_ws / "pyproject.toml").read_text()
    (local_ws / "pyproject.toml").write_text(
        text.replace("[tool.lockgen]", '[tool.lockgen]\nmanaged-constraints = ["servelib!=0.9.*"]', 1).replace(
            "[tool.uv]", '[tool.uv]\nconstraint-dependencies = ["servelib!=0.9.*"]', 1
        )
    )
    subprocess.run([find_uv(), "lock"], cwd=local_ws, check=True, capture_output=True)
    code = main(["-C", str(local_ws), "lock"])
    out = capsys.readouterr().out
    assert code == 0 and "changed: nothing" in out and "steered:" not in out
