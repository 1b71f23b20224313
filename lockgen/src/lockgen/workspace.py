"""The workspace on disk, read into one value: root pyproject, members, fleet, lock. The only reader of files."""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lockgen.errors import InputError
from lockgen.fleet import Fleet, fleet_from_config
from lockgen.knowledge import Knowledge, load_knowledge
from lockgen.lockfile import Lock, normalize, read_lock
from lockgen.redact import strip_credentials
from lockgen.schema import validate_member, validate_root
from lockgen.window import Window, cuda_window

PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Member:
    """A workspace member project."""

    name: str
    path: str  # relative to the root, "." for the root project
    pyproject_file: str  # relative path of its pyproject.toml
    requirements: tuple[str, ...]
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class Workspace:
    """Everything lockgen reads, as values."""

    root: Path
    pyproject: Mapping[str, Any] = field(repr=False)
    fleet: Fleet
    knowledge: Knowledge = field(repr=False)
    lock: Lock = field(repr=False)
    members: dict[str, Member]
    indexes: tuple[str, ...]
    python_version: str | None

    @cached_property
    def window(self) -> Window:
        """The fleet's CUDA window."""
        return cuda_window(self.fleet, self.knowledge)

    @cached_property
    def _installed(self) -> dict[str, dict[str, Any]]:
        return {}

    def installed(self, member: str) -> dict[str, Any]:
        """What `uv sync --package member` installs (lockgen.projection.member_packages), computed once."""
        from lockgen.projection import member_packages

        cache = self._installed
        if member not in cache:
            cache[member] = member_packages(self.lock, member)
        return cache[member]

    @property
    def lockgen_config(self) -> Mapping[str, Any]:
        """The root's `[tool.lockgen]` table."""
        return self.pyproject.get("tool", {}).get("lockgen", {})


def read_text(path: Path, display: str) -> str:
    """A text file's content; InputError naming the file (never a traceback) when missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(display, None, "not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(display, None, f"cannot be read: {e}") from None


def read_toml(path: Path, display: str) -> dict[str, Any]:
    """Parse a TOML file; InputError (never a traceback) when missing or malformed."""
    text = read_text(path, display)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(display, None, f"is not valid TOML: {e}") from None


def find_root(start: Path) -> Path:
    """The nearest directory at or above `start` whose pyproject.toml declares a uv workspace or [tool.lockgen]."""
    start = start.resolve()
    for d in (start, *start.parents):
        f = d / "pyproject.toml"
        if f.is_file():
            try:
                data = tomllib.loads(f.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                return d  # let load_workspace report the malformed file
            tool = data.get("tool", {})
            uv = tool.get("uv", {}) if isinstance(tool, dict) else None
            if not isinstance(uv, dict) or "lockgen" in tool or "workspace" in uv:
                return d  # a malformed [tool] is reported by load_workspace (lockgen.schema)
    raise InputError(
        str(start), None, "no pyproject.toml with [tool.uv.workspace] or [tool.lockgen] here or above; use -C DIR"
    )


def _member_dirs(root: Path, data: Mapping[str, Any]) -> list[Path]:
    ws = data.get("tool", {}).get("uv", {}).get("workspace", {})
    patterns = ws.get("members", [])
    if not isinstance(patterns, list):
        raise InputError("pyproject.toml", "tool.uv.workspace.members", "expected a list of paths or globs")
    excluded = {p.resolve() for pat in ws.get("exclude", []) for p in root.glob(pat)}
    out = []
    for pat in patterns:
        matches = (
            sorted(p for p in root.glob(pat) if (p / "pyproject.toml").is_file())
            if any(c in pat for c in "*?[")
            else [root / pat]
        )
        out.extend(m for m in matches if m.resolve() not in excluded)
    return out


def _indexes(data: Mapping[str, Any], base: Path) -> list[str]:
    """Index URLs a pyproject declares; a file:// index also under the path forms uv writes into the lock."""
    uv = data.get("tool", {}).get("uv", {})
    urls = [str(i["url"]).rstrip("/") for i in uv.get("index", []) if isinstance(i, Mapping) and "url" in i]
    urls += [str(u).rstrip("/") for u in uv.get("extra-index-url", [])]
    if uv.get("index-url"):
        urls.append(str(uv["index-url"]).rstrip("/"))
    out = []
    for u in urls:
        out.append(u)
        if strip_credentials(u) != u:
            out.append(strip_credentials(u))  # uv records the index in uv.lock without its credentials
        if u.startswith("file://"):
            path = Path(unquote(urlparse(u).path))
            out.append(str(path))
            with contextlib.suppress(ValueError):
                out.append(os.path.relpath(path, base))
    return out


def load_workspace(root: Path, knowledge: Knowledge | None = None, allow_missing_lock: bool = False) -> Workspace:
    """Read the workspace rooted at `root` (with `allow_missing_lock`, a workspace not locked yet has an empty lock)."""
    knowledge = knowledge or load_knowledge()
    data = read_toml(root / "pyproject.toml", "pyproject.toml")
    validate_root(data, root)
    tool = data.get("tool", {})
    if not isinstance(tool.get("lockgen", {}), Mapping):
        raise InputError("pyproject.toml", "tool.lockgen", "expected a table")
    fleet = fleet_from_config(tool.get("lockgen", {}), knowledge)
    members: dict[str, Member] = {}
    indexes = [PYPI, *_indexes(data, root)]
    for d in _member_dirs(root, data):
        rel = d.relative_to(root).as_posix() if d != root else "."
        display = f"{rel}/pyproject.toml"
        mdata = read_toml(d / "pyproject.toml", display)
        validate_member(mdata, display)
        project = mdata.get("project", {})
        if not isinstance(project.get("name"), str):
            raise InputError(display, "project.name", "missing")
        deps = project.get("dependencies", [])
        if not isinstance(deps, list) or not all(isinstance(x, str) for x in deps):
            raise InputError(display, "project.dependencies", "expected a list of requirement strings")
        name = normalize(project["name"])
        members[name] = Member(name, rel, display, tuple(deps), mdata)
        indexes += _indexes(mdata, root)
    if allow_missing_lock and not (root / "uv.lock").exists():
        lock = Lock(version=1, revision=0, requires_python="", packages=())
    else:
        lock = read_lock(root / "uv.lock")
    pv = root / ".python-version"
    python_version = read_text(pv, ".python-version").strip() if pv.is_file() else None
    return Workspace(
        root=root,
        pyproject=data,
        fleet=fleet,
        knowledge=knowledge,
        lock=lock,
        members=members,
        indexes=tuple(dict.fromkeys(indexes)),
        python_version=python_version,
    )
