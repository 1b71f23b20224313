"""`lockgen check` end to end on throwaway copies of the frozen workspace (tests/fixtures/workspace:
torch 2.10.0 / CUDA 12.8 for train, torch 2.14.0 / CUDA 13.0 for serve), the issue's done-when cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import edit
from lockgen.cli import main

# torch's PyPI build -> its CUDA, from each wheel's METADATA (shared/reference/compat.md section 3a)
TORCH_PYPI_CUDA = {
    "2.8.0": "12.8",
    "2.9.0": "12.8",
    "2.9.1": "12.8",
    "2.10.0": "12.8",
    "2.11.0": "13.0",
    "2.12.0": "13.0",
    "2.12.1": "13.0",
    "2.13.0": "13.0",
    "2.14.0": "13.0",
    "2.14.1": "13.0",
}


def torch_pin(ws: Path, member: str) -> str:
    """The torch pin written in a member's pyproject (read as text, not through lockgen)."""
    m = re.search(r'"torch==([^"]+)"', (ws / f"workspaces/{member}/pyproject.toml").read_text())
    assert m, f"{member} pins no torch"
    return m.group(1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_committed_lock_is_clean(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 0, out
    for member in ("train", "serve"):
        t = torch_pin(workspace_copy, member)
        cuda = re.escape(TORCH_PYPI_CUDA[t])
        assert re.search(rf"^  {member}: (linux x86_64: )?CUDA {cuda} \(torch {re.escape(t)}\)", out, re.M), out


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
    assert {m["member"]: m["cuda"] for m in doc["members"]}["serve"] == TORCH_PYPI_CUDA[
        torch_pin(workspace_copy, "serve")
    ]
    assert doc["fleet"]["driver"] == "580.65.06"


def test_loosened_torch_pin(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pin = torch_pin(workspace_copy, "train")
    edit(workspace_copy / "workspaces/train/pyproject.toml", f'"torch=={pin}"', '"torch>=2.4"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 1
    assert "error[strict-pin] workspaces/train/pyproject.toml [train] torch" in out
    assert f'"torch=={pin}"' in out  # what to write


@pytest.mark.uv
def test_loosened_pin_also_makes_the_lock_stale(
    workspace_copy: Path, capsys: pytest.CaptureFixture[str], uv_bin: str
) -> None:
    pin = torch_pin(workspace_copy, "train")
    edit(workspace_copy / "workspaces/train/pyproject.toml", f'"torch=={pin}"', '"torch>=2.4"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check")
    assert code == 1 and "error[lock-fresh]" in out


def test_driver_lowered_to_570(workspace_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(workspace_copy / "pyproject.toml", 'driver = "580.65.06"', 'driver = "570"')
    code, out, _ = run(capsys, "-C", str(workspace_copy), "check", "--no-uv")
    assert code == 1
    assert "window: CUDA 11.8, 12.0, 12.1, 12.2, 12.3, 12.4, 12.5, 12.6, 12.8\n" in out
    # every member locked to a CUDA newer than 12.8 is flagged, naming the driver it needs
    over = [m for m in ("train", "serve") if TORCH_PYPI_CUDA[torch_pin(workspace_copy, m)] > "12.8"]
    assert over and out.count("error[cuda-window]") == len(over)
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


def test_console_script_runs(workspace_copy: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "lockgen", "-C", str(workspace_copy), "check", "--no-uv"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
