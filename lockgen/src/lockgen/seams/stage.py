"""A working copy of a project for dry runs and `matrix`: everything uv needs to lock it, nothing of the user's
touched.

uv builds the metadata of the project and its members (setup.py, package folders with dynamic versions, README
files a backend reads, `.git` for setuptools-scm/hatch-vcs versions) and reads path dependencies. So the copy
holds, inside a git repository, every tracked and untracked-but-not-ignored file of the repository the project
lives in, at the same relative place, with a `.git` that shares the original's objects (read-only use); outside
git, the project's tree without virtual environments and caches. Path dependencies outside the copied tree are
linked at the same relative place, so `../libs/x` still resolves. The original is only read: killing lockgen at
any moment leaves it as it was (at worst a temporary directory stays behind).

A workspace whose metadata uv reads without building anything (no member or local path dependency with `dynamic`
metadata, a root that is no package, no index or requirement naming a relative local path) gets a lean copy when
the caller passes the workspace value: the files at the top of the tree, the members' and local path dependencies'
folders, and lockgen's own files - not the rest of the repository (test fixtures, docs, data), and no `.git`.
Every file is a real copy (never a hard link: uv and lockgen write into the copy).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

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


_LOCAL_KINDS = ("path", "directory", "editable")


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


def _path_dependencies(root: Path, ws: Any = None) -> list[Path]:
    """Absolute paths of the local (path/directory/editable) sources the project's pyprojects and lock name. With
    `ws` (the workspace value), from its lock and its members' [tool.uv.sources] - no second parse, and no pyproject
    that is not the workspace's (a test fixture deep in the tree); without, from uv.lock and every pyproject below."""
    import tomllib

    out: list[Path] = []
    if ws is not None:
        out += [(root / p.source.value).resolve() for p in ws.lock.packages if p.source.kind in _LOCAL_KINDS]
        pyprojects = [(root / m.path / "pyproject.toml", m.data) for m in ws.members.values()]
    else:
        try:
            lock = tomllib.loads((root / "uv.lock").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            lock = {}
        for pkg in lock.get("package", []) if isinstance(lock.get("package"), list) else []:
            src = pkg.get("source", {}) if isinstance(pkg, dict) else {}
            for kind in _LOCAL_KINDS:
                if isinstance(src.get(kind), str):
                    out.append((root / src[kind]).resolve())
        pyprojects = []
        for py in [root / "pyproject.toml", *root.glob("**/pyproject.toml")][:200]:
            if any(part in SKIP_DIRS for part in py.relative_to(root).parts):
                continue
            try:
                pyprojects.append((py, tomllib.loads(py.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                continue
    for py, data in pyprojects:
        sources = data.get("tool", {}).get("uv", {}).get("sources", {})
        for entry in sources.values() if isinstance(sources, dict) else []:
            for e in entry if isinstance(entry, list) else [entry]:
                if isinstance(e, dict) and isinstance(e.get("path"), str):
                    out.append((py.parent / e["path"]).resolve())
    return list(dict.fromkeys(out))


def _depth_above(top: Path, paths: Iterable[Path]) -> int:
    """How many levels above `top` the outside paths reach (their common ancestor with top)."""
    depth = 0
    for p in paths:
        common = Path(os.path.commonpath([top, p]))
        depth = max(depth, len(top.relative_to(common).parts))
    return depth


def stage_copy(root: Path, dest: Path, ws: Any = None) -> Path:
    """Copy the project at `root` into `dest` (see the module docstring); return the project root in the copy.
    `ws`: the workspace value read from `root` (lockgen.model.workspace), which allows the lean copy."""
    root = root.resolve()
    top = git_toplevel(root)
    files = _git_files(top) if top is not None else None
    if top is None or files is None:
        top, files = root, _walk_files(root)
    deps = _path_dependencies(root, ws)
    outside = [p for p in deps if not p.is_relative_to(top) and p.exists()]
    lean = _lean_files(root, top, files, ws, deps) if ws is not None else None
    if lean is not None:
        files = lean
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
    if lean is None and (top / ".git").exists():
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


# lockgen's own files at the project root, besides the pyprojects and uv.lock
_LOCKGEN_FILES = ("nix/toolchain.json", "flake.nix", "flake.lock")
_INDEX_KEYS = ("index", "index-url", "extra-index-url", "find-links")


def _lean_files(root: Path, top: Path, files: list[str], ws: Any, deps: list[Path]) -> list[str] | None:
    """The files of a lean copy (module docstring), relative to `top`; None when the workspace needs the whole tree
    (something uv would build, or a relative local path uv would follow)."""
    keep_dirs: list[Path] = []
    for member in ws.members.values():
        if member.path == ".":
            if _packaged(member.data):
                return None  # uv builds the root project: its whole tree
        elif _dynamic(member.data):
            return None
        else:
            keep_dirs.append((root / member.path).resolve())
    for d in deps:
        if d.is_relative_to(top) and d.is_dir():
            data = _toml(d / "pyproject.toml")
            if data is None or _dynamic(data):
                return None  # a local package uv builds for its metadata (or one it cannot read statically)
            keep_dirs.append(d)
        elif d.is_relative_to(top):
            keep_dirs.append(d)  # a wheel or sdist: the file itself
    for member in ws.members.values():
        if _relative_local_paths(member.data):
            return None
    uv_toml = _toml(root / "uv.toml")
    if uv_toml is not None and _relative_local_paths({"tool": {"uv": uv_toml}}):
        return None
    raw = ws.lockgen_config.get("notebooks", [])
    own = {*_LOCKGEN_FILES, *(n["path"] for n in raw if isinstance(n, Mapping) and isinstance(n.get("path"), str))}
    prefix = root.relative_to(top)
    wanted = [prefix / rel for rel in own]
    keep = [d.relative_to(top) for d in keep_dirs]
    out = []
    for rel in files:
        p = Path(rel)
        if p.parent == Path(".") or p.parent == prefix or p in wanted or any(p.is_relative_to(k) for k in keep):
            out.append(rel)
    return out


def _toml(path: Path) -> dict[str, Any] | None:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _dynamic(data: Mapping[str, Any]) -> bool:
    """Whether a pyproject leaves metadata to its build backend (`dynamic`), or has no [project] table to read."""
    project = data.get("project")
    return not isinstance(project, Mapping) or bool(project.get("dynamic"))


def _packaged(data: Mapping[str, Any]) -> bool:
    """Whether uv builds and installs the project (a build system, unless `[tool.uv] package = false`)."""
    uv = data.get("tool", {}).get("uv", {})
    package = uv.get("package") if isinstance(uv, Mapping) else None
    return bool(package) if package is not None else "build-system" in data or _dynamic(data)


def _relative_local_paths(data: Mapping[str, Any]) -> bool:
    """Whether a pyproject names a local path uv follows relative to the project: an index or find-links that is no
    http(s) or absolute file:// URL, or a requirement written as a file URL or ${PROJECT_ROOT} path."""
    uv = data.get("tool", {}).get("uv", {})
    uv = uv if isinstance(uv, Mapping) else {}
    urls: list[Any] = []
    for key in _INDEX_KEYS:
        value = uv.get(key)
        for item in value if isinstance(value, list) else [value]:
            urls.append(item.get("url") if isinstance(item, Mapping) else item)
    if any(isinstance(u, str) and not u.startswith(("http://", "https://", "file:///")) for u in urls):
        return True
    project = data.get("project", {})
    reqs: list[Any] = list(project.get("dependencies", [])) if isinstance(project, Mapping) else []
    optional = project.get("optional-dependencies", {}) if isinstance(project, Mapping) else {}
    for items in optional.values() if isinstance(optional, Mapping) else []:
        reqs += list(items) if isinstance(items, list) else []
    groups = data.get("dependency-groups", {})
    for items in groups.values() if isinstance(groups, Mapping) else []:
        reqs += list(items) if isinstance(items, list) else []
    for key in ("constraint-dependencies", "override-dependencies", "dev-dependencies"):
        reqs += list(uv.get(key, [])) if isinstance(uv.get(key, []), list) else []
    return any(isinstance(r, str) and ("file:" in r or "${PROJECT_ROOT}" in r) for r in reqs)
