"""uv.lock as frozen values. `parse_lock` is pure (a parsed mapping in); `read_lock` does the I/O.

Shape follows uv's lock format (version 1): top-level `requires-python`, `conflicts`, `manifest`, `options`, and
`[[package]]` rows with `source`, `dependencies`, `optional-dependencies`, `dev-dependencies`, `sdist`, `wheels`
and `metadata.requires-dist`. Errors name the key path, as pypa/packaging's pylock reader does.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from lockgen.errors import InputError

SOURCE_KINDS = ("registry", "editable", "virtual", "directory", "path", "git", "url")
WORKSPACE_KINDS = ("editable", "virtual", "directory")


@dataclass(frozen=True)
class Source:
    """Where a locked package comes from (`registry = "https://pypi.org/simple"`, `editable = "lockgen"`, ...)."""

    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value}"


@dataclass(frozen=True)
class Dependency:
    """One edge of the lock graph: a package name, optionally disambiguated by version/source, with a marker."""

    name: str
    version: str | None = None
    source: Source | None = None
    marker: str | None = None
    extras: tuple[str, ...] = ()


@dataclass(frozen=True)
class Artifact:
    """A wheel or sdist: where it is and its hash (None when the lock has none)."""

    location: str
    hash: str | None


@dataclass(frozen=True)
class Requirement:
    """One row of `[package.metadata] requires-dist` (what the project asked for)."""

    name: str
    specifier: str = ""
    marker: str | None = None
    extras: tuple[str, ...] = ()
    index: str | None = None
    direct: str | None = None  # "git+URL", a URL, or a local path: a requirement that names its artifact

    @property
    def text(self) -> str:
        """As a PEP 508 string (`torch==2.10.0; sys_platform == 'linux'`, `foo @ git+https://...`)."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        marker = f"; {self.marker}" if self.marker else ""
        if self.direct and "://" in self.direct:
            return f"{self.name}{extras} @ {self.direct}{marker}"
        return f"{self.name}{extras}{'' if self.direct else self.specifier}{marker}"


@dataclass(frozen=True)
class LockedPackage:
    """One `[[package]]` of the lock."""

    name: str
    version: str | None
    source: Source
    dependencies: tuple[Dependency, ...] = ()
    optional_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    dev_dependencies: tuple[tuple[str, tuple[Dependency, ...]], ...] = ()
    wheels: tuple[Artifact, ...] = ()
    sdist: Artifact | None = None
    requires_dist: tuple[Requirement, ...] = ()
    resolution_markers: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str | None, Source]:
        """What identifies the package in the lock when a name occurs twice."""
        return (self.name, self.version, self.source)

    def extra(self, name: str) -> tuple[Dependency, ...]:
        """The dependencies an extra of this package adds."""
        for extra, deps in self.optional_dependencies:
            if extra == name:
                return deps
        return ()

    @property
    def is_workspace(self) -> bool:
        """True for the workspace's own projects (editable, virtual or directory sources)."""
        return self.source.kind in WORKSPACE_KINDS


@dataclass(frozen=True)
class Lock:
    """A whole uv.lock."""

    version: int
    revision: int
    requires_python: str
    packages: tuple[LockedPackage, ...]
    conflicts: tuple[tuple[Mapping[str, str], ...], ...] = ()
    members: tuple[str, ...] = ()
    supported_markers: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def _by_name(self) -> dict[str, tuple[LockedPackage, ...]]:
        index: dict[str, list[LockedPackage]] = {}
        for p in self.packages:
            index.setdefault(p.name, []).append(p)
        return {k: tuple(v) for k, v in index.items()}

    def by_name(self, name: str) -> tuple[LockedPackage, ...]:
        """Every locked package called `name` (several when forks chose different versions)."""
        return self._by_name.get(normalize(name), ())

    def resolve(self, dep: Dependency) -> LockedPackage:
        """The package a dependency edge points at."""
        candidates = self.by_name(dep.name)
        if dep.version is not None:
            candidates = tuple(p for p in candidates if p.version == dep.version)
        if dep.source is not None and len(candidates) > 1:
            candidates = tuple(p for p in candidates if p.source == dep.source)
        if len(candidates) != 1:
            raise InputError("uv.lock", f"dependency {dep.name}", f"points at {len(candidates)} locked packages")
        return candidates[0]

    def member_package(self, member: str) -> LockedPackage:
        """The workspace project called `member`."""
        for p in self.by_name(member):
            if p.is_workspace:
                return p
        raise InputError("uv.lock", "package", f"workspace member {member!r} is not in the lock")


def normalize(name: str) -> str:
    """PEP 503 name normalisation (what uv writes)."""
    out = name.lower().replace("_", "-").replace(".", "-")
    while "--" in out:
        out = out.replace("--", "-")
    return out


