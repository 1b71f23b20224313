"""Rules: small independent checks over a Workspace value. Each returns every violation it finds; none prints.

This module holds `Violation` and the rules over the lock itself (strict-pin, one-cuda, cuda-window, index/hash/
source); every other rule has its own module here, and lockgen.rules.registry lists them all (name, help line,
function): `lockgen check` runs that list and its --help shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from lockgen.findings import Violation as Violation  # re-exported: every rule module imports it from here
from lockgen.model.cudadetect import ships_cuda_build
from lockgen.model.lockfile import LockedPackage, normalize
from lockgen.model.projection import PLATFORMS, environment
from lockgen.model.workspace import Member, Workspace
from lockgen.plan.edit import managed_requirements
from lockgen.seams.checkfast import lock_fresh_violations as lock_fresh_violations  # re-exported (rule e)
from lockgen.seams.redact import redact_url as redact

Rule = Callable[[Workspace], list[Violation]]


def is_exact_pin(req: Requirement) -> bool:
    """`==X` with no wildcard (or `===X` naming a valid version), and nothing else."""
    from packaging.version import InvalidVersion, Version

    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        return False
    try:
        Version(specs[0].version)
    except InvalidVersion:
        return False
    return True


def _applies(req: Requirement, ws: Workspace, member: str) -> bool:
    if req.marker is None:
        return True
    for m in PLATFORMS:
        env = dict(environment(ws.lock, m, member))
        env["extra"] = frozenset(env["extra"]) | {normalize(x) for x in _all_extras(ws, member)}
        try:
            if req.marker.evaluate(env):
                return True
        except Exception:  # a marker on something Linux never defines: it does not apply here
            continue
    return False


def _all_extras(ws: Workspace, member: str) -> list[str]:
    pkgs = [p for p in ws.lock.by_name(member) if p.is_workspace]
    return [x for x, _ in pkgs[0].optional_dependencies] if pkgs else []


def _lockgen_members(ws: Workspace) -> list[Member]:
    """Projects of the workspace that are in the lock (the root too, when it is a project)."""
    return [m for m in ws.members.values() if any(p.is_workspace for p in ws.lock.by_name(m.name))]


def _names_own_artifact(req: Requirement, member: Member, installed: dict[str, LockedPackage]) -> bool:
    """A URL or git requirement, a [tool.uv.sources] entry naming a git/url/path/workspace source, or a package
    the lock takes from such a source: its artifact is fixed already (a commit, a hash, a local path)."""
    if req.url:
        return True
    src = member.sources.get(req.name) or member.sources.get(normalize(req.name))
    entries = src if isinstance(src, list) else [src]
    if any(isinstance(e, Mapping) and ({"git", "url", "path", "workspace"} & set(e)) for e in entries):
        return True
    pkg = installed.get(normalize(req.name))
    return pkg is not None and pkg.source.kind != "registry"


def _project_installs(ws: Workspace, project: str) -> dict[str, LockedPackage]:
    """Everything any environment of the project installs, on any platform."""
    out: dict[str, LockedPackage] = {}
    for env in ws.environments:
        if env.project == project:
            for name, pkg in env.installed_union().items():
                out.setdefault(name, pkg)
    return out


def rule_strict_pins(ws: Workspace) -> list[Violation]:
    """(a) Every direct dependency whose locked build is CUDA-specific is pinned with == (see ships_cuda_build)."""
    out: list[Violation] = []
    for member in _lockgen_members(ws):
        installed = _project_installs(ws, member.name)
        rows = member.all_requirements or tuple(
            (f"project.dependencies[{i}]", t) for i, t in enumerate(member.requirements)
        )
        file = "uv.lock" if member.dynamic and rows and rows[0][0].startswith("uv.lock") else member.pyproject_file
        # lockgen's own exclusions scoped to this member (`xformers!=0.0.35.*`) only keep uv away from builds; the
        # version is chosen by the user's requirement beside it (or by what needs the package), judged as such
        owned = set(managed_requirements(member.data))
        for key, text in rows:
            if text in owned and key.startswith("project.dependencies"):
                continue
            try:
                req = Requirement(text)
            except InvalidRequirement as e:
                out.append(
                    Violation(
                        "strict-pin",
                        member.pyproject_file,
                        f"{key}: invalid requirement {text!r}: {e}",
                        "fix the requirement string",
                        None,
                        member.name,
                    )
                )
                continue
            name = normalize(req.name)
            if not _applies(req, ws, member.name) or name not in installed:
                continue
            if _names_own_artifact(req, member, installed):
                continue
            pkg = installed[name]
            if ships_cuda_build(pkg, installed) and not is_exact_pin(req):
                where = f"{key} (dynamic metadata, as uv recorded it)" if file == "uv.lock" else key
                out.append(
                    Violation(
                        "strict-pin",
                        member.pyproject_file,
                        f"{where}: {text!r} is not an exact pin, and the locked {name} {pkg.version} is a "
                        "CUDA-specific build: a re-lock could move it to a build for another CUDA",
                        f'pin it to what uv.lock resolved: "{name}=={pkg.version}" (or run `lockgen bump {name}`)',
                        name,
                        member.name,
                    )
                )
    return out


def _by_platform(platforms: Any) -> str:
    return "linux " + ", ".join(platforms)


def _env_names(labels: list[str], show: int = 3) -> str:
    head = ", ".join(f"`{x}`" for x in labels[:show])
    more = f" (+{len(labels) - show} more)" if len(labels) > show else ""
    return ("environment " if len(labels) == 1 else "environments ") + head + more


def _grouped(found: dict[tuple[Any, ...], list[str]]) -> list[tuple[tuple[Any, ...], list[str]]]:
    """Findings keyed by (project, platforms, ...what was found): one violation names every environment."""
    return sorted(found.items(), key=lambda kv: kv[1][0])


def rule_one_cuda(ws: Workspace) -> list[Violation]:
    """(b) Each environment's CUDA builds share one CUDA major on each platform (extras and groups that
    `conflicts` separates are separate environments; x86_64 and aarch64 are judged apart)."""
    found: dict[tuple[Any, ...], list[str]] = {}
    for env in ws.environments:
        bad: dict[str, list[str]] = {}
        for view in env.platforms:
            if not view.cuda.consistent:
                ev = "; ".join(str(e) for e in view.cuda.evidence)
                bad.setdefault(ev, []).append(view.platform)
        for ev, platforms in bad.items():
            found.setdefault((env.project, tuple(platforms), ev), []).append(env.label)
    out = []
    for (project, platforms, ev), labels in _grouped(found):
        out.append(
            Violation(
                "one-cuda",
                "uv.lock",
                f"{_env_names(labels)} ({_by_platform(platforms)}) mixes CUDA builds of different majors: {ev}",
                "pin the CUDA-linked packages of this environment to builds of one CUDA major "
                f"(`lockgen bump torch --member {project}` re-resolves the torch family together)",
                None,
                labels[0],
            )
        )
    return out


def rule_cuda_window(ws: Workspace) -> list[Violation]:
    """(c) Each environment's CUDA lies inside the fleet's window on every platform; otherwise name the driver or
    GPU that excludes it."""
    window = ws.window
    found: dict[tuple[Any, ...], list[str]] = {}
    for env in ws.environments:
        per: dict[tuple[str, str, str], list[str]] = {}
        for view in env.platforms:
            mc = view.cuda
            problems: list[str] = []
            for v in mc.versions:
                why = window.why_excluded(v)
                if why:
                    problems.append(why)
            full_majors = {v.major for v in mc.versions}
            for major in set(mc.majors) - full_majors:
                if not any(v.major == major for v in window.allowed):
                    problems.append(f"CUDA {major}.x is outside the window {window}")
            if problems:
                cudas = ", ".join(map(str, mc.versions)) or "/".join(f"{m}.x" for m in mc.majors)
                per.setdefault((cudas, mc.torch or "", "; ".join(problems)), []).append(view.platform)
        for (cudas, torch, reasons), platforms in per.items():
            found.setdefault((env.project, tuple(platforms), cudas, torch, reasons), []).append(env.label)
    out = []
    for (_, platforms, cudas, torch, problems), labels in _grouped(found):
        newest = window.newest
        target = f"CUDA <= {newest}" if newest else "a CUDA the fleet supports"
        gpu_named = any(e.reason == "gpu" for e in window.excluded if str(e.cuda) in cudas.split(", "))
        fleet_fix = "raise `driver`" + (", or drop the GPU named above from `gpus`" if gpu_named else "")
        out.append(
            Violation(
                "cuda-window",
                "uv.lock",
                f"{_env_names(labels)} ({_by_platform(platforms)}) locked to CUDA {cudas}"
                + (f" (torch {torch})" if torch else "")
                + f", outside the fleet's window {window}: {problems}",
                f"re-lock inside the window with `lockgen lock` ({target}), or change the fleet in "
                f"pyproject.toml [tool.lockgen] ({fleet_fix})",
                "torch" if torch else None,
                labels[0],
            )
        )
    return out


_GIT_COMMIT = re.compile(r"#[0-9a-f]{40}$")


def _allowed_indexes(ws: Workspace) -> set[str]:
    allowed = {u.rstrip("/") for u in ws.indexes}
    extra = ws.lockgen_config.get("allowed-indexes", [])
    if isinstance(extra, list):
        allowed |= {str(u).rstrip("/") for u in extra}
    return allowed


def rule_sources(ws: Workspace) -> list[Violation]:
    """(d) Every locked artifact is reproducible: registry artifacts come from PyPI, a declared index or
    `[tool.lockgen] allowed-indexes`; git sources are locked to a commit; registry and URL artifacts carry a hash.
    Local path, editable, directory and workspace sources are accepted."""
    out: list[Violation] = []
    allowed = _allowed_indexes(ws)
    for pkg in ws.lock.packages:
        kind = pkg.source.kind
        if kind == "registry" and pkg.source.value.rstrip("/") not in allowed:
            out.append(
                Violation(
                    "index",
                    "uv.lock",
                    f"{pkg.name} {pkg.version} comes from {redact(pkg.source.value)}, which no pyproject declares",
                    "declare that index in [[tool.uv.index]] (explicit = true, routed with [tool.uv.sources]), "
                    "list it in [tool.lockgen] allowed-indexes, or re-lock against PyPI with `uv lock`",
                    pkg.name,
                )
            )
        if kind == "git" and not _GIT_COMMIT.search(pkg.source.value):
            out.append(
                Violation(
                    "source",
                    "uv.lock",
                    f"{pkg.name} {pkg.version} comes from git ({redact(pkg.source.value)}) without a locked commit",
                    "re-lock with `uv lock` (uv records the commit), or pin `rev` to a commit in [tool.uv.sources]",
                    pkg.name,
                )
            )
        if kind not in ("registry", "url"):
            continue
        missing = [a.location for a in (*pkg.wheels, *([pkg.sdist] if pkg.sdist else [])) if not a.hash]
        if missing:
            out.append(
                Violation(
                    "hash",
                    "uv.lock",
                    f"{pkg.name} {pkg.version}: {len(missing)} artifact(s) without a hash, e.g. {redact(missing[0])}",
                    "re-lock with `uv lock` from an index that serves hashes",
                    pkg.name,
                )
            )
    return out


rule_hashes_and_indexes = rule_sources  # the name earlier versions used
