"""Per-member projection: which locked packages `uv sync --package MEMBER` installs.

Follows dependency edges from the member, evaluating each edge's marker for a target environment (Linux
x86_64 and aarch64 by default, the Python of `requires-python`) with the conflict extra uv writes for the
member (`extra == 'project-5-train'`). Pure: the lock comes in as a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from packaging.markers import InvalidMarker, Marker

from lockgen.errors import InputError
from lockgen.model.lockfile import Dependency, Lock, LockedPackage, normalize

PLATFORMS = ("x86_64", "aarch64")


def conflict_extra(member: str) -> str:
    """The marker extra uv uses for a package conflict item (`project-<len>-<name>`)."""
    name = normalize(member)
    return f"project-{len(name)}-{name}"


def python_of(lock: Lock) -> str:
    """The lowest Python major.minor the lock's requires-python admits ("==3.12.*" -> "3.12")."""
    m = re.search(r"(\d+)\.(\d+)", lock.requires_python)
    return f"{m.group(1)}.{m.group(2)}" if m else "3.12"


def conflict_item(project: str, kind: str | None = None, name: str | None = None) -> str:
    """The marker extra uv writes for a conflict item: `project-5-train`, `extra-5-myapp-cu128`,
    `group-5-myapp-cuda13` (the number is the length of the normalised project name)."""
    proj = normalize(project)
    if kind is None or name is None:
        return conflict_extra(proj)
    return f"{kind}-{len(proj)}-{proj}-{normalize(name)}"


def environment(
    lock: Lock, machine: str, member: str | None, active: frozenset[str] | None = None
) -> dict[str, str | frozenset[str]]:
    """A PEP 508 marker environment for Linux on `machine`. `extra` is the set of active conflict items: the
    member's package item, plus `active` (its selected extras and groups, as uv encodes them)."""
    py = python_of(lock)
    items = set(active or ())
    if member:
        items.add(conflict_extra(member))
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{py}.0",
        "os_name": "posix",
        "platform_machine": machine,
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{py}.0",
        "python_version": py,
        "sys_platform": "linux",
        "extra": frozenset(items),
    }


@lru_cache(maxsize=4096)
def _marker(text: str) -> Marker:
    return Marker(text)


def marker_holds(marker: str | None, env: Mapping[str, str | frozenset[str]]) -> bool:
    """Evaluate a lock marker in `env` (no marker means always)."""
    if not marker:
        return True
    return _holds(marker, tuple(sorted(env.items())))


@lru_cache(maxsize=16384)
def _holds(marker: str, env: tuple[tuple[str, str | frozenset[str]], ...]) -> bool:
    try:
        return _marker(marker).evaluate(dict(env))
    except InvalidMarker as e:
        raise InputError("uv.lock", "marker", f"invalid marker {marker!r}: {e}") from None


def closure(
    lock: Lock,
    start: LockedPackage,
    env: Mapping[str, str | frozenset[str]],
    groups: tuple[str, ...] = ("dev",),
    extras: tuple[str, ...] = (),
) -> dict[str, LockedPackage]:
    """Every package reachable from `start` in `env` (start included), keyed by name: its dependencies, the
    dependency groups `groups` and the extras `extras` of `start`, and everything those reach."""
    out: dict[str, LockedPackage] = {start.name: start}
    seen: set[tuple[object, str | None]] = set()
    stack: list[tuple[LockedPackage, str | None]] = [(start, None)]
    first = [dep for g, deps in start.dev_dependencies if g in groups for dep in deps]
    pending_first: list[Dependency] = list(first) + [dep for x in extras for dep in start.extra(normalize(x))]
    env_key = tuple(sorted(env.items()))
    while stack:
        pkg, extra = stack.pop()
        if (pkg.key, extra) in seen:
            continue
        seen.add((pkg.key, extra))
        edges = pkg.extra(extra) if extra is not None else pkg.dependencies
        if pkg is start and extra is None:
            edges = tuple(edges) + tuple(pending_first)
        for dep in edges:
            if dep.marker and not _holds(dep.marker, env_key):
                continue
            target = lock.resolve(dep)
            out.setdefault(target.name, target)
            stack.append((target, None))
            for x in dep.extras:
                stack.append((target, normalize(x)))
    return out


def member_packages(lock: Lock, member: str, machine: str | None = None) -> dict[str, LockedPackage]:
    """What `uv sync --package member` installs: on `machine`, or the union over Linux x86_64 and aarch64
    (x86_64's choice wins where the platforms pick different versions of one name)."""
    start = lock.member_package(member)
    machines = (machine,) if machine else PLATFORMS
    result: dict[str, LockedPackage] = {}
    for m in machines:
        for name, pkg in closure(lock, start, environment(lock, m, member)).items():
            result.setdefault(name, pkg)
    return result


def member_pins(lock: Lock, member: str) -> set[tuple[str, str | None]]:
    """(name, version) of everything the member installs on any supported Linux platform."""
    start = lock.member_package(member)
    out: set[tuple[str, str | None]] = set()
    for m in PLATFORMS:
        out |= {(p.name, p.version) for p in closure(lock, start, environment(lock, m, member)).values()}
    return out
