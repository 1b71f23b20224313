"""Shared fixtures: the repository root, a disposable copy of the workspace, and uv's location."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: on a 2-core machine shared with uv runs, timing says nothing about correctness.
settings.register_profile("lockgen", deadline=None)
settings.load_profile("lockgen")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

WORKSPACE_FILES = (
    "pyproject.toml",
    "uv.lock",
    ".python-version",
    "workspaces/train/pyproject.toml",
    "workspaces/serve/pyproject.toml",
    "lockgen/pyproject.toml",
)


@pytest.fixture
def repo_root() -> Path:
    """The repository under test."""
    return REPO


def copy_workspace(dest: Path) -> Path:
    """Copy the files that define the workspace (pyprojects, lock, toolchain, notebooks) into `dest`."""
    extra = [*(REPO / "nix").glob("*.json"), *(REPO / "notebooks").glob("*.py")]
    for rel in WORKSPACE_FILES + tuple(p.relative_to(REPO).as_posix() for p in extra):
        src = REPO / rel
        if src.exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


@pytest.fixture
def workspace_copy(tmp_path: Path) -> Path:
    """A throwaway copy of this repository's workspace definition."""
    return copy_workspace(tmp_path / "ws")


@pytest.fixture
def uv_bin() -> str:
    """The uv binary lockgen would use; skip when none is installed."""
    from lockgen.errors import UvError
    from lockgen.seams.uvtool import find_uv

    try:
        path = find_uv()
    except UvError:
        pytest.skip("uv is not installed")
    if not (os.path.exists(path) or shutil.which(path)):
        pytest.skip(f"uv not found at {path}")
    return path
