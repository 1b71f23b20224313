"""`lockgen check` end to end on copies of this repository's workspace (the issue's done-when cases)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from lockgen.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_committed_lock_is_clean(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 0, out
    assert re.search(r"^train: CUDA 13\.0 \(torch 2\.14\.1\)", out, re.M)
    assert re.search(r"^serve: CUDA 13\.0 \(torch 2\.14\.0\)", out, re.M)


@pytest.mark.uv
def test_committed_lock_is_clean_and_fresh_with_uv(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], uv_bin: str
) -> None:
    code, out, err = run(capsys, "-C", str(workspace_copy), "check")
    assert code == 0, out + err


def test_json_output(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True and doc["violations"] == []
    assert {m["member"]: m["cuda"] for m in doc["members"]}["serve"] == "13.0"
    assert doc["fleet"]["driver"] == "580.65.06"


def test_loosened_torch_pin(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(workspace_copy / "workspaces/train/pyproject.toml", '"torch==2.14.1"', '"torch>=2.4"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 1
    assert "error[strict-pin] workspaces/train/pyproject.toml [train] torch" in out
    assert '"torch==2.14.1"' in out  # what to write


@pytest.mark.uv
def test_loosened_pin_also_makes_the_lock_stale(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], uv_bin: str
) -> None:
    edit(workspace_copy / "workspaces/train/pyproject.toml", '"torch==2.14.1"', '"torch>=2.4"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check")
    assert code == 1 and "error[lock-fresh]" in out


def test_driver_lowered_to_570(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(workspace_copy / "pyproject.toml", 'driver = "580.65.06"', 'driver = "570"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 1
    assert "window: CUDA 11.8, 12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.8\n" in out
    assert out.count("error[cuda-window]") == 2  # train and serve
    assert "needs driver >= 580.65.06" in out and "lockgen lock" in out


def test_truncated_lock(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = workspace_copy / "uv.lock"
    lock.write_text(lock.read_text()[:5000])
    code, out, err = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 2 and out == ""
    assert err.startswith("lockgen: error: uv.lock:") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_gpu(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(workspace_copy / "pyproject.toml", '"A100"', '"A1000"')
    code, _, err = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 2
    assert "pyproject.toml: tool.lockgen.gpus[2]: unknown GPU 'A1000'; did you mean 'A100'?" in err


def test_driver_not_a_version(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(workspace_copy / "pyproject.toml", 'driver = "580.65.06"', 'driver = "latest"')
    code, _, err = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 2 and "pyproject.toml: tool.lockgen.driver: not an NVIDIA driver version: 'latest'" in err


def test_malformed_pyproject(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workspace_copy / "workspaces/serve/pyproject.toml").write_text("[project\nname=")
    code, _, err = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 2 and "workspaces/serve/pyproject.toml: is not valid TOML" in err


def test_no_workspace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-C", str(tmp_path), "check")
    assert code == 2 and "no pyproject.toml" in err


def test_help_explains_rules(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "strict-pin" in out and "cuda-window" in out


def test_console_script_runs(repo_root: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(repo_root), "check", "--no-uv"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
