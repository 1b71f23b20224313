"""Builds whose CUDA the metadata hides (tables/data/builds.toml, read by seams.elfscan): flag them, and steer uv.

- before resolving (`pre_exclude`): versions built with a CUDA the fleet's driver cannot run are excluded
  with a range constraint (`vllm<0.12.0` on a 570 fleet: vLLM 0.12-0.19 are CUDA 12.9 builds);
- after resolving (`steer`): a compiled package whose build CUDA major differs from its member's torch
  (xformers 0.0.35 links libcudart.so.12; torch >= 2.11 from PyPI is CUDA 13) is excluded with `!=` and
  uv runs again (lockgen.ops.resolve bounds the rounds);
- the check (`rule_build_cuda`) flags both in a committed lock.
"""

from __future__ import annotations

import re

from lockgen.model.cudadetect import member_cuda_from
from lockgen.model.window import Window
from lockgen.model.workspace import Workspace
from lockgen.rules import Violation
from lockgen.seams.elfscan import BuildRow, load_build_table, lookup_build
from lockgen.tables.versions import CudaVersion


def _bound(spec: str, ops: tuple[str, ...]) -> str | None:
    for part in spec.split(","):
        m = re.match(r"\s*(==|>=|<=|>|<)\s*([^\s,]+)", part)
        if m and m.group(1) in ops:
            return m.group(2)
    return None


def _driver_runs(cuda: str, window: Window, ws: Workspace) -> bool:
    try:
        v = CudaVersion.parse(cuda)
    except ValueError:
        return True
    need = ws.knowledge.required_driver(v, ws.fleet.policy)
    if need is None:  # a CUDA the tables do not know (12.7 never shipped): judge by its neighbours' major floor
        need = ws.knowledge.family_floor(v.major) if ws.fleet.policy == "minor" else None
    return need is None or ws.fleet.driver.satisfies(need)


def _outside(row: BuildRow, window: Window, ws: Workspace) -> bool:
    return (
        bool(row.cuda)
        and not row.local
        and not row.bundled
        and not row.follows_torch
        and not _driver_runs(row.cuda or "", window, ws)
    )


def pre_constraints(ws: Workspace) -> list[tuple[str, str]]:
    """(constraint, reason) for builds the fleet's driver cannot run, as ranges uv understands.

    When every such build of a package is newer than every runnable one, `pkg<first excluded`; when older,
    `pkg>last excluded`. A band in the middle is left to `steer` (PEP 440 has no "or")."""
    window = ws.window
    out: list[tuple[str, str]] = []
    by_pkg: dict[str, list[BuildRow]] = {}
    for row in load_build_table():
        if row.local:
            continue
        by_pkg.setdefault(row.package, []).append(row)
    for pkg, rows in sorted(by_pkg.items()):
        bad = [r for r in rows if _outside(r, window, ws)]
        good = [r for r in rows if r not in bad]
        if not bad:
            continue
        from packaging.version import Version

        def lo(r: BuildRow) -> Version:
            return Version(_bound(r.versions, (">=", "==", ">")) or "0")

        def hi(r: BuildRow) -> Version:
            return Version(_bound(r.versions, ("<=", "==", "<")) or "999999")

        first_bad, last_bad = min(lo(r) for r in bad), max(hi(r) for r in bad)
        cudas = sorted({r.cuda for r in bad if r.cuda})
        reason = (
            f"built with CUDA {', '.join(cudas)}, which driver {ws.fleet.driver} cannot run (policy {ws.fleet.policy})"
        )
        if not good or all(hi(g) < first_bad for g in good):
            out.append((f"{pkg}<{first_bad}", reason))
        elif all(lo(g) > last_bad for g in good):
            out.append((f"{pkg}>{last_bad}", reason))
    return out


def pre_exclude(ws: Workspace) -> list[tuple[str, str, str]]:
    """The pre-resolution exclusions as (package, constraint, reason) for lockgen.ops.resolve."""
    return [(c.split("<")[0].split(">")[0], c, r) for c, r in pre_constraints(ws)]


def mismatches(ws: Workspace) -> list[tuple[str, str, str, str]]:
    """(member, package, version, reason) for each installed build whose CUDA disagrees with the member's torch:
    a different major (the library cannot load: another libcudart SONAME), or no build for torch's major."""
    out = []
    for member in ws.members:
        if not ws.lock.by_name(member):
            continue
        installed = ws.installed(member)
        mc = member_cuda_from(member, installed)
        torch_cuda = mc.cuda
        if torch_cuda is None or "torch" not in installed:
            continue
        for name, pkg in sorted(installed.items()):
            if not pkg.version:
                continue
            row = lookup_build(name, pkg.version)
            if row is None:
                continue
            built = row.cuda_for_torch(str(torch_cuda))
            if built is None:
                out.append((member, name, pkg.version, f"has no build for CUDA {torch_cuda.major} (torch {mc.torch})"))
            elif CudaVersion.parse(built).major != torch_cuda.major:
                links = f", links {row.links}" if row.links else ""
                out.append(
                    (
                        member,
                        name,
                        pkg.version,
                        f"is a CUDA {built} build{links}; torch {mc.torch} is CUDA {torch_cuda}",
                    )
                )
    return out


def steer(ws: Workspace) -> list[tuple[str, str, str]]:
    """Builds to exclude after a resolution: (package, version, reason)."""
    return sorted({(p, v, f"{m}: {r}") for m, p, v, r in mismatches(ws)})


def rule_build_cuda(ws: Workspace) -> list[Violation]:
    """(item 7) Compiled packages whose build CUDA disagrees with torch, or that the fleet's driver cannot run."""
    out = []
    for member, name, version, reason in mismatches(ws):
        out.append(
            Violation(
                "build-cuda",
                "uv.lock",
                f"{name} {version} {reason}: it imports, then fails to load its CUDA library",
                f"run `lockgen lock` (it steers uv away from such builds) or pin {name} to a build for torch's CUDA",
                name,
                member,
            )
        )
    window = ws.window
    for member in ws.members:
        if not ws.lock.by_name(member):
            continue
        for name, pkg in sorted(ws.installed(member).items()):
            row = lookup_build(name, pkg.version) if pkg.version else None
            if row is not None and _outside(row, window, ws):
                need = ws.knowledge.required_driver(CudaVersion.parse(row.cuda or "0.0"), ws.fleet.policy)
                out.append(
                    Violation(
                        "build-cuda",
                        "uv.lock",
                        f"{name} {pkg.version} is built with CUDA {row.cuda}, which needs driver >= {need}; "
                        f"the fleet has {ws.fleet.driver}",
                        "run `lockgen lock` to move to a build the fleet runs, or raise the fleet's driver",
                        name,
                        member,
                    )
                )
    return out
