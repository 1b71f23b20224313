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
from lockgen.model.fleet import Fleet, fleet_from_config
from lockgen.model.lockfile import Lock, normalize, read_lock
from lockgen.model.schema import validate_member, validate_root
from lockgen.model.window import Window, cuda_window
from lockgen.seams.redact import strip_credentials
from lockgen.tables.knowledge import Knowledge, load_knowledge

PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class Member:
    """A workspace member project."""

    name: str
    path: str  # relative to the root, "." for the root project
    pyproject_file: str  # relative path of its pyproject.toml
    requirements: tuple[str, ...]
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # every requirement string with where it is written: ("project.dependencies[0]", "torch==2.10.0"), the
    # optional dependencies and dependency groups too; for dynamic metadata, what uv recorded in uv.lock
    all_requirements: tuple[tuple[str, str], ...] = ()
    dynamic: bool = False

    @property
    def sources(self) -> Mapping[str, Any]:
        """Its `[tool.uv.sources]` table."""
        src = self.data.get("tool", {}).get("uv", {}).get("sources", {})
        return src if isinstance(src, Mapping) else {}


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

    @cached_property
    def environments(self) -> tuple[Any, ...]:
        """Every installable environment of the lock (lockgen.model.environments), computed once."""
        from lockgen.model.environments import environments

        return environments(self.lock, self.uv_config)

    @property
    def uv_config(self) -> Mapping[str, Any]:
        """The root's `[tool.uv]` table."""
        uv = self.pyproject.get("tool", {}).get("uv", {})
        return uv if isinstance(uv, Mapping) else {}

    def installed(self, member: str) -> dict[str, Any]:
        """What `uv sync --package member` installs on any Linux platform (x86_64's version wins a name), computed
        once."""
        from lockgen.model.projection import member_packages

        cache = self._installed
        if member not in cache:
            # the member's default environment, projected once for every rule (lockgen.model.environments)
            base = next((e for e in self.environments if e.project == member and e.label == member), None)
            cache[member] = base.installed_union() if base is not None else member_packages(self.lock, member)
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
    """The project root for `start`: the nearest directory at or above it holding a pyproject.toml and uv.lock
    (uv writes the lock at the workspace root); else the nearest pyproject.toml declaring a uv workspace or
    [tool.lockgen]; else the nearest one with a [project] table (a single project not locked yet)."""
    start = start.resolve()
    found: dict[str, Path] = {}
    for d in (start, *start.parents):
        f = d / "pyproject.toml"
        if not f.is_file():
            continue
        if (d / "uv.lock").is_file():
            return d
        try:
            data = tomllib.loads(f.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            found.setdefault("workspace", d)  # let load_workspace report the malformed file
            continue
        tool = data.get("tool", {}) if isinstance(data.get("tool", {}), Mapping) else {}
        uv = tool.get("uv", {}) if isinstance(tool.get("uv", {}), Mapping) else {}
        if "lockgen" in tool or "workspace" in uv:
            found.setdefault("workspace", d)
        elif isinstance(data.get("project"), Mapping):
            found.setdefault("project", d)
    if found:
        return found.get("workspace") or found["project"]
    raise InputError(str(start), None, "no pyproject.toml (a uv project or workspace) here or above; use -C DIR")


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


def _requirement_list(raw: Any, display: str, key: str) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        raise InputError(display, key, "expected a list of requirement strings")
    out = []
    for i, x in enumerate(raw):
        if isinstance(x, str):
            out.append((f"{key}[{i}]", x))
        elif not (isinstance(x, Mapping) and "include-group" in x):  # {include-group = "..."} is PEP 735's own
            raise InputError(display, f"{key}[{i}]", f"expected a requirement string, got {x!r}")
    return out


def _member(mdata: Mapping[str, Any], rel: str, display: str, lock: Lock) -> Member:
    """One project of the workspace; requirements a build backend computes (dynamic) are read from uv.lock."""
    project = mdata.get("project", {})
    if not isinstance(project, Mapping) or not isinstance(project.get("name"), str):
        raise InputError(display, "project.name", "missing")
    name = normalize(project["name"])
    dynamic = project.get("dynamic", [])
    dynamic = isinstance(dynamic, list) and any(d in ("dependencies", "optional-dependencies") for d in dynamic)
    reqs = _requirement_list(project.get("dependencies", []), display, "project.dependencies")
    deps = tuple(text for _, text in reqs)
    optional = project.get("optional-dependencies", {})
    if not isinstance(optional, Mapping):
        raise InputError(display, "project.optional-dependencies", "expected a table of lists")
    for extra, items in optional.items():
        reqs += _requirement_list(items, display, f"project.optional-dependencies.{extra}")
    groups = mdata.get("dependency-groups", {})
    if not isinstance(groups, Mapping):
        raise InputError(display, "dependency-groups", "expected a table of lists")
    for group, items in groups.items():
        reqs += _requirement_list(items, display, f"dependency-groups.{group}")
    if dynamic:
        recorded = [p for p in lock.by_name(name) if p.is_workspace]
        if recorded:
            rows = [(f"uv.lock metadata requires-dist[{i}]", r.text) for i, r in enumerate(recorded[0].requires_dist)]
            reqs = rows + [r for r in reqs if not r[0].startswith("project.")]
            deps = tuple(text for _, text in rows)
    return Member(name, rel, display, deps, mdata, tuple(reqs), dynamic)


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
    if allow_missing_lock and not (root / "uv.lock").exists():
        lock = Lock(version=1, revision=0, requires_python="", packages=())
    else:
        lock = read_lock(root / "uv.lock")
    dirs = _member_dirs(root, data)
    if isinstance(data.get("project"), Mapping) and root.resolve() not in {d.resolve() for d in dirs}:
        dirs.insert(0, root)  # the root is a project too (packaged or virtual): uv installs it
    for d in dirs:
        rel = d.relative_to(root).as_posix() if d != root else "."
        display = "pyproject.toml" if rel == "." else f"{rel}/pyproject.toml"
        mdata = data if rel == "." else read_toml(d / "pyproject.toml", display)
        validate_member(mdata, display)
        member = _member(mdata, rel, display, lock)
        members[member.name] = member
        if rel != ".":
            indexes += _indexes(mdata, root)
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
