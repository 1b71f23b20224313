"""Installable environments: the unit lockgen reasons about.

An environment is what one `uv sync` installs: a workspace project (the root project when it is one, each
member) with a selection of its extras and dependency groups - the default groups, plus one extra or one group at
a time, never two items `[tool.uv] conflicts` separates - on one Linux platform the lock covers. uv encodes the
selection in lock markers as conflict items (`extra == 'extra-5-myapp-cu128'`, `group-...`, `project-...`); the
projection evaluates them with the selection active. Pure: the lock and the root's settings come in as values.

A verdict is per environment and per platform, and names the environment the way a user installs it:
`myapp --extra cu128`, `train`, `myapp --group cuda13`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lockgen.model.cudadetect import MemberCuda, member_cuda_from
from lockgen.model.lockfile import Lock, LockedPackage, normalize
from lockgen.model.projection import PLATFORMS, closure, conflict_item, environment, marker_holds

DEFAULT_GROUPS = ("dev",)


@dataclass(frozen=True)
class EnvSpec:
    """One installable selection: a project with extras and dependency groups."""

    project: str
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    label: str = ""

    @property
    def active(self) -> frozenset[str]:
        """The conflict items this selection turns on, as uv writes them into lock markers."""
        items = {conflict_item(self.project)}
        items |= {conflict_item(self.project, "extra", x) for x in self.extras}
        items |= {conflict_item(self.project, "group", g) for g in self.groups}
        return frozenset(items)

    def __str__(self) -> str:
        return self.label or self.project


@dataclass(frozen=True)
class PlatformView:
    """What an environment installs on one platform, and the CUDA of it."""

    platform: str  # "x86_64" | "aarch64"
    installed: Mapping[str, LockedPackage]
    cuda: MemberCuda


@dataclass(frozen=True)
class Environment:
    """An installable environment with its per-platform projections."""

    spec: EnvSpec
    platforms: tuple[PlatformView, ...]

    @property
    def label(self) -> str:
        """How a user installs it (`myapp --extra cu128`)."""
        return str(self.spec)

    @property
    def project(self) -> str:
        """The workspace project it belongs to."""
        return self.spec.project

    def installed_union(self) -> dict[str, LockedPackage]:
        """Every package it installs on any platform (the first platform's version wins a name)."""
        out: dict[str, LockedPackage] = {}
        for view in self.platforms:
            for name, pkg in view.installed.items():
                out.setdefault(name, pkg)
        return out

    @property
    def has_cuda(self) -> bool:
        """Whether any platform shows CUDA evidence."""
        return any(v.cuda.versions or v.cuda.majors for v in self.platforms)


def workspace_projects(lock: Lock) -> list[str]:
    """The lock's workspace projects: the manifest's members, or the project at `.` of a single-project lock."""
    if lock.members:
        return [normalize(m) for m in lock.members if any(p.is_workspace for p in lock.by_name(m))]
    return [p.name for p in lock.packages if p.source.kind in ("editable", "virtual") and p.source.value == "."]


def lock_platforms(lock: Lock) -> tuple[str, ...]:
    """The Linux platforms the lock covers (its `supported-markers`, when it has them)."""
    if not lock.supported_markers:
        return PLATFORMS
    out = []
    for machine in PLATFORMS:
        env = environment(lock, machine, None)
        if any(marker_holds(m, env) for m in lock.supported_markers):
            out.append(machine)
    return tuple(out)


def default_groups(uv_config: Mapping[str, Any], project: LockedPackage) -> tuple[str, ...]:
    """The groups `uv sync` installs without flags (`[tool.uv] default-groups`, "dev" by default)."""
    have = [g for g, _ in project.dev_dependencies]
    raw = uv_config.get("default-groups", list(DEFAULT_GROUPS))
    if raw == "all":
        return tuple(have)
    wanted = {normalize(str(g)) for g in raw} if isinstance(raw, list) else set(DEFAULT_GROUPS)
    return tuple(g for g in have if g in wanted)


def _conflicting(lock: Lock, project: str) -> list[set[tuple[str, str]]]:
    """The conflict sets that name this project's extras or groups, as sets of ("extra"|"group", name)."""
    out = []
    for group in lock.conflicts:
        items = set()
        for item in group:
            if not isinstance(item, Mapping) or normalize(str(item.get("package", ""))) != project:
                continue
            for kind in ("extra", "group"):
                if kind in item:
                    items.add((kind, normalize(str(item[kind]))))
        if len(items) > 1:
            out.append(items)
    return out


def _without_conflicts(
    base: tuple[str, ...], chosen: tuple[str, str], conflicts: Sequence[set[tuple[str, str]]]
) -> tuple[str, ...]:
    """The default groups that may be installed together with `chosen`."""
    clash = {name for c in conflicts if chosen in c for kind, name in c if kind == "group"}
    return tuple(g for g in base if g not in clash or ("group", g) == chosen)


def env_specs(lock: Lock, uv_config: Mapping[str, Any]) -> list[EnvSpec]:
    """Every selection worth checking: per project, the default one, then each extra and each non-default group."""
    projects = workspace_projects(lock)
    out: list[EnvSpec] = []
    for name in projects:
        pkg = lock.member_package(name)
        base = default_groups(uv_config, pkg)
        conflicts = _conflicting(lock, name)
        head = name
        out.append(EnvSpec(name, (), base, head))
        for extra, _ in pkg.optional_dependencies:
            groups = _without_conflicts(base, ("extra", extra), conflicts)
            out.append(EnvSpec(name, (extra,), groups, _label(head, (extra,), base, groups)))
        for group, _ in pkg.dev_dependencies:
            if group in base:
                continue
            groups = (*_without_conflicts(base, ("group", group), conflicts), group)
            out.append(EnvSpec(name, (), groups, _label(head, (), base, groups)))
    return out


def _label(head: str, extras: tuple[str, ...], base: tuple[str, ...], groups: tuple[str, ...]) -> str:
    parts = [head, *(f"--extra {x}" for x in extras)]
    parts += [f"--group {g}" for g in groups if g not in base]
    parts += [f"--no-group {g}" for g in base if g not in groups]
    return " ".join(parts)


def project_view(lock: Lock, spec: EnvSpec, machine: str) -> dict[str, LockedPackage]:
    """What `spec` installs on Linux `machine`."""
    start = lock.member_package(spec.project)
    env = environment(lock, machine, spec.project, spec.active)
    return closure(lock, start, env, groups=spec.groups, extras=spec.extras)


def environments(lock: Lock, uv_config: Mapping[str, Any] | None = None) -> tuple[Environment, ...]:
    """Every installable environment of the lock, with per-platform projections; selections that install exactly
    what an earlier one does (an extra that adds nothing on Linux) are dropped."""
    uv_config = uv_config or {}
    platforms = lock_platforms(lock)
    seen: set[tuple[Any, ...]] = set()
    out: list[Environment] = []
    specs = env_specs(lock, uv_config)
    for spec in specs:
        views = _views(lock, spec, platforms)
        if spec.extras and not all(v.cuda.consistent for v in views):
            # extras meant to be combined (`--extra cu12 --extra transformer-engine-cu12`): a selection that mixes
            # CUDA majors alone but not beside another extra it may be installed with is judged as that pair
            paired = _pair(lock, spec, specs, platforms)
            if paired is not None:
                spec, views = paired
        key = (
            spec.project,
            tuple(frozenset((p.name, p.version, str(p.source)) for p in v.installed.values()) for v in views),
        )
        if key in seen:
            continue
        seen.add(key)
        out.append(Environment(spec, tuple(views)))
    return tuple(out)


def _views(lock: Lock, spec: EnvSpec, platforms: Sequence[str]) -> tuple[PlatformView, ...]:
    out = []
    for machine in platforms:
        installed = project_view(lock, spec, machine)
        out.append(PlatformView(machine, installed, member_cuda_from(str(spec), installed)))
    return tuple(out)


def _pair(
    lock: Lock, spec: EnvSpec, specs: Sequence[EnvSpec], platforms: Sequence[str]
) -> tuple[EnvSpec, tuple[PlatformView, ...]] | None:
    """The first other extra of the project that may be installed with `spec` (no conflict set holds both) and makes
    every platform single-major, as a combined selection; None when there is none."""
    conflicts = _conflicting(lock, spec.project)
    mine = {("extra", x) for x in spec.extras}
    for other in specs:
        if other.project != spec.project or len(other.extras) != 1 or other.extras[0] in spec.extras:
            continue
        theirs = ("extra", other.extras[0])
        if any(theirs in c and mine & c for c in conflicts):
            continue
        extras = tuple(sorted({*spec.extras, *other.extras}))
        groups = tuple(g for g in spec.groups if g in other.groups)
        combined = EnvSpec(spec.project, extras, groups, " ".join([spec.project, *(f"--extra {x}" for x in extras)]))
        views = _views(lock, combined, platforms)
        if all(v.cuda.consistent for v in views):
            return combined, views
    return None


def describe_platforms(views: Sequence[PlatformView]) -> str:
    """`linux x86_64, aarch64`."""
    return "linux " + ", ".join(v.platform for v in views)
