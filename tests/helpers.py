"""Small helpers shared by the test modules (one copy each): file digests, uv or a skip, text edits, a fake host."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest
from lockgen.errors import UvError
from lockgen.seams.host import HostReport, LibCuda
from lockgen.seams.uvtool import find_uv

# A frozen copy of this repository's workspace (see its README.md): tests run on it, never on the live lock.
WORKSPACE = Path(__file__).resolve().parent / "fixtures" / "workspace"


def copy_workspace(dest: Path) -> Path:
    """Copy the frozen workspace (pyprojects, lock, toolchain, notebook) into `dest`."""
    shutil.copytree(WORKSPACE, dest, ignore=shutil.ignore_patterns("README.md"))
    return dest


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root`, keyed by its POSIX path relative to `root`: what "byte-identical" means."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def find_uv_or_none() -> str | None:
    """The uv binary lockgen would run ($UV, the `uv` package's binary, then PATH), or None when there is none."""
    try:
        path = find_uv()
    except UvError:
        return None
    return path if Path(path).exists() or shutil.which(path) else None


def require_uv() -> str:
    """The uv binary lockgen would run; skips the test when none is installed."""
    path = find_uv_or_none()
    if path is None:
        pytest.skip("uv is not installed")
    return path


# For tests that run uv without a fixture: skipped at collection when there is no uv.
needs_uv = pytest.mark.skipif(find_uv_or_none() is None, reason="uv is not installed")


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace the first `count` occurrences of `old` in the file at `path`; fails the test when `old` is absent."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def host_report(**kw: Any) -> HostReport:
    """A HostReport built by hand: no driver, no GPU, no libcuda, no nvcc, no torch; `kw` overrides any field."""
    base: dict[str, Any] = {
        "driver": None,
        "gpus": (),
        "gpu_source": "none",
        "libcuda": LibCuda(False),
        "nvcc": None,
        "cuda_home": None,
        "environment": "test",
        "python": "3.12",
        "distributions": {},
        "torch": None,
    }
    return HostReport(**{**base, **kw})