def _str(raw: Any, path: str, optional: bool = True) -> Any:
    """A string field (None allowed when `optional`); InputError naming the key for any other type."""
    if raw is None and optional:
        return None
    if not isinstance(raw, str):
        raise InputError("uv.lock", path, f"expected a string, got {type(raw).__name__} {raw!r}"[:200])
    return raw


def _strs(raw: Any, path: str) -> tuple[str, ...]:
    """A list of strings (absent: empty)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError("uv.lock", path, f"expected an array of strings, got {type(raw).__name__}")
    return tuple(_str(x, f"{path}[{i}]", optional=False) for i, x in enumerate(raw))


def _source(raw: Any, path: str) -> Source:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise InputError("uv.lock", path, "expected a table with one key such as registry or editable")
    ((kind, value),) = raw.items()
    if kind not in SOURCE_KINDS:
        raise InputError("uv.lock", path, f"unknown source kind {kind!r}")
    return Source(kind, _str(value, f"{path}.{kind}", optional=False))


def _deps(raw: Any, path: str) -> tuple[Dependency, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError("uv.lock", path, "expected an array of tables")
    out = []
    for i, d in enumerate(raw):
        if not isinstance(d, Mapping) or "name" not in d:
            raise InputError("uv.lock", f"{path}[{i}]", "expected a table with a name")
        out.append(
            Dependency(
                name=normalize(_str(d["name"], f"{path}[{i}].name", optional=False)),
                version=_str(d.get("version"), f"{path}[{i}].version"),
                source=_source(d["source"], f"{path}[{i}].source") if "source" in d else None,
                marker=_marker(d.get("marker"), f"{path}[{i}].marker"),
                extras=_strs(d.get("extra"), f"{path}[{i}].extra"),
            )
        )
    return tuple(out)


def _groups(raw: Any, path: str) -> tuple[tuple[str, tuple[Dependency, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InputError("uv.lock", path, "expected a table")
    return tuple((normalize(k), _deps(v, f"{path}.{k}")) for k, v in raw.items())


def _marker(raw: Any, path: str) -> str | None:
    """A PEP 508 marker string as uv writes it; InputError when it is not a string or does not parse."""
    text = _str(raw, path)
    if text is None:
        return None
    problem = _marker_problem(text)
    if problem:
        raise InputError("uv.lock", path, f"not a PEP 508 marker: {problem}"[:300])
    return text


@cache
def _marker_problem(text: str) -> str | None:
    """Why `text` is not a marker, or None (a lock repeats a dozen markers hundreds of times: parse each once)."""
    from packaging.markers import InvalidMarker, Marker

    try:
        Marker(text)
    except InvalidMarker as e:
        return str(e)
    return None


def _artifact(raw: Any, path: str) -> Artifact:
    if not isinstance(raw, Mapping):
        raise InputError("uv.lock", path, "expected a table with url/path/filename and hash")
    loc = raw.get("url") or raw.get("path") or raw.get("filename")
    if not loc:
        raise InputError("uv.lock", path, "has no url, path or filename")
    key = next(k for k in ("url", "path", "filename") if raw.get(k))
    return Artifact(_str(loc, f"{path}.{key}", optional=False), _str(raw.get("hash"), f"{path}.hash"))


def _direct(row: Mapping[str, Any], where: str = "requires-dist") -> str | None:
    """The artifact a requires-dist row names itself (git, url, path, editable, directory), if any."""
    if "git" in row:
        return f"git+{_str(row['git'], f'{where}.git', optional=False)}"
    for key in ("url", "path", "editable", "directory"):
        if key in row:
            return _str(row[key], f"{where}.{key}", optional=False)
    return None


def parse_lock(data: Mapping[str, Any], file: str = "uv.lock") -> Lock:
    """Build a Lock from a parsed uv.lock mapping; raise InputError naming the key path when malformed."""
    try:
        return _parse_lock(data)
    except InputError as e:
        if e.file != file:
            raise InputError(file, e.key, e.message) from None
        raise


def _parse_lock(data: Mapping[str, Any]) -> Lock:
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("uv.lock", "version", "missing or not an integer: is this a uv.lock?")
    if version != 1:
        raise InputError("uv.lock", "version", f"lock format {version} is not supported (lockgen reads version 1)")
    raw_pkgs = data.get("package")
    if not isinstance(raw_pkgs, list):
        raise InputError("uv.lock", "package", "missing: the lock lists no packages")
    packages = []
    for i, p in enumerate(raw_pkgs):
        path = f"package[{i}]"
        if not isinstance(p, Mapping) or not isinstance(p.get("name"), str):
            raise InputError("uv.lock", f"{path}.name", "missing or not a string")
        if "source" not in p:
            raise InputError("uv.lock", f"{path}.source", f"missing for {p['name']}")
        path = f"package[{i}] ({p['name']})"
        meta = p.get("metadata", {})
        if not isinstance(meta, Mapping):
            raise InputError("uv.lock", f"{path}.metadata", "expected a table")
        raw_reqs = meta.get("requires-dist", [])
        if not isinstance(raw_reqs, list):
            raise InputError("uv.lock", f"{path}.metadata.requires-dist", "expected an array of tables")
        reqs = []
        for j, r in enumerate(raw_reqs):
            where = f"{path}.metadata.requires-dist[{j}]"
            if not isinstance(r, Mapping) or "name" not in r:
                raise InputError("uv.lock", where, "expected a table with a name")
            reqs.append(
                Requirement(
                    name=normalize(_str(r["name"], f"{where}.name", optional=False)),
                    specifier=_str(r.get("specifier"), f"{where}.specifier") or "",
                    marker=_marker(r.get("marker"), f"{where}.marker"),
                    extras=_strs(r.get("extras"), f"{where}.extras"),
                    index=_str(r.get("index"), f"{where}.index"),
                    direct=_direct(r, where),
                )
            )
        wheels = p.get("wheels", [])
        if not isinstance(wheels, list):
            raise InputError("uv.lock", f"{path}.wheels", "expected an array")
        packages.append(
            LockedPackage(
                name=normalize(p["name"]),
                version=_str(p.get("version"), f"{path}.version"),
                source=_source(p["source"], f"{path}.source"),
                dependencies=_deps(p.get("dependencies"), f"{path}.dependencies"),
                optional_dependencies=_groups(p.get("optional-dependencies"), f"{path}.optional-dependencies"),
                dev_dependencies=_groups(p.get("dev-dependencies"), f"{path}.dev-dependencies"),
                wheels=tuple(_artifact(w, f"{path}.wheels[{k}]") for k, w in enumerate(wheels)),
                sdist=_artifact(p["sdist"], f"{path}.sdist") if "sdist" in p else None,
                requires_dist=tuple(reqs),
                resolution_markers=_strs(p.get("resolution-markers"), f"{path}.resolution-markers"),
            )
        )
    raw_conflicts = data.get("conflicts", [])
    if not isinstance(raw_conflicts, list) or not all(
        isinstance(group, list) and all(isinstance(item, Mapping) for item in group) for group in raw_conflicts
    ):
        raise InputError("uv.lock", "conflicts", "expected an array of arrays of tables")
    conflicts = tuple(tuple(item for item in group) for group in raw_conflicts)
    manifest = data.get("manifest", {})
    if not isinstance(manifest, Mapping):
        raise InputError("uv.lock", "manifest", "expected a table")
    revision = data.get("revision", 0)
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise InputError("uv.lock", "revision", f"expected an integer, got {revision!r}"[:200])
    options = data.get("options", {})
    if not isinstance(options, Mapping):
        raise InputError("uv.lock", "options", "expected a table")
    return Lock(
        version=version,
        revision=revision,
        requires_python=_str(data.get("requires-python"), "requires-python") or "",
        packages=tuple(packages),
        conflicts=conflicts,
        members=_strs(manifest.get("members"), "manifest.members"),
        supported_markers=_strs(data.get("supported-markers"), "supported-markers"),
        options=dict(options),
    )


def read_lock(path: Path, display: str = "uv.lock") -> Lock:
    """Read and parse a uv.lock file; InputError when missing, not TOML, or malformed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(display, None, "not found: run `lockgen lock` (or `uv lock`) to create it") from None
    except OSError as e:
        raise InputError(display, None, f"cannot be read: {e.strerror}") from None
    data = _cached_parse(raw)
    if data is None:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(
                display, None, f"is not valid TOML ({e}); was it truncated? Re-create it with `uv lock`"
            ) from None
        _store_parse(raw, data)
    return parse_lock(data, display)


# Parsing a 300 KB uv.lock with the pure-Python tomllib takes most of `lockgen check`'s time; the parsed
# document is kept as JSON (several times faster to load) under the user's cache, keyed by the lock's sha256,
# so a changed lock is always parsed afresh. LOCKGEN_NO_CACHE=1 turns it off.
_CACHE_KEEP = 8


def _cache_dir() -> Path | None:
    if os.environ.get("LOCKGEN_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lockgen" / "locks"


def _cached_parse(raw: bytes) -> dict[str, Any] | None:
    d = _cache_dir()
    if d is None:
        return None
    try:
        data = json.loads((d / f"{hashlib.sha256(raw).hexdigest()}.json").read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _store_parse(raw: bytes, data: dict[str, Any]) -> None:
    d = _cache_dir()
    if d is None:
        return
    try:
        d.mkdir(parents=True, exist_ok=True)
        text = json.dumps(data, separators=(",", ":"))
        path = d / f"{hashlib.sha256(raw).hexdigest()}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        old = sorted(d.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[_CACHE_KEEP:]
        for p in old:
            p.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        pass  # a cache, never an error
