"""Builds whose CUDA the metadata hides (tables/data/builds.toml, read by seams.elfscan): flag them, and steer uv.

- before resolving (`pre_exclude`): versions built with a CUDA the fleet's driver cannot run are excluded
  with a range constraint (`vllm<0.12.0` on a 570 fleet: vLLM 0.12-0.19 are CUDA 12.9 builds);
- after resolving (`steer`): a compiled package whose build CUDA major differs from its member's torch
  (xformers 0.0.35 links libcudart.so.12; torch >= 2.11 from PyPI is CUDA 13) is excluded with `!=` and
  uv runs again (lockgen.ops.resolve bounds the rounds);
- the check (lockgen.rules.build_cuda) flags both in a committed lock.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from lockgen.model.cudadetect import member_cuda_from
from lockgen.model.window import Window
from lockgen.model.workspace import Workspace
from lockgen.plan.exclusions import Excluded, PreExclusion, merged
from lockgen.seams.elfscan import BuildRow, load_build_table, lookup_build
from lockgen.tables.versions import CudaVersion


def _bound(spec: str, ops: tuple[str, ...]) -> str | None:
    for part in spec.split(","):
        m = re.match(r"\s*(==|>=|<=|>|<)\s*([^\s,]+)", part)
        if m and m.group(1) in ops:
            return m.group(2)
    return None


def _driver_runs(cuda: str, ws: Workspace) -> bool:
    """Whether the fleet's driver runs a build made with CUDA `cuda` (`Knowledge.driver_runs`); a CUDA lockgen
    cannot judge (no known minimum driver, or not a version) is not held against the build."""
    try:
        v = CudaVersion.parse(cuda)
    except ValueError:
        return True
    return ws.knowledge.driver_runs(ws.fleet.driver, v, ws.fleet.policy) is not False


def outside_driver(row: BuildRow, window: Window, ws: Workspace) -> bool:
    """Whether a build row names a CUDA the fleet's driver cannot run (never local, bundled or torch's own)."""
    return (
        bool(row.cuda)
        and not row.local
        and not row.bundled
        and not row.follows_torch
        and not _driver_runs(row.cuda or "", ws)
    )


def pre_exclude(ws: Workspace) -> list[PreExclusion]:
    """Constraints for builds the fleet's driver cannot run, as ranges uv understands (for lockgen.ops.resolve).

    When every such build of a package is newer than every runnable one, `pkg<first excluded`; when older,
    `pkg>last excluded`. A band in the middle is left to `steer` (PEP 440 has no "or")."""
    window = ws.window
    out: list[PreExclusion] = []
    by_pkg: dict[str, list[BuildRow]] = {}
    for row in load_build_table():
        if row.local:
            continue
        by_pkg.setdefault(row.package, []).append(row)
    for pkg, rows in sorted(by_pkg.items()):
        bad = [r for r in rows if outside_driver(r, window, ws)]
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
            out.append(PreExclusion(pkg, f"{pkg}<{first_bad}", reason))
        elif all(lo(g) > last_bad for g in good):
            out.append(PreExclusion(pkg, f"{pkg}>{last_bad}", reason))
    return out


class BuildMismatch(NamedTuple):
    """An installed build of `package` whose CUDA disagrees with `member`'s torch, and how (`reason`)."""

    member: str
    package: str
    version: str
    reason: str


def mismatches(ws: Workspace) -> list[BuildMismatch]:
    """Each installed build whose CUDA disagrees with the member's torch: a different major (the library cannot
    load: another libcudart SONAME), or no build for torch's major."""
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
                reason = f"has no build for CUDA {torch_cuda.major} (torch {mc.torch})"
                out.append(BuildMismatch(member, name, pkg.version, reason))
            elif CudaVersion.parse(built).major != torch_cuda.major:
                links = f", links {row.links}" if row.links else ""
                reason = f"is a CUDA {built} build{links}; torch {mc.torch} is CUDA {torch_cuda}"
                out.append(BuildMismatch(member, name, pkg.version, reason))
    return out


def steer(ws: Workspace) -> list[Excluded]:
    """Builds to exclude after a resolution, each with the member that needs it ("" when several do)."""
    return merged(Excluded(p, v, f"{m}: {r}", m) for m, p, v, r in mismatches(ws))
