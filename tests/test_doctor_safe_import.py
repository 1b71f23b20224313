"""`python -m lockgen doctor` (as documented for GPU machines without uv) must not run code that lies in the
directory it is started from - a `pynvml.py` in the project root (issue 12 item 10), nor a `torch.py` for --deep.
Both were imported before the fix."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lockgen.seams.host import safe_sys_path

REPO = Path(__file__).resolve().parent.parent
FAKE_WS = REPO / "tests" / "fakes" / "workspace_cuda13"

PLANTED = """
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "{name}.RAN"), "w").write("imported")
raise SystemExit("planted {name} ran")
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(FAKE_WS, root)
    for name in ("pynvml", "torch"):
        (root / f"{name}.py").write_text(PLANTED.format(name=name))
    return root


@pytest.mark.parametrize("deep", [False, True])
def test_python_m_lockgen_doctor_ignores_modules_in_the_project_root(project: Path, deep: bool) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "lockgen" / "src")}
    argv = [sys.executable, "-m", "lockgen", "doctor", "--json", *(["--deep"] if deep else [])]
    res = subprocess.run(argv, cwd=project, capture_output=True, text=True, env=env, timeout=120)
    assert not (project / "pynvml.RAN").exists(), res.stdout + res.stderr
    assert not (project / "torch.RAN").exists(), res.stdout + res.stderr
    assert "planted" not in res.stdout + res.stderr and "Traceback" not in res.stderr
    assert res.returncode in (0, 1), res.stderr


def test_safe_sys_path_drops_the_current_directory(tmp_path: Path) -> None:
    other = tmp_path / "lib"
    other.mkdir()
    path = ["", ".", str(tmp_path), str(other), "relative/src"]
    assert safe_sys_path(path, cwd=str(tmp_path)) == [str(other), "relative/src"]


def test_binary_nvidia_smi_output_is_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An nvidia-smi that prints bytes that are not text (a broken driver install, a hostile PATH entry): doctor's
    probe says it found no GPU there, and the command ends normally (it used to end in "internal error")."""
    from lockgen.cli import main
    from lockgen.seams.host import LibCuda, probe_host

    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '\\377\\376\\000NVIDIA\\200, 9.0, 5\\37780.65\\n'\n")
    smi.chmod(0o755)
    host = probe_host(
        path=str(bindir), proc_root=tmp_path, nvml=None, site_packages=[], environ={}, libcuda=lambda: LibCuda(False)
    )
    assert host.gpu_source == "none" and "nvidia-smi: no GPU listed" in host.notes
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert main(["-C", str(FAKE_WS), "doctor", "--json"]) in (0, 1)


def test_the_installed_binding_is_still_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    """Dropping the current directory must not drop the real binding: a pynvml on sys.path elsewhere is found."""
    from lockgen.seams import host

    site = tmp_path / "site"
    site.mkdir()
    (site / "pynvml.py").write_text("REAL = True\n")
    monkeypatch.chdir(project)  # holds the planted pynvml.py
    monkeypatch.setattr(sys, "path", ["", str(project), str(site), *sys.path])
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    module = host._import_pynvml()
    assert module is not None and getattr(module, "REAL", False) and not (project / "pynvml.RAN").exists()
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
