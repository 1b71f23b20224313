"""A working copy of a project for dry runs and `matrix`: everything uv needs to lock it, nothing of the user's
touched.

uv builds the metadata of the project and its members (setup.py, package folders with dynamic versions, README
files a backend reads, `.git` for setuptools-scm/hatch-vcs versions) and reads path dependencies. So the copy
holds, inside a git repository, every tracked and untracked-but-not-ignored file of the repository the project
lives in, at the same relative place, with a `.git` that shares the original's objects (read-only use); outside
git, the project's tree without virtual environments and caches. Path dependencies outside the copied tree are
linked at the same relative place, so `../libs/x` still resolves. The original is only read: killing lockgen at
any moment leaves it as it was (at worst a temporary directory stays behind).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from lockgen.errors import LockgenError

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        "node_modules",
        ".hypothesis",
        ".lockgen",
    }
)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None


def git_toplevel(root: Path) -> Path | None:
    """The git work tree `root` lies in, or None (no git, not a repository)."""
    res = _git(["rev-parse", "--show-toplevel"], root)
    if res is None or res.returncode != 0 or not res.stdout.strip():
        return None
    return Path(res.stdout.strip()).resolve()


def _git_files(top: Path) -> list[str] | None:
    res = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], top)
    if res is None or res.returncode != 0:
        return None
    return sorted({f for f in res.stdout.split("\0") if f})


def _walk_files(top: Path) -> list[str]:
    out = []
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not x.startswith(".venv")]
        for f in files:
            out.append(os.path.relpath(os.path.join(d, f), top))
    return sorted(out)


def _path_dependencies(root: Path) -> list[Path]:
    """Absolute paths of the local (path/directory/editable) sources the project's pyprojects and lock name."""
    import tomllib

    out: list[Path] = []
    try:
        lock = tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        lock = {}
    for pkg in lock.get("package", []) if isinstance(lock.get("package"), list) else []:
        src = pkg.get("source", {}) if isinstance(pkg, dict) else {}
        for kind in ("path", "directory", "editable"):
            if isinstance(src.get(kind), str):
                out.append((root / src[kind]).resolve())
    for py in [root / "pyproject.toml", *root.glob("**/pyproject.toml")][:200]:
        if any(part in SKIP_DIRS for part in py.relative_to(root).parts):
            continue
        try:
            data = tomllib.loads(py.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        sources = data.get("tool", {}).get("uv", {}).get("sources", {})
        for entry in sources.values() if isinstance(sources, dict) else []:
            for e in entry if isinstance(entry, list) else [entry]:
                if isinstance(e, dict) and isinstance(e.get("path"), str):
                    out.append((py.parent / e["path"]).resolve())
    return out


def _depth_above(top: Path, paths: Iterable[Path]) -> int:
    """How many levels above `top` the outside paths reach (their common ancestor with top)."""
    depth = 0
    for p in paths:
        common = Path(os.path.commonpath([top, p]))
        depth = max(depth, len(top.relative_to(common).parts))
    return depth


def stage_copy(root: Path, dest: Path) -> Path:
    """Copy the project at `root` into `dest` (see the module docstring); return the project root in the copy."""
    root = root.resolve()
    top = git_toplevel(root)
    files = _git_files(top) if top is not None else None
    if top is None or files is None:
        top, files = root, _walk_files(root)
    outside = [p for p in _path_dependencies(root) if not p.is_relative_to(top) and p.exists()]
    depth = _depth_above(top, outside)
    base = dest.joinpath(*(f"up{i}" for i in range(depth)), top.name or "project")
    base.mkdir(parents=True)
    for rel in files:
        src = top / rel
        if src.is_symlink() or not src.is_file():
            if src.is_symlink():
                target = base / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(os.readlink(src), target)
            continue
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(src, target)
        except OSError as e:
            raise LockgenError(f"cannot copy {src} for the dry run: {e.strerror}") from None
    if (top / ".git").exists():
        _share_git(top, base)
    for p in outside:
        common = Path(os.path.commonpath([top, p]))
        anchor = base
        for _ in top.relative_to(common).parts:
            anchor = anchor.parent
        link = anchor / p.relative_to(common)
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(p, link)
    return base / root.relative_to(top)


def _share_git(top: Path, base: Path) -> None:
    """A `.git` for the copy that shares the original's objects, with its index at HEAD: version plugins
    (setuptools-scm, hatch-vcs) see the same commit and tags, and the copy's files as the working tree."""
    tmp = base.parent / (base.name + ".gitclone")
    res = _git(["clone", "--quiet", "--shared", "--no-checkout", str(top), str(tmp)], base.parent)
    if res is None or res.returncode != 0:
        return  # no commit yet, or git missing: version plugins fall back as they would in a fresh checkout
    os.replace(tmp / ".git", base / ".git")
    shutil.rmtree(tmp, ignore_errors=True)
    _git(["reset", "--quiet"], base)
