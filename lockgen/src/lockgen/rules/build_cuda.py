"""Rule build-cuda: compiled packages (tables/data/builds.toml) are built for torch's CUDA major and for a CUDA the
fleet's driver runs."""

from __future__ import annotations

from lockgen.model.workspace import Workspace
from lockgen.plan.steering import mismatches, outside_driver
from lockgen.rules import Violation
from lockgen.seams.elfscan import lookup_build
from lockgen.tables.versions import CudaVersion


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
            if row is not None and outside_driver(row, window, ws):
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
